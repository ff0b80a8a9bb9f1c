#!/usr/bin/env bash
# One query surface: every command's --help, each front end taking exactly
# the parameters the registry gives it (tests/registry_check.py), the docs'
# tables made from the registry, and what a user sees the same everywhere:
# the only dataflow of an index when none is named, one name and type for
# a task's last activity, one time format, one rule of "behind" for
# answers and `index --status`, errors naming their parameter.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
PYQ() { PYTHONPATH="$PWD/python:$PWD/tests" sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" "$@"; }

query_config "$T/df.yaml" df
query_config "$T/other.yaml" other
"$TOOLS/gen_logs" "$T/df.yaml" 6 4 3 >/dev/null
"$DNNPROV" index -c "$T/df.yaml" -q
Q() { "$DNNPROV" "$@" --index-dir "$T/index"; }

# --- --help and -h: every command, usage on stdout, exit 0 ---------------------------------
commands=$("$DNNPROV" help | sed -n 's/^  \([a-z]*\) .*/\1/p')
expect_eq "help lists the commands and the questions" "$(echo "$commands" | grep -c -x -e runs -e sql -e serve -e watch)" 4
for cmd in $commands; do
	for h in --help -h; do
		expect_status "$cmd $h" 0 "$DNNPROV" $cmd $h
		expect_grep "$cmd $h: the usage on stdout" "^usage: dnnprov $cmd" "$T/out"
	done
	expect_status "help $cmd" 0 "$DNNPROV" help "$cmd"
	cp "$T/out" "$T/help.out"
	"$DNNPROV" $cmd --help >"$T/h.out"
	expect_eq "help $cmd and $cmd --help print the same" "$(cmp -s "$T/help.out" "$T/h.out" && echo same)" same
done

# --- each front end takes what the registry gives it --------------------------------------------
expect_status "every front end takes exactly the registry's parameters" 0 PYQ tests/registry_check.py "$DNNPROV" "$T/index"
tail -1 "$T/out"
grep FAIL "$T/out" | head -20 || true

# --- docs/QUERY.md's tables are the registry's ---------------------------------------------------
expect_status "docs/QUERY.md holds the registry's sections (make docs)" 0 $PY tools/query_docs.py "$DNNPROV" --check

# --- a question's usage says what the registry says ---------------------------------------------
expect_status "effect --bins out of range" 2 Q effect df --hyp LEARNING_RATE --bins 0
expect_eq "names the option, the value and the range" "$(head -n 1 "$T/err")" \
	"dnnprov: effect: --bins: '0' is out of range (1 to 1000)"
expect_grep "with the usage" "^usage: dnnprov effect " "$T/err"
expect_status "curve --metric: another question's option, not an abbreviation of --metrics" 2 Q curve df task-0001 --metric loss
expect_eq "says so" "$(head -n 1 "$T/err")" "dnnprov: curve: option --metric does not apply to curve"
expect_status "an abbreviation of its own option" 0 Q runs df --lim 2 --format csv
expect_eq "is that option" "$(wc -l <"$T/out")" 3

# --- the only dataflow, when none is named ------------------------------------------------------
expect_status "runs without DF: the only dataflow" 0 Q runs --format csv
expect_eq "its tasks" "$(tail -n +2 "$T/out" | wc -l)" 6
expect_status "curve TASK without DF" 0 Q curve task-0001 --format csv
expect_grep "its epochs" "^1," "$T/out"
expect_status "describe without DF" 0 Q describe --format csv
expect_status "export without DF" 0 Q export
expect_grep "the dataflow's document" '"df:' "$T/out"
expect_status "sql without --dataflow: the views of the only one" 0 Q sql "select count(*) as n from epochs"
"$TOOLS/gen_logs" "$T/other.yaml" 2 3 4 >/dev/null
"$DNNPROV" index -c "$T/other.yaml" -q
for cmd in "runs" "curve task-0001" "export"; do
	expect_status "$cmd without DF, two dataflows" 2 Q $cmd
	expect_grep "$cmd: the error lists them" "df, other" "$T/err"
done
expect_status "python: two dataflows and none named" 0 PYQ -c "
import sys, dnnprov
try:
    dnnprov.runs(index_dir=sys.argv[1])
    sys.exit('answered')
except dnnprov.Error as e:
    assert e.parameter == 'dataflow' and 'df, other' in str(e), (e.parameter, str(e))
" "$T/index"

# --- a task's last activity: one name, a time ---------------------------------------------------
for cmd in "runs df" "watch df --count 1" "dataflows"; do
	expect_status "$cmd --format json" 0 Q $cmd --format json
	expect_eq "$cmd: last_activity is a time" "$($PY -c "
import json, sys
a = json.load(open(sys.argv[1]))
k = dict(zip(a['columns'], a['kinds']))
print(k.get('last_activity'), all(r['last_activity'] is None or r['last_activity'].endswith('Z') for r in a['rows']))
" "$T/out")" "{'kind': 'time'} True"
done
expect_status "describe TASK" 0 Q describe df task-0001 --format csv
expect_grep "describe: its last_activity" "^run,last_activity,20" "$T/out"
expect_status "--where last_activity" 0 Q runs df --where "last_activity > '2000-01-01'" --format csv
expect_eq "every task" "$(tail -n +2 "$T/out" | wc -l)" 6
expect_status "sql: tasks.last_activity" 0 Q sql "select count(last_activity) from tasks where dataflow = 'df'" --format csv
expect_eq "the same" "$(tail -1 "$T/out" | tr -d '\r')" 6

# --- times: ISO 8601 UTC in machine formats, cat included ---------------------------------------
expect_status "cat" 0 "$DNNPROV" cat --kind begin "$T/logs/df"
expect_eq "cat: a time is ISO 8601" "$(head -n 1 "$T/out" | grep -c '"time":"20[0-9-]*T[0-9:]*\.[0-9]\{6\}Z"')" 1
expect_status "cat --seconds" 0 "$DNNPROV" cat --seconds --kind begin "$T/logs/df"
expect_eq "cat --seconds: as stored" "$(head -n 1 "$T/out" | grep -c '"time":[0-9]')" 1
expect_status "runs csv" 0 Q runs df --format csv --sort task
expect_eq "csv: start as cat has it" "$(sed -n 2p "$T/out" | cut -d, -f4)" \
	"$("$DNNPROV" cat --kind begin --task task-0000 "$T/logs/df" | head -n 1 | sed 's/.*"time":"\([^"]*\)".*/\1/')"

# --- a C program asks through the public API, as the CLI answers --------------------------------
mkdir "$T/c"
sed -e 's|^log_dir:.*|log_dir: logs|' -e 's|^index_dir:.*|index_dir: index|' examples/train.yaml >"$T/c/train.yaml"
"$BUILD/examples/train" "$T/c/train.yaml" >/dev/null
"$DNNPROV" index -c "$T/c/train.yaml" -q
expect_status "examples/ask: a question, SQL, a refusal" 0 "$BUILD/examples/ask" "$T/c/index"
cp "$T/out" "$T/ask.out"
expect_status "the CLI's compare" 0 "$DNNPROV" compare --index-dir "$T/c/index" --metric val_accuracy --agg last --limit 2 --format json
expect_eq "the C API's answer is the CLI's, bar the index member" "$(sed -n '/^{"columns"/,/^"total"/p' "$T/ask.out")" \
	"$(sed -n '/^{"columns"/,/^"total"/p' "$T/out")"
expect_grep "SQL with a bound parameter, as CSV" "^logreg-lr1-.*,1" "$T/ask.out"
expect_grep "a refusal names its parameter" "^effect with bins=0: bins: '0' is out of range (1 to 1000); about: bins$" "$T/ask.out"

# --- index --status and the answers: one rule of "behind" ----------------------------------------
# A writer killed in the middle of a frame leaves a torn tail that never
# grows: an index that has seen it waits for it, and both say 0 behind.
("$TOOLS/partial_writer" "$T/df.yaml" torn 6 1 >/dev/null 2>&1 || true) 2>/dev/null
"$DNNPROV" index -c "$T/df.yaml" -q 2>/dev/null || true
"$DNNPROV" index -c "$T/df.yaml" -q 2>/dev/null || true
expect_status "index --status" 0 "$DNNPROV" index -c "$T/df.yaml" --status
status_lag=$(tail -n 1 "$T/out" | sed -n 's/.*lag \([0-9]*\) bytes.*/\1/p')
expect_status "runs --format json" 0 "$DNNPROV" runs -c "$T/df.yaml" --format json
answer_lag=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['index']['behind_bytes'])" "$T/out")
expect_eq "index --status says what the answers say" "$status_lag" "$answer_lag"
expect_eq "a torn tail that never grows is not behind" "$status_lag" 0
finish
