#!/usr/bin/env bash
# Bit flips and random or zero-filled appends in a closed 100-record
# segment, and every byte truncation of it (tests/tools/corrupt_check.c).
#   DNNPROV_CORRUPTIONS   damage iterations (default 2000; `make stress` 10000)
. "$(dirname "$0")/../lib.sh"
expect_status "damaged segments: no wrong payload, every damage reported" 0 \
	"$PWD/$BUILD/tests/tools/corrupt_check" "$T" "${DNNPROV_CORRUPTIONS:-2000}" "$RANDOM"
cat "$T/out" "$T/err"
finish
