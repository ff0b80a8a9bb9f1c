#!/usr/bin/env bash
# Removing runs (docs/RUNS.md): delete moves a task's folder into the log
# folder's trash and the index drops it, at once when no indexer runs and
# within a rescan in follow mode; restore brings it back; a task another
# process records is refused; reindex agrees; the trash is no log; purge.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
cd "$T"
runs_config exp.yaml
L() { "$DNNPROV" log -c exp.yaml "$@"; }
record() { # TASK LR: a finished run of two epochs, tagged
	L --task "$1" begin LEARNING_RATE="$2" >/dev/null
	L --task "$1" epoch 1 loss=0.9 accuracy=0.5
	L --task "$1" epoch 2 loss=0.5 accuracy=0.7
	L --task "$1" end
	"$DNNPROV" tag -c exp.yaml "$1" stage=test
}
tasks() { "$DNNPROV" runs -c exp.yaml --format csv --sort task 2>/dev/null | tail -n +2 | cut -d, -f1 | paste -sd' '; }
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress ' || true; }
for t in keep junk typo; do record $t 0.1; done
"$DNNPROV" index -c exp.yaml -q
expect_eq "three runs" "$(tasks)" "junk keep typo"

# --- without an indexer running: the command brings the index up to date ----------
expect_status "delete two runs" 0 "$DNNPROV" delete -c exp.yaml junk typo
expect_grep "it says where they went" "deleted 2 tasks of dataflow df: moved to logs/.trash" "$T/out"
expect_eq "the index dropped them at once" "$(tasks)" keep
expect_eq "their folders are in the trash" "$(ls logs/.trash/*/df | paste -sd' ')" "junk typo"
expect_eq "and gone from the log folder" "$(ls logs/df | paste -sd' ')" keep
expect_status "SQL agrees" 0 "$DNNPROV" sql -c exp.yaml --format csv "select count(*) from epochs"
expect_eq "no epoch of theirs left" "$(tail -1 "$T/out" | tr -d '\r')" 2
expect_status "nor a tag" 0 "$DNNPROV" sql -c exp.yaml --format csv "select count(*) from tags"
expect_eq "one tag left" "$(tail -1 "$T/out" | tr -d '\r')" 1
dump index >live.txt
"$DNNPROV" index --log-dir logs --index-dir ref -q
dump ref >ref.txt
expect_status "the index equals a rebuild of the logs" 0 cmp -s live.txt ref.txt
expect_status "check skips the trash" 0 "$DNNPROV" check logs
expect_status "restore --list" 0 "$DNNPROV" restore -c exp.yaml --list
expect_grep "lists what the trash holds" "df .* junk$" "$T/out"
expect_status "restore one" 0 "$DNNPROV" restore -c exp.yaml junk
expect_eq "it is back" "$(tasks)" "junk keep"
expect_status "with its tag" 0 "$DNNPROV" describe -c exp.yaml junk --format csv
expect_grep "the tag too" "^tag,stage,test" "$T/out"
dump index >live.txt
rm -rf ref && "$DNNPROV" index --log-dir logs --index-dir ref -q && dump ref >ref.txt
expect_status "after the restore, equal to a rebuild" 0 cmp -s live.txt ref.txt
expect_status "and a consistent snapshot (ranks, starts, counts)" 0 $PY "${DNNPROV%/*/*}/tests/check_snapshot.py" live.txt

# --- refusals ----------------------------------------------------------------------------
expect_status "an unknown task" 1 "$DNNPROV" delete -c exp.yaml nosuch
expect_grep "is named" "no task 'nosuch'" "$T/err"
"$TOOLS/writer_child" exp.yaml live 2 hold >/dev/null &
wpid=$!
disown $wpid # killed below; bash would report "Killed" on stderr
deadline=$((SECONDS + 30))
until [ -n "$(ls logs/df/live 2>/dev/null | grep dnplog)" ] || [ $SECONDS -gt $deadline ]; do sleep 0.01; done
expect_status "a run another process records" 1 "$DNNPROV" delete -c exp.yaml live
expect_grep "is refused, naming the writer" "task 'live' of dataflow 'df' is being recorded by pid $wpid" "$T/err"
expect_eq "and stays" "$(ls logs/df | grep -c '^live$')" 1
kill -9 $wpid 2>/dev/null || true
record typo 0.5 # a new run takes the deleted id
expect_status "restoring over a new run of the id" 1 "$DNNPROV" restore -c exp.yaml typo
expect_grep "is refused" "has a task 'typo' in logs again" "$T/err"
expect_status "restore of what the trash lacks" 1 "$DNNPROV" restore -c exp.yaml keep
expect_status "usage: no task" 2 "$DNNPROV" delete -c exp.yaml
expect_status "usage: --list is restore's" 2 "$DNNPROV" delete -c exp.yaml --list

# --- follow mode ---------------------------------------------------------------------------
"$DNNPROV" index -c exp.yaml --follow --rescan-ms 200 -q 2>follow.err &
fpid=$!
deadline=$((SECONDS + 30))
until [ "$(tasks)" = "junk keep live typo" ] || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
expect_eq "the follower has every run" "$(tasks)" "junk keep live typo"
expect_status "delete while it follows" 0 "$DNNPROV" delete -c exp.yaml junk live
deadline=$((SECONDS + 30))
until [ "$(tasks)" = "keep typo" ] || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
expect_eq "the follower drops them" "$(tasks)" "keep typo"
expect_status "restore while it follows" 0 "$DNNPROV" restore -c exp.yaml live
deadline=$((SECONDS + 30))
until [ "$(tasks)" = "keep live typo" ] || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
expect_eq "the follower reads it again" "$(tasks)" "keep live typo"
expect_status "the last run of a dataflow" 0 "$DNNPROV" delete -c exp.yaml keep live typo
deadline=$((SECONDS + 30))
until [ -z "$(tasks)" ] || [ $SECONDS -gt $deadline ]; do sleep 0.05; done
stop_follower $fpid "follower"
expect_eq "the follower said nothing" "$(wc -c <follow.err)" 0
expect_status "dataflows" 0 "$DNNPROV" dataflows -c exp.yaml --format csv
expect_eq "the dataflow went with its last run" "$(tail -n +2 "$T/out" | wc -l)" 0
dump index >live.txt
"$DNNPROV" reindex -c exp.yaml -q
dump index >rebuilt.txt
expect_status "reindex agrees with the follower" 0 cmp -s live.txt rebuilt.txt

# --- purge ---------------------------------------------------------------------------------
expect_status "purge --older-than keeps what is recent" 0 "$DNNPROV" delete -c exp.yaml --purge --older-than 1
expect_grep "says so" "removed 0 deleted tasks" "$T/out"
expect_status "purge" 0 "$DNNPROV" delete -c exp.yaml --purge
expect_grep "counts what it removed" "removed 5 deleted tasks" "$T/out"
expect_eq "the trash is empty" "$(find logs/.trash -mindepth 1 | wc -l)" 0
expect_status "nothing to restore after a purge" 1 "$DNNPROV" restore -c exp.yaml keep
finish
