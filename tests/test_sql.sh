#!/usr/bin/env bash
# SQL over the index: the randomized equivalence with plain SQLite tables
# loaded from `dnnprov cat` (tests/sql_check.py), the formats, standard
# input, the loadable extension in the sqlite3 shell and Python, the Python
# query API, every refusal of the authorizer, bad input, streaming, and
# snapshots while the indexer follows a writer (tests/sql_snapshot.py).
#   DNNPROV_SQL_SEEDS   how many random seeds (default 2)
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
LIB="$PWD/$BUILD/libdnnprov.so"
EXT="$PWD/$BUILD/libdnnprov_sqlite.so"
PYQ() { PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$LIB" "$@"; }
# An ASan build of the extension needs the runtime in the host process.
SHELL_ENV=""
if grep -q libasan.so "$EXT" 2>/dev/null; then
	SHELL_ENV="LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0"
fi

for df in df other; do
	query_config "$T/$df.yaml" "$df"
done
# Unicode names: a dataflow, a task, a hyperparameter, a metric, a text value.
cat >"$T/uni.yaml" <<YAML
dataflow: expérience-ü
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  taux_ß: numeric
metrics: [perte, précision]
YAML
"$TOOLS/gen_logs" "$T/df.yaml" 30 20 11
"$TOOLS/gen_logs" "$T/other.yaml" 8 15 12
PYQ -c "
import dnnprov, sys
with dnnprov.Task(sys.argv[1], {'OPTIMIZER_NAME': 'Adam→β', 'taux_ß': 0.5}, task_id='essai-é') as t:
    for e in range(1, 6):
        t.epoch(e, perte=1.0 / e, précision=float('nan') if e == 3 else e / 10)
" "$T/uni.yaml"
"$DNNPROV" index -c "$T/df.yaml" -q
S() { "$DNNPROV" sql --index-dir "$T/index" "$@"; }

for seed in $(seq 1 "${DNNPROV_SQL_SEEDS:-2}"); do
	expect_status "equivalence with plain SQLite, seed $seed" 0 \
		env PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$LIB" tests/sql_check.py "$DNNPROV" "$T/logs" "$T/index" "$seed"
	cat "$T/out" | head -12
done

# --- formats and standard input -----------------------------------------------------
expect_status "table" 0 S --dataflow df "select task, epoch, loss from epochs where task = 'task-0002' order by epoch limit 3"
expect_grep "table: the header" "^task  *epoch  *loss" "$T/out"
expect_eq "table: 3 rows" "$(grep -c "^task-0002 " "$T/out")" 3
expect_status "csv" 0 S --format csv "select task, status from tasks where dataflow = 'df' order by task limit 2"
expect_eq "csv: header and rows" "$(tr -d '\r' <"$T/out" | head -2 | tr '\n' ' ')" "task,status task-0000,FINISHED "
expect_status "json" 0 S --format json "select task, start, epochs from tasks where dataflow = 'df' and task = 'task-0001'"
expect_eq "json: the envelope; a TIMESTAMP column in ISO 8601; integers stay integers" \
	"$($PY -c "import json,sys; a = json.load(open(sys.argv[1])); r = a['rows'][0]; print(a['columns'], r['start'][4], r['start'][-1], type(r['epochs']).__name__)" "$T/out")" \
	"['task', 'start', 'epochs'] - Z int"
printf "select count(*) as n from tasks where dataflow = 'df';\nselect 1 +\n 1 as two;\n.tables\n.schema summaries\n" >"$T/stmts.sql"
expect_status "statements from standard input" 0 sh -c "'$DNNPROV' sql --index-dir '$T/index' --dataflow df --format csv <'$T/stmts.sql'"
expect_eq "each statement answers" "$(tr -d '\r' <"$T/out" | head -4 | tr '\n' ' ')" "n 30 two 2 "
expect_grep ".tables lists the tables" "^ds_itrainingmodel$" "$T/out"
expect_grep ".schema shows the columns" '^CREATE TABLE "summaries"("dataflow" TEXT, "metric" TEXT' "$T/out"
expect_status "unicode names" 0 S --format csv "select task, \"taux_ß\", \"OPTIMIZER_NAME\" from \"expérience-ü_hyperparameters\""
expect_eq "unicode: the row" "$(tr -d '\r' <"$T/out" | tail -1)" "essai-é,0.5,Adam→β"

# --- the extension in the sqlite3 shell; the Python API ------------------------------------
printf ".load %s\nselect count(*) from (select dnnprov_attach('%s', 'df'));\nselect count(*) from tasks where dataflow = 'df';\nselect max(val_accuracy) > 0 from ds_otrainingmodel;\n" \
	"${EXT%.so}" "$T/index" >"$T/shell.sql"
expect_status "sqlite3 shell: .load and dnnprov_attach" 0 sh -c "$SHELL_ENV sqlite3 <'$T/shell.sql'"
expect_eq "sqlite3 shell: the answers" "$(tr '\n' ' ' <"$T/out")" "1 30 1 "
expect_status "python: questions as DataFrames equal the CLI's JSON, typed by its kinds" 0 PYQ - "$DNNPROV" "$T/index" <<'PY'
import datetime, json, math, subprocess, sys
import pandas
import dnnprov
from dnnprov import query
dn, index = sys.argv[1], sys.argv[2]
def cli(*args):
    a = json.loads(subprocess.run([dn, *args, "--index-dir", index, "--format", "json"], check=True,
                                  capture_output=True, text=True).stdout)
    return a["columns"], a["kinds"], a["rows"]
def norm(v):
    """One spelling of a value from either side: times as the CLI writes them."""
    if v is None or v is pandas.NA or v is pandas.NaT:
        return None
    if isinstance(v, (pandas.Timestamp, datetime.datetime)):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    v = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else v
    return "nan" if isinstance(v, float) and math.isnan(v) else v
for name, args, kw in [("runs", ["df"], {}), ("compare", ["df", "--metric", "loss", "--agg", "min"], {"metric": "loss", "agg": "min"}),
                       ("effect", ["df", "--hyp", "BATCH_SIZE"], {"hyp": "BATCH_SIZE"}),
                       ("curve", ["df", "task-0003"], {"task": "task-0003"}), ("dataflows", [], {})]:
    cols, kinds, rows = cli(name, *args)
    frame = getattr(dnnprov, name)(index_dir=index, dataflow=None if name == "dataflows" else "df", **kw)
    assert isinstance(frame, pandas.DataFrame), name
    assert list(frame.columns) == cols, (name, list(frame.columns), cols)
    for c, k in zip(cols, kinds):
        # The kinds give the dtypes: times are datetimes, integers integers.
        if k["kind"] == "time":
            assert str(frame[c].dtype) == "datetime64[ns, UTC]", (name, c, frame[c].dtype)
        if k["kind"] == "integer":
            assert str(frame[c].dtype) == "Int64", (name, c, frame[c].dtype)
    got = [[norm(None if (isinstance(v, float) and math.isnan(v) and r[c] is None) else v) for c, v in zip(cols, row)]
           for row, r in zip(frame.itertuples(index=False), rows)]
    want = [[norm(r[c]) for c in cols] for r in rows]
    assert got == want, (name, got[:2], want[:2])
query._pandas = lambda: None  # without pandas: lists of dicts
assert dnnprov.curve(index_dir=index, dataflow="df", task="task-0003")[0]["epoch"] == 1
assert dnnprov.sql("select count(*) as n from tasks", index_dir=index) == [{"n": 39}]
assert dnnprov.sql("select count(*) as n from tasks where epochs > ?", [1000], index_dir=index) == [{"n": 0}]
con = dnnprov.connect(index_dir=index, dataflow="df")
frame = pandas.read_sql_query("select * from epochs where task = ? order by epoch", con, params=["task-0003"])
assert list(frame["epoch"]) == sorted(frame["epoch"]) and len(frame) > 0
print("python API ok")
PY
cat "$T/err" | tail -5

# --- read-only: every refusal of the authorizer ---------------------------------------------
refused() { # WHAT SQL
	expect_status "refused: $1" 1 S "$2"
	expect_grep "refused: $1: says why" "not authorized\|authorization denied\|may not be modified" "$T/err"
}
refused "ATTACH of a file" "attach '$T/x.db' as x"
refused "a table in main" "create table t(a)"
refused "a view in main" "create view v as select 1"
refused "a table in an attached memory database" "attach ':memory:' as m; create table m.t(a)"
refused "writing a dnnprov table" "insert into tasks(task) values ('x')"
refused "deleting from a dnnprov table" "delete from tasks"
refused "loading an extension" "select load_extension('$EXT')"
refused "changing a setting" "pragma writable_schema = on"
refused "VACUUM INTO a file" "vacuum into '$T/copy.db'"
expect_eq "nothing was written" "$(ls "$T"/x.db "$T"/copy.db 2>/dev/null | wc -l)" 0
expect_status "temp is writable" 0 S --format csv "create temp table t(a); insert into t values (7); select a from t"
expect_eq "temp: the row" "$(tr -d '\r' <"$T/out" | tail -1)" 7
expect_status "--timeout stops a statement" 1 S --timeout 0.5 "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
expect_grep "--timeout: says so" "ran past the --timeout" "$T/err"

# Functions: an allow-list.  fts3_tokenizer returns an address inside
# libsqlite3; load_extension loads code; sqlite_compileoption_get and the
# host's own functions are on no list; a virtual table of another module
# is not the index's.
denied_function() { # FUNCTION SQL
	expect_status "refused: the function $1" 1 S "$2"
	expect_grep "refused: $1: named, and why" "not authorized to use function: $1: the function $1 is not one dnnprov sql allows (docs/SQL.md lists them)" "$T/err"
}
denied_function fts3_tokenizer "select hex(fts3_tokenizer('simple'))"
denied_function load_extension "select load_extension('$EXT')"
denied_function sqlite_compileoption_get "select sqlite_compileoption_get(0)"
denied_function fts3_tokenizer "select 1 from tasks where exists (select fts3_tokenizer('simple'))"
expect_status "refused: a virtual table of another module" 1 S "create virtual table temp.f using fts5(x)"
expect_grep "refused: another module: named" "a virtual table of the module fts5" "$T/err"
expect_status "python: connect is read-only too, with the same list of functions" 0 PYQ -c "
import sqlite3, sys, dnnprov
con = dnnprov.connect(index_dir=sys.argv[1])
for s, why in [('attach \'x.db\' as x', 'not authorized'), ('create table t(a)', 'not authorized'),
               ('select hex(fts3_tokenizer(\'simple\'))', 'not authorized to use function: fts3_tokenizer'),
               ('select load_extension(\'x\')', 'not authorized to use function: load_extension'),
               ('select sqlite_compileoption_get(0)', 'not authorized to use function: sqlite_compileoption_get')]:
    try:
        con.execute(s)
        sys.exit('allowed: ' + s)
    except sqlite3.DatabaseError as e:
        assert why in str(e), str(e)
# A function the host program added after restricting is on no list either.
con.create_function('mine', 0, lambda: 1)
try:
    con.execute('select mine()')
    sys.exit('allowed: a function of the host')
except sqlite3.DatabaseError as e:
    assert 'not authorized to use function: mine' in str(e), str(e)
" "$T/index"
printf ".load %s\nselect count(*) from (select dnnprov_attach('%s', 'df'));\nselect dnnprov_restrict(0);\nselect length(readfile('/etc/hostname'));\n" \
	"${EXT%.so}" "$T/index" >"$T/shell2.sql"
expect_status "sqlite3 shell: restricted, the shell's readfile is refused" 1 sh -c "$SHELL_ENV sqlite3 -bail <'$T/shell2.sql'"
expect_grep "sqlite3 shell: readfile named" "not authorized to use function: readfile" "$T/err"
printf ".load %s\nselect count(*) from (select dnnprov_attach('%s'));\nselect dnnprov_restrict();\nselect dnnprov_attach('%s');\n" \
	"${EXT%.so}" "$T/index" "$T/index" >"$T/shell3.sql"
expect_status "sqlite3 shell: restricted, dnnprov_attach cannot attach another index" 1 sh -c "$SHELL_ENV sqlite3 -bail <'$T/shell3.sql'"
expect_grep "sqlite3 shell: dnnprov_attach refused" "not authorized to use function: dnnprov_attach" "$T/err"
# The SQL the docs and the README show, and every family of functions.
mkdir -p "$T/ex"
query_config "$T/ex/alexnet.yaml" alexnet
"$TOOLS/gen_logs" "$T/ex/alexnet.yaml" 36 10 7 >/dev/null
"$DNNPROV" index -c "$T/ex/alexnet.yaml" -q
expect_status "the docs' and README's SQL, and each family of functions, still answer" 0 \
	PYQ tests/sql_examples.py "$DNNPROV" "$T/ex/index"
tail -1 "$T/out"

# Bounded values: one value at most 16 MiB (DP_SQL_MAX_VALUE), refused
# before it is made; and the time limit counts while rows are rendered.
expect_status "a value past 16 MiB: refused" 1 S "select length(randomblob(16777217))"
expect_grep "a value past 16 MiB: says so" "string or blob too big" "$T/err"
expect_status "a value of 16 MiB: answered" 0 S --format csv "select length(randomblob(16777216)) as n"
expect_eq "a value of 16 MiB: its length" "$(tr -d '\r' <"$T/out" | tail -1)" 16777216
expect_status "--timeout counts the rendering of rows" 1 S --timeout 0.5 --format csv \
	"with recursive c(x) as (select 1 union all select x + 1 from c limit 60) select hex(randomblob(8000000)) from c"
expect_grep "--timeout while rendering: says so" "ran past the --timeout" "$T/err"

# A REAL column answers REAL, also for a value logged as an integer:
# val_loss / loss divides as numbers do.  INTEGER columns stay exact.
mkdir -p "$T/real"
runs_config "$T/real/real.yaml"
sed -i 's/^metrics:.*/metrics: [loss, accuracy]\nfree_metrics: true/' "$T/real/real.yaml"
"$DNNPROV" log -c "$T/real/real.yaml" --task r1 begin OPTIMIZER_NAME=sgd LEARNING_RATE=1 >/dev/null
"$DNNPROV" log -c "$T/real/real.yaml" --task r1 epoch 1 --elapsed 3 loss=2 val_loss=1 accuracy=1 >/dev/null
"$DNNPROV" log -c "$T/real/real.yaml" --task r1 test loss=4 accuracy=1 >/dev/null
"$DNNPROV" index -c "$T/real/real.yaml" -q
expect_status "REAL columns: the values" 0 "$DNNPROV" sql -c "$T/real/real.yaml" --format json \
	"select e.val_loss / e.loss as ratio, typeof(e.loss) as a, typeof(e.elapsed) as b,
	        (select typeof(value) from metrics where name = 'loss') as c,
	        (select typeof(value) from tests where metric = 'loss') as d, (select typeof(loss) from df_tests) as e,
	        (select typeof(min) || typeof(last) || typeof(first) || typeof(best) from summaries where metric = 'loss') as f,
	        typeof(e.epoch) as g, (select typeof(n) from summaries where metric = 'loss') as h,
	        (select typeof(attempts) from tasks) as i
	 from epochs e"
expect_eq "REAL columns: 1/2 is 0.5; REAL where declared REAL; INTEGER where INTEGER" \
	"$($PY -c "import json,sys; r = json.load(open(sys.argv[1]))['rows'][0]; print(*r.values())" "$T/out")" \
	"0.5 real real real real real realrealrealreal integer integer integer"
expect_status "REAL columns: in Python too" 0 PYQ -c "
import sys, dnnprov
con = dnnprov.connect(config=sys.argv[1])
got = con.execute('select val_loss / loss, loss from epochs').fetchone()
assert got == (0.5, 2.0) and isinstance(got[1], float), got
" "$T/real/real.yaml"

# A dataflow too wide for SQLite's 2,000 columns: its wide tables are not
# made and a note says so; its long tables and every other dataflow work.
mkdir -p "$T/wide"
cat >"$T/wide/wide.yaml" <<YAML
dataflow: wide
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
metrics: [loss]
free_metrics: true
YAML
sed -e 's/^dataflow: wide/dataflow: narrow/' "$T/wide/wide.yaml" >"$T/wide/narrow.yaml"
"$DNNPROV" log -c "$T/wide/wide.yaml" --task w1 begin OPTIMIZER_NAME=sgd >/dev/null
"$DNNPROV" log -c "$T/wide/wide.yaml" --task w1 epoch 1 $(seq 0 2099 | sed 's/.*/m&=1/') >/dev/null
"$DNNPROV" log -c "$T/wide/narrow.yaml" --task n1 begin OPTIMIZER_NAME=adam >/dev/null
"$DNNPROV" log -c "$T/wide/narrow.yaml" --task n1 epoch 1 loss=0.5 >/dev/null
"$DNNPROV" index -c "$T/wide/wide.yaml" -q
W() { "$DNNPROV" sql --index-dir "$T/wide/index" "$@"; }
expect_status "a wide dataflow: the other dataflow's tables" 0 W --dataflow narrow --format csv "select loss from narrow_epochs"
expect_eq "a wide dataflow: the other's row" "$(tr -d '\r' <"$T/out" | tail -1)" 0.5
expect_grep "a wide dataflow: a note on stderr" "note: dataflow wide: no table wide_epochs: its 2106 columns pass SQLite's limit of 2000; its epochs are in the tables metrics and summaries" "$T/err"
expect_grep "a wide dataflow: a note for its tests table" "note: dataflow wide: no table wide_tests" "$T/err"
expect_status "a wide dataflow: its long tables" 0 W --format csv "select count(*) from metrics where dataflow = 'wide' and task = 'w1'"
expect_eq "a wide dataflow: every value" "$(tr -d '\r' <"$T/out" | tail -1)" 2100
expect_status "a wide dataflow as the default: its views go, the rest stays" 0 W --dataflow wide --format csv \
	"select count(*) from summaries where dataflow = 'wide'"
expect_grep "a wide dataflow as the default: no epochs view" "note: dataflow wide: no view epochs: it reads the table wide_epochs" "$T/err"
expect_grep "a wide dataflow as the default: no ds_otrainingmodel" "note: dataflow wide: no view ds_otrainingmodel: it reads the table wide_epochs" "$T/err"
expect_status "a wide dataflow: the server answers, with the notes" 0 env PYTHONPATH=tests $PY -c "
import json, sys, urllib.parse
from serve_lib import Server
with Server(sys.argv[1], '--index-dir', sys.argv[2]) as s:
    st, a = s.json('/api/sql?' + urllib.parse.urlencode({'q': 'select loss from narrow_epochs', 'df': 'narrow'}))
    assert st == 200 and a['rows'] == [{'loss': 0.5}], a
    assert any(n.startswith('dataflow wide: no table wide_epochs: its 2106 columns') for n in a['notes']), a
" "$DNNPROV" "$T/wide/index"
expect_status "a wide dataflow: no table is made of it" 1 W "select * from wide_epochs"
expect_grep "a wide dataflow: no such table" "no such table: wide_epochs" "$T/err"

# Wide records cost linear work: instructions (not time) counted by
# cachegrind for one epoch of N names written and indexed, N = 1000 and
# 8000.  Comparing every pair of names made the ratio about 60.
if ldd "$DNNPROV" | grep -q libasan; then
	echo "test_sql.sh: the instruction counts need the plain build (valgrind does not run beside ASan)"
else
	instructions() { # N: instructions to write and index one epoch of N metric names
		local d="$T/scale$1"
		mkdir -p "$d"
		sed -e 's/^dataflow: wide/dataflow: scale/' "$T/wide/wide.yaml" >"$d/s.yaml"
		"$DNNPROV" log -c "$d/s.yaml" --task s begin OPTIMIZER_NAME=sgd >/dev/null
		local total=0 n
		for cmd in "log -c $d/s.yaml --task s epoch 1 $(seq 0 $(($1 - 1)) | sed 's/.*/m&=1/' | tr '\n' ' ')" \
			"index -c $d/s.yaml -q"; do
			# shellcheck disable=SC2086
			n=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$DNNPROV" $cmd 2>&1 >/dev/null |
				sed -n 's/.*I *refs: *//p' | tr -d ,)
			total=$((total + n))
		done
		echo "$total"
	}
	small=$(instructions 1000)
	large=$(instructions 8000)
	expect_eq "8x the metric names in an epoch: at most 16x the instructions ($small, then $large)" \
		"$([ "$large" -lt $((small * 16)) ] && echo linear)" linear
