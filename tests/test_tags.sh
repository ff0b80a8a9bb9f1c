#!/usr/bin/env bash
# Tags and run facts (docs/RUNS.md): a run tagged while another process
# records it and after it ended, its status never changed; the latest value
# of a key winning whatever order the index reads the segments in; tags in
# runs, --where, describe, SQL and PROV, through follow mode and reindex.
# Run facts captured at begin from the shell and from Python, with the git
# commit of the repository and whether its tree was dirty, switched off by
# `facts: false`.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
export PYTHONPATH="$PWD/python"
# Python with the library under test (with the ASan runtime under SANITIZE=1).
ROOT=$PWD
PYRUN() { sh "$ROOT/tools/pyrun.sh" "$ROOT/$BUILD/libdnnprov.so" "$@"; }
cd "$T"
runs_config exp.yaml
L() { "$DNNPROV" log -c exp.yaml "$@"; }
TAG() { "$DNNPROV" tag -c exp.yaml "$@"; }
col() { $PY -c 'import csv, sys; print("\n".join(r[sys.argv[1]] for r in csv.DictReader(open(sys.argv[2]))))' "$1" "$T/out"; }
runs_where() { "$DNNPROV" runs -c exp.yaml --format csv --sort task --where "$1" 2>/dev/null | tail -n +2 | cut -d, -f1 | paste -sd' '; }

# --- tagging a run another process is recording ---------------------------------------
"$TOOLS/writer_child" exp.yaml live 3 hold >/dev/null &
wpid=$!
disown $wpid # killed below; bash would report "Killed" on stderr
deadline=$((SECONDS + 30))
until [ -n "$(ls logs/df/live 2>/dev/null | grep dnplog)" ] || [ $SECONDS -gt $deadline ]; do sleep 0.01; done
expect_status "a task another process records is tagged" 0 TAG live stage=candidate owner=ana
expect_status "a note" 0 TAG live --note "lr looks high"
expect_eq "the tags went to note segments of their own" "$(ls logs/df/live | grep -c '^note-.*\.dnplog$')" 2
kill -9 $wpid 2>/dev/null || true
wait $wpid 2>/dev/null || true
L --task done begin LEARNING_RATE=0.1 >/dev/null
L --task done epoch 1 loss=0.5
L --task done end
expect_status "a task that ended is tagged" 0 TAG done stage=baseline
expect_status "a key is removed" 0 TAG live --remove owner
"$DNNPROV" index -c exp.yaml -q
expect_status "runs" 0 "$DNNPROV" runs -c exp.yaml --format csv --sort task
expect_eq "the tags column" "$(col tags | paste -sd'|')" "stage=baseline|note=lr looks high, stage=candidate"
expect_eq "a tag never changes the status" "$(col status | paste -sd' ')" "FINISHED LOST"
expect_eq "--where on a tag" "$(runs_where "tags.stage = 'candidate'")" live
expect_eq "--where on a removed tag" "$(runs_where "tags.owner = 'ana'")" ""
expect_eq "--where like on a note" "$(runs_where "tags.note like '%high%' or tags.stage = 'baseline'")" "done live"
expect_status "tag TASK lists the tags" 0 TAG live
expect_eq "as key and value" "$(tail -n +2 "$T/out" | tr -s ' ' | paste -sd'|')" "note lr looks high|stage candidate"
expect_status "describe TASK" 0 "$DNNPROV" describe -c exp.yaml live --format csv
expect_grep "shows the tags" "^tag,stage,candidate" "$T/out"
expect_status "SQL: the tags table" 0 "$DNNPROV" sql -c exp.yaml --format csv \
	"select task, key, value from tags order by task, key"
expect_eq "one row per key with a value" "$(tail -n +2 "$T/out" | tr -d '\r' | paste -sd'|')" \
	"done,stage,baseline|live,note,lr looks high|live,stage,candidate"
expect_status "PROV" 0 "$DNNPROV" export -c exp.yaml --format prov-n
expect_grep "tags are attributes of the run" 'dfa:tag/stage="candidate"' "$T/out"

