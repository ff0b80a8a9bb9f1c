#!/usr/bin/env bash
# make install and make uninstall: dnnprov on PATH, and the Python package
# for /usr/bin/python3 that imports and records from outside the source tree
# with the library installed beside it; a DESTDIR stage holds the final
# paths; uninstall leaves no file behind.
. "$(dirname "$0")/lib.sh"
SRC=$PWD
SAN=
if [ "$BUILD" = build-asan ]; then SAN=1; fi
# The build under test; the outer make's job server is not ours to use.
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$SRC" SANITIZE=$SAN "$@"; }
# The files and links below a folder, relative to it.
files() { (cd "$1" && find . ! -type d | sort); }
site=$(/usr/bin/python3 -c 'import sys; print("lib/python%d.%d/dist-packages" % sys.version_info[:2])')

# --- a prefix of one's own ----------------------------------------------------------
expect_status "make install PREFIX=..." 0 mk install PREFIX="$T/prefix"
expect_eq "the command, libraries, header, pkg-config file" \
	"$(files "$T/prefix" | grep -v '/python' | paste -sd' ')" \
	"./bin/dnnprov ./include/dnnprov.h ./lib/libdnnprov.a ./lib/libdnnprov.so ./lib/libdnnprov.so.0 ./lib/libdnnprov.so.0.1.0 ./lib/libdnnprov_sqlite.so ./lib/pkgconfig/dnnprov.pc"
expect_eq "and the Python package, in the site folder Debian uses for a prefix" \
	"$(files "$T/prefix/$site" | grep -c '^./dnnprov/[a-z_]*\.py$')" "$(ls python/dnnprov/*.py | wc -l | awk '{ print $1 + 1 }')"
expect_grep "install says where PYTHONPATH must point" "add it to PYTHONPATH" "$T/out"

mkdir "$T/elsewhere"
cat >"$T/elsewhere/exp.yaml" <<'YAML'
dataflow: installed
hyperparameters:
  LEARNING_RATE: true
metrics: [loss]
YAML
cd "$T/elsewhere"
export PATH="$T/prefix/bin:$PATH" PYTHONPATH="$T/prefix/$site"
expect_eq "dnnprov is on PATH" "$(command -v dnnprov)" "$T/prefix/bin/dnnprov"
expect_status "the installed package records" 0 sh "$SRC/tools/pyrun.sh" --installed "$SRC/$BUILD/libdnnprov.so" -c '
import dnnprov
print(dnnprov.__file__)
print(dnnprov.library_path)
with dnnprov.Task("exp.yaml", {"LEARNING_RATE": 0.1}, task_id="from-the-package") as t:
    t.epoch(1, loss=0.5)
    t.epoch(2, loss=0.25)
import dnnprov.torch, dnnprov.keras
'
expect_eq "it is the installed package" "$(sed -n 1p "$T/out")" "$T/prefix/$site/dnnprov/__init__.py"
expect_eq "loading the library of its prefix" "$(sed -n 2p "$T/out")" "$T/prefix/lib/libdnnprov.so.0"
expect_status "dnnprov indexes it" 0 dnnprov index -c exp.yaml -q
expect_status "and finds it" 0 dnnprov runs -c exp.yaml --format csv
expect_eq "the run" "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	{ print $c["task"] "," $c["status"] "," $c["epochs"] }' "$T/out")" "from-the-package,FINISHED,2"
# The installed dnnprov serves its page from the binary alone: from another
# folder, without the source tree.
expect_status "the installed dnnprov serves the page and the API" 0 $PY - "$SRC/serve/web/js/main.mjs" <<'PY'
import subprocess, sys, urllib.request
sys.path.insert(0, sys.argv[1].rsplit("/serve/", 1)[0] + "/tests")
from serve_lib import Server
with Server("dnnprov", "-c", "exp.yaml") as s:
    page = urllib.request.urlopen(s.base + "/").read()
    app = urllib.request.urlopen(s.base + "/assets/js/main.mjs").read()
    runs = urllib.request.urlopen(s.base + "/api/runs?sort=task").read()
assert b"/assets/js/main.mjs" in page, page[:200]
assert app == open(sys.argv[1], "rb").read(), "main.mjs differs"
assert b"from-the-package" in runs, runs[:300]
PY
cd "$SRC"
expect_status "make uninstall PREFIX=..." 0 mk uninstall PREFIX="$T/prefix"
expect_eq "leaves no file" "$(files "$T/prefix")" ""

# --- a stage for a package: the final paths inside ------------------------------------
expect_status "make install DESTDIR=... PREFIX=/usr" 0 mk install DESTDIR="$T/stage" PREFIX=/usr
expect_eq "Debian's python3 folder for /usr" "$(ls "$T/stage/usr/lib/python3/dist-packages")" dnnprov
expect_grep "the package names the final library" "^LIBRARY = \"/usr/lib/libdnnprov.so.0\"$" \
	"$T/stage/usr/lib/python3/dist-packages/dnnprov/_install.py"
expect_grep "so does dnnprov.pc" "^prefix=/usr$" "$T/stage/usr/lib/pkgconfig/dnnprov.pc"
expect_eq "no path of the stage is written into any file" "$(grep -rl "$T/stage" "$T/stage" | wc -l)" 0
expect_status "make uninstall DESTDIR=... PREFIX=/usr" 0 mk uninstall DESTDIR="$T/stage" PREFIX=/usr
expect_eq "leaves no file" "$(files "$T/stage")" ""
finish
