#!/bin/sh
# Runs the system Python with libdnnprov: pyrun.sh LIBRARY [PYTHON ARGS...]
# A library built with SANITIZE=1 needs the ASan runtime loaded first, and
# libstdc++ with it: otherwise ASan cannot find the real __cxa_throw and
# aborts at the first C++ exception torch throws.
lib=$1
shift
export DNNPROV_LIB="$lib"
if grep -q libasan.so "$lib" 2>/dev/null; then
	export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
exec /usr/bin/python3 "$@"
