#!/usr/bin/env bash
# `dnnprov receive --dfanalyzer`: the JSON bodies dfa-lib-python sends
# (tests/fixtures/dfanalyzer), posted by a plain HTTP client to a receiver
# on a loopback port of its own (tests/receive_check.py says what each
# scenario checks): Keras-Prov's SQL question and an index equal to a
# native recording, a new run per program run, hostile bodies, SIGKILL at
# random points, the lease, a restart, the token and the Host check.
. "$(dirname "$0")/lib.sh"

export PYTHONPATH="$PWD/python:$PWD/tests" DNNPROV_BIN="$DNNPROV"
make -s "$BUILD/tests/tools/dump_index" >/dev/null
expect_status "receive_check.py passes" 0 sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" tests/receive_check.py \
	"$DNNPROV" "$PWD/$BUILD/tests/tools/dump_index" "$T"
cat "$T/out" >&2
expect_grep "it checked" "^receive: [1-9][0-9]* checks, 0 failed" "$T/out"

finish
