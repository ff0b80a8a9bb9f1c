#!/usr/bin/env bash
# make install and make uninstall: dnnprov on PATH, and the Python package
# for /usr/bin/python3 that imports and records from outside the source tree
# with the library installed beside it; a DESTDIR stage holds the final
# paths; uninstall leaves no file behind.  make wheel: a wheel that pip
# installs offline into a fresh venv (no system packages: every question
# answers as lists of dicts), into one with the system's torch and pandas
# (the torch example and pandas' read_sql_query), and into another CPython
# (>= 3.9, found under ~/.pyenv) with --user too, where there is one.
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

# --- the wheel --------------------------------------------------------------------------
expect_status "make wheel" 0 mk wheel
wheel=$(ls "$SRC/$BUILD"/dnnprov-*.whl)
expect_grep "a platform wheel for any Python 3" "dnnprov-0.1.0-py3-none-manylinux_2_[0-9]*_$(uname -m)\.whl$" <(echo "$wheel")
unzip -l "$wheel" >"$T/members"
expect_grep "carrying its library" " dnnprov/libdnnprov\.so\.0$" "$T/members"
expect_grep "and the SQLite extension" " dnnprov/libdnnprov_sqlite\.so$" "$T/members"
# A library built with SANITIZE=1 needs the ASan runtime in the interpreter.
asan=
grep -q libasan.so "$SRC/$BUILD/libdnnprov.so" 2>/dev/null && asan=1
vrun() {
	if [ -n "$asan" ]; then
		env -u PYTHONPATH -u DNNPROV_LIB LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
			ASAN_OPTIONS=detect_leaks=0 "$@"
	else
		env -u PYTHONPATH -u DNNPROV_LIB "$@"
	fi
}
# Records, indexes and asks every question from outside the source tree,
# with the dnnprov of the build (the package has no command).
mkdir "$T/w"
cp "$SRC/tests/wheel_check.py" "$T/w/"
export PATH="$SRC/$BUILD:$PATH"
cd "$T/w"
expect_status "a fresh venv of /usr/bin/python3" 0 /usr/bin/python3 -m venv "$T/venv"
expect_status "pip installs the wheel, offline" 0 vrun "$T/venv/bin/pip" install --no-index "$wheel"
expect_status "which records, indexes and answers every question without pandas" 0 \
	vrun "$T/venv/bin/python" wheel_check.py plain "$T/venv" "$wheel"
expect_eq "as lists of dicts" "$(tail -n 1 "$T/out")" "ok: every question, lists of dicts"

expect_status "a venv with the system's packages" 0 /usr/bin/python3 -m venv --system-site-packages "$T/venv-sys"
expect_status "pip installs the wheel there" 0 vrun "$T/venv-sys/bin/pip" install --no-index "$wheel"
cp "$SRC/examples/torch_digits.py" "$SRC/examples/digits.yaml" "$T/w/"
expect_status "the torch example runs with the wheel" 0 vrun "$T/venv-sys/bin/python" torch_digits.py --quick --config digits.yaml
expect_grep "and names its best run" "^best: task=" "$T/out"
expect_status "pandas gets typed frames and a connection" 0 \
	vrun "$T/venv-sys/bin/python" wheel_check.py pandas "$T/venv-sys" "$wheel"
expect_eq "the pandas answers" "$(tail -n 1 "$T/out")" "ok: frames typed, read_sql_query"

# Another CPython of this machine (CI has only Debian's): a venv, and
# --user into a user base of the test's own.
other=
for p in "$HOME"/.pyenv/versions/3.*/bin/python3; do
	[ -x "$p" ] && "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null || continue
	[ "$(readlink -f "$p")" = "$(readlink -f /usr/bin/python3)" ] && continue
	other=$p
	"$p" -c 'import sqlite3, sys; sys.exit(hasattr(sqlite3.Connection, "enable_load_extension"))' && break
done
if [ -n "$other" ]; then
	echo "test_install: another CPython: $other" >&2
	expect_status "a venv of $other" 0 "$other" -m venv "$T/venv-other"
	expect_status "pip installs the wheel there" 0 vrun "$T/venv-other/bin/pip" install --no-index "$wheel"
	mkdir "$T/w-other"
	cp wheel_check.py "$T/w-other/"
	cd "$T/w-other"
	expect_status "which answers every question" 0 vrun "$T/venv-other/bin/python" wheel_check.py plain "$T/venv-other" "$wheel"
	expect_eq "as lists of dicts" "$(tail -n 1 "$T/out")" "ok: every question, lists of dicts"
	expect_status "pip install --user" 0 vrun env PYTHONUSERBASE="$T/userbase" "$other" -m pip install --user --no-index "$wheel"
	expect_status "which imports from the user base" 0 vrun env PYTHONUSERBASE="$T/userbase" "$other" -c \
		'import dnnprov, sys; sys.exit(not dnnprov.__file__.startswith(sys.argv[1]))' "$T/userbase"
else
	echo "test_install: no other CPython >= 3.9 here: only Debian's was used" >&2
fi
cd "$SRC"
finish