fi

# Names from the logs that hold SQL, or quotes: nothing but the attach's
# own statements runs, in the CLI, Python and the server.
mkdir -p "$T/hostile"
expect_status "hostile names" 0 PYQ tests/sql_hostile.py "$DNNPROV" "$T/hostile"
tail -1 "$T/out"

# --- bad input ------------------------------------------------------------------------------
expect_status "syntax error" 1 S "select * form tasks"
expect_grep "syntax error: SQLite's message" 'near "form": syntax error' "$T/err"
expect_grep "syntax error: the statement" "^  select \* form tasks" "$T/err"
expect_grep "syntax error: a caret under the place" "^           ^" "$T/err"
expect_status "unknown table" 1 S "select * from nope"
expect_grep "unknown table: named" "no such table: nope" "$T/err"
expect_grep "unknown table: the tables listed" "^tables: adaptations, .*, tasks, tests" "$T/err"
expect_status "no index: the other commands' message" 1 "$DNNPROV" sql --index-dir "$T/none" "select 1"
cp "$T/err" "$T/sql.err"
expect_status "no index: runs" 1 "$DNNPROV" runs df --index-dir "$T/none"
expect_eq "no index: the same reason" "$(sed 's/^dnnprov: sql: //' "$T/sql.err")" "$(sed 's/^dnnprov: runs: //' "$T/err")"
expect_status "unknown default dataflow" 1 S --dataflow nope "select 1"
expect_grep "unknown dataflow: lists them" "no dataflow 'nope' in the index (dataflows: df, expérience-ü, other)" "$T/err"
expect_status "input stops at the first failure" 1 sh -c "printf 'select 1 as a;\nselect * from nope;\nselect 2 as b;\n' | '$DNNPROV' sql --index-dir '$T/index' --format csv"
expect_eq "input: the statement after the failure did not run" "$(grep -c '^b' "$T/out")" 0
expect_status "usage" 2 "$DNNPROV" sql --index-dir "$T/index" --format xml "select 1"

