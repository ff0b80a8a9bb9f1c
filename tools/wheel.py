#!/usr/bin/env python3
"""Writes the wheel of the Python package (`make wheel`):

    wheel.py OUT_DIR VERSION PACKAGE_DIR LIBRARY...

A standard wheel (PEP 427) made with the standard library alone, so that
building it needs neither network nor `wheel`/`build`: the package's
modules, the libraries given (libdnnprov.so.0 and what it carries, see the
Makefile's wheel target) inside the package, and its .dist-info (METADATA,
WHEEL, top_level.txt, RECORD with each file's SHA-256).

The tag is py3-none-manylinux_2_X_<arch>: the modules run on any CPython
3.9 or later (ctypes, no extension module), and the libraries need the
glibc X they were linked against (the highest GLIBC_ symbol version they
use, which is what PEP 600's tag promises) and nothing else but libc, libm
and libpthread.  Files are stored in a fixed order with a fixed time
(SOURCE_DATE_EPOCH, or 1980-01-01), so that the same build gives the same
wheel.
"""

import base64
import hashlib
import os
import platform
import re
import subprocess
import sys
import time
import zipfile

SUMMARY = "Provenance of deep-learning training: record runs, ask which hyperparameter mattered"


def glibc_needed(paths):
    """The highest GLIBC_x.y version the libraries' dynamic symbols need."""
    best = (2, 17)
    for path in paths:
        out = subprocess.run(["objdump", "-T", path], check=True, capture_output=True, text=True).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", out):
            best = max(best, (int(major), int(minor)))
    return best


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(argv):
    if len(argv) < 5:
        sys.exit("usage: wheel.py OUT_DIR VERSION PACKAGE_DIR LIBRARY...")
    out_dir, version, package, libraries = argv[1], argv[2], argv[3], argv[4:]
    major, minor = glibc_needed(libraries)
    arch = platform.machine()
    tag = f"py3-none-manylinux_{major}_{minor}_{arch}"
    name = f"dnnprov-{version}"
    dist_info = f"{name}.dist-info"
    files = []
    for module in sorted(os.listdir(package)):
        # _install.py is `make install`'s; a wheel finds its library inside.
        if module.endswith(".py") and module != "_install.py":
            with open(os.path.join(package, module), "rb") as f:
                files.append((f"dnnprov/{module}", f.read(), 0o644))
    for library in libraries:
        with open(library, "rb") as f:
            files.append((f"dnnprov/{os.path.basename(library)}", f.read(), 0o755))
    readme = os.path.join(os.path.dirname(os.path.abspath(package)), "README.md")
    with open(readme, encoding="utf-8") as f:
        description = f.read()
    metadata = (f"Metadata-Version: 2.1\nName: dnnprov\nVersion: {version}\nSummary: {SUMMARY}\n"
                "Requires-Python: >=3.9\n"
                "Classifier: Programming Language :: Python :: 3\n"
                "Classifier: Programming Language :: C\n"
                "Classifier: Operating System :: POSIX :: Linux\n"
                "Description-Content-Type: text/markdown\n\n" + description)
    wheel = f"Wheel-Version: 1.0\nGenerator: dnnprov tools/wheel.py\nRoot-Is-Purelib: false\nTag: {tag}\n"
    files += [(f"{dist_info}/METADATA", metadata.encode(), 0o644),
              (f"{dist_info}/WHEEL", wheel.encode(), 0o644),
              (f"{dist_info}/top_level.txt", b"dnnprov\n", 0o644)]
    record = "\n".join([record_line(n, d) for n, d, _ in files] + [f"{dist_info}/RECORD,,", ""])
    files.append((f"{dist_info}/RECORD", record.encode(), 0o644))

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    when = max(epoch, 315532800)
    stamp = time.gmtime(when)[:6]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}-{tag}.whl")
    for old in os.listdir(out_dir):  # one wheel: `pip install build/dnnprov-*.whl` names it
        if old.startswith("dnnprov-") and old.endswith(".whl"):
            os.unlink(os.path.join(out_dir, old))
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for member, data, mode in files:
            info = zipfile.ZipInfo(member, stamp)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(path + ".tmp", path)
    print(path)


if __name__ == "__main__":
    main(sys.argv)
