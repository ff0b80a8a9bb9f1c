#!/bin/sh
# Runs the system Python with libdnnprov:
#   pyrun.sh [--installed] LIBRARY [PYTHON ARGS...]
# The binding loads LIBRARY (DNNPROV_LIB), or with --installed the library
# its installed package names, LIBRARY only saying which build that is.  A
# library built with SANITIZE=1 needs the ASan runtime loaded first, and
# libstdc++ with it: otherwise ASan cannot find the real __cxa_throw and
# aborts at the first C++ exception torch throws.
installed=
if [ "$1" = --installed ]; then
	installed=1
	shift
fi
lib=$1
shift
[ -n "$installed" ] || export DNNPROV_LIB="$lib"
if grep -q libasan.so "$lib" 2>/dev/null; then
	export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
exec /usr/bin/python3 "$@"