# A huge result streams: ten times the rows, about the same memory.
rss() { # ROWS: peak RSS in KiB of a csv answer of that many rows
	PYQ - "$DNNPROV" "$T/index" "$1" <<'PY'
import os, resource, subprocess, sys
# ASan's quarantine would keep freed rows: it is not what is measured.
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1")
q = ("with recursive c(x) as (select 1 union all select x + 1 from c limit %s) "
     "select e.*, c.x from c, df_epochs e" % sys.argv[3])
subprocess.run([sys.argv[1], "sql", "--index-dir", sys.argv[2], "--format", "csv", q], check=True,
               stdout=subprocess.DEVNULL, env=env)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
small=$(rss 20)
large=$(rss 400)
expect_eq "a csv answer of 20x the rows ($small KiB, then $large KiB) takes no more memory" \
	"$([ "$large" -lt $((small + small / 2 + 8192)) ] && echo flat)" flat

# --- snapshots while the indexer follows a writer ------------------------------------------
mkdir -p "$T/live"
cd "$T/live"
cp "$T/df.yaml" live.yaml
"$DNNPROV" index -c live.yaml -q --follow 2>follow.err &
fpid=$!
# A writer that goes on: a task of 200 epochs after another until told to stop.
(i=0; while [ ! -e stop ]; do i=$((i + 1)); "$TOOLS/writer_child" live.yaml "w$i" 200 >/dev/null; sleep 0.05; done) &
wpid=$!
cd - >/dev/null
for _ in $(seq 1 600); do
	"$DNNPROV" sql --index-dir "$T/live/index" "select 1 from df_epochs limit 1" 2>/dev/null | grep -q 1 && break
	sleep 0.1
done
expect_status "one snapshot per statement, one per transaction" 0 \
	env PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$LIB" tests/sql_snapshot.py "$T/live/index" "${DNNPROV_SQL_ROUNDS:-60}"
cat "$T/out"
touch "$T/live/stop"
wait "$wpid"
stop_follower "$fpid" "follower beside the SQL readers"
finish
