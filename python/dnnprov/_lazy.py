"""A module attribute made on first use (PEP 562), so that importing an
integration's module never imports its framework."""


def lazy_class(namespace, name, define):
    """The __getattr__ of the module whose globals are `namespace`: `name`
    is define()'s result, made once, on first use."""
    def __getattr__(attr):
        if attr == name:
            namespace[attr] = define()
            return namespace[attr]
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {attr!r}")
    return __getattr__
