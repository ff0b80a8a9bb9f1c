"""The liveness rule of docs/RUNS.md, as the test models apply it to the
logs they read (an implementation independent of the indexer's)."""

import os


def owner_lives(owner):
    """docs/RUNS.md: a task recorded by a shell script runs while a process
    of the script's group lives; the C writers of these tests have all
    closed their handles, which makes their tasks LOST."""
    if not owner or not owner.get("group"):
        return False
    try:
        os.killpg(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