# --- the latest value wins, whatever the order of reading -----------------------------
TAG done stage=first
sleep 0.01
TAG done stage=second
"$DNNPROV" index -c exp.yaml -q
expect_eq "the later tag wins" "$(runs_where "tags.stage = 'second'")" done
# A note segment read before the task's first segment: kept, and the same
# index as a rebuild.
rm -rf logs2 && mkdir -p logs2/df held
cp -r logs/df/done logs2/df/done
mv logs2/df/done/0*.dnplog held/
"$DNNPROV" index --log-dir logs2 --index-dir idx2 -q 2>/dev/null || true
mv held/* logs2/df/done/
"$DNNPROV" index --log-dir logs2 --index-dir idx2 -q
"$DNNPROV" index --log-dir logs2 --index-dir ref2 -q
"$TOOLS/dump_index" idx2 | grep -v '^progress ' >a.txt
"$TOOLS/dump_index" ref2 | grep -v '^progress ' >b.txt
expect_status "tags read before the begin: the index equals a rebuild" 0 cmp -s a.txt b.txt
expect_grep "and has the latest" '^tags df done stage = .*"value":"second"' a.txt

# --- follow mode, then reindex --------------------------------------------------------
"$DNNPROV" index -c exp.yaml --follow --rescan-ms 200 -q &
fpid=$!
TAG done reviewed=yes
deadline=$((SECONDS + 30))
until [ "$(runs_where "tags.reviewed = 'yes'")" = done ] || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
expect_eq "the follower shows a new tag" "$(runs_where "tags.reviewed = 'yes'")" done
stop_follower $fpid "follower"
"$TOOLS/dump_index" index | grep -v '^progress ' >followed.txt
"$DNNPROV" reindex -c exp.yaml -q
"$TOOLS/dump_index" index | grep -v '^progress ' >rebuilt.txt
expect_status "reindex agrees with the follower" 0 diff followed.txt rebuilt.txt

# --- bad tags are refused when written ----------------------------------------------------
before=$(find logs -type f | sort | md5sum)
expect_status "an unknown task" 1 TAG nosuch a=b
expect_grep "is named" "dataflow 'df' has no task 'nosuch'" "$T/err"
expect_status "a key with a path separator" 1 TAG done "a/b=1"
expect_grep "is named" "tag 'a/b' has a path separator" "$T/err"
expect_status "not KEY=VALUE" 2 TAG done justakey=1 oops
expect_status "two keys equal but for case" 1 TAG done Stage=x stage=y
expect_status "writing needs -c" 2 "$DNNPROV" tag --index-dir index done a=b
expect_eq "nothing was written" "$(find logs -type f | sort | md5sum)" "$before"

# --- run facts ----------------------------------------------------------------------------
mkdir repo && git -C repo init -q && git -C repo -c user.email=t@t -c user.name=t commit -q --allow-empty -m one
commit=$(git -C repo rev-parse HEAD)
cat >repo/train.sh <<SH
#!/bin/sh
"$DNNPROV" log -c "$T/exp.yaml" --task shell begin LEARNING_RATE=0.2 >/dev/null
SH
(cd repo && sh train.sh --lr 0.2)
"$DNNPROV" index -c exp.yaml -q
expect_status "runs --facts" 0 "$DNNPROV" runs -c exp.yaml --facts --format csv --where "task = 'shell'"
expect_eq "the command is the script's" "$(col command)" "sh train.sh --lr 0.2"
expect_eq "the working folder" "$(col cwd)" "$T/repo"
expect_eq "the git commit" "$(col git_commit)" "$commit"
cat >repo/train.py <<'PY'
import sys, dnnprov
with dnnprov.Task(sys.argv[1], {"LEARNING_RATE": 0.3}, task_id=sys.argv[2], facts={"seed": 7}) as t:
    t.epoch(1, loss=0.4)
    t.tag(stage="py")
PY
echo dirty >repo/tracked && git -C repo add tracked && git -C repo -c user.email=t@t -c user.name=t commit -q -m two
echo changed >repo/tracked
(cd repo && PYRUN train.py "$T/exp.yaml" pyrun)
"$DNNPROV" index -c exp.yaml -q
expect_status "describe the Python run" 0 "$DNNPROV" describe -c exp.yaml pyrun --format csv
expect_grep "the Python version" "^fact,python,$($PY -c 'import platform; print(platform.python_version())')" "$T/out"
expect_grep "the caller's fact" "^fact,seed,7" "$T/out"
expect_grep "a dirty tree" "^fact,git_dirty,true" "$T/out"
expect_grep "the script's commit" "^fact,git_commit,$(git -C repo rev-parse HEAD)" "$T/out"
expect_grep "its tag" "^tag,stage,py" "$T/out"
expect_eq "--where on a fact" "$(runs_where "facts.seed = 7")" pyrun
expect_status "SQL: the facts table" 0 "$DNNPROV" sql -c exp.yaml --format csv \
	"select value from facts where task = 'pyrun' and name = 'git_dirty'"
expect_eq "one row per fact" "$(tail -n +2 "$T/out" | tr -d '\r')" true
expect_status "PROV" 0 "$DNNPROV" export -c exp.yaml --format prov-n
expect_grep "facts are attributes of the run" "dfa:fact/cwd=\"$T/repo\"" "$T/out"
# facts: false records none, from the shell or from Python.
sed 's/^metrics:/facts: false\nmetrics:/' exp.yaml >nofacts.yaml
"$DNNPROV" log -c nofacts.yaml --task quiet begin LEARNING_RATE=0.4 >/dev/null
(cd repo && PYRUN train.py "$T/nofacts.yaml" quietpy)
expect_eq "no facts in the begin records" \
	"$("$DNNPROV" cat logs/df/quiet logs/df/quietpy | grep '"kind":"begin"' | grep -c '"facts"')" 0
expect_status "config check says so" 0 "$DNNPROV" config check nofacts.yaml
expect_grep "in its summary" "run facts: not recorded (facts: false)" "$T/out"
finish
