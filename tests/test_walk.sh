#!/usr/bin/env bash
# What a log tree may hold besides folders and segments, and how every
# reader of it walks it (the rule is in logger/scan.h and docs/INDEX.md):
# below the log folder a segment is a regular file named *.dnplog found
# without following symbolic links; anything else named like one, and a
# link to a folder, is told once and never opened; a folder that cannot be
# listed is told, the rest is read, and a catch-up exits 1.  The catch-up,
# follow mode (inotify and rescans), reindex, cat and check agree.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/faultshim.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
# Commands that hung on such input before are bounded: a hang is a failure.
B() { timeout 20 "$@"; }
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }

indexer_config "$T/exp.yaml"
sed 's/^dataflow: df/dataflow: locked/' "$T/exp.yaml" >"$T/locked.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 3 6 1
"$TOOLS/gen_logs" "$T/locked.yaml" 2 6 2
L="$T/logs"
# unlisted DIR CMD...: runs CMD as if DIR (a folder under the logs) belonged
# to another user with umask 077 (root reads any folder, so opendir is made
# to fail: tests/shims/faultshim.c).
unlisted() {
	local dir=$1
	shift
	DP_FAULT_OPS=opendir DP_FAULT_PATH="$dir" DP_FAULT_ERRNO=EACCES LD_PRELOAD="$SHIM" "$@"
}

# --- one folder that cannot be listed ------------------------------------------------
expect_status "catch-up with a folder it cannot list" 1 unlisted logs/locked B "$DNNPROV" index --log-dir "$L" --index-dir "$T/a"
expect_grep "it names the folder" "^dnnprov: index: locked: a folder that cannot be listed: Permission denied" "$T/err"
expect_grep "and says the rest is indexed" "1 folder could not be listed (named above); everything else is indexed" "$T/err"
expect_eq "the other dataflow's tasks are indexed" "$(dump "$T/a" | grep -c '^tasks df ')" 3
expect_status "the next catch-up that can list it completes the index" 0 "$DNNPROV" index --log-dir "$L" --index-dir "$T/a" -q
"$DNNPROV" index --log-dir "$L" --index-dir "$T/ref" -q
dump "$T/ref" >"$T/ref.txt"
expect_status "equal to a clean rebuild" 0 cmp -s "$T/ref.txt" <(dump "$T/a")
expect_status "reindex with a folder it cannot list" 1 unlisted logs/locked B "$DNNPROV" reindex --log-dir "$L" --index-dir "$T/ref"
expect_grep "reindex keeps the index in use" "1 folder could not be listed: the index in use is kept" "$T/err"
expect_eq "CURRENT is unchanged" "$(readlink "$T/ref/CURRENT")" "gen-000001"
expect_status "cat of the tree" 1 unlisted logs/locked B "$DNNPROV" cat "$L"
expect_grep "cat names the folder" "^dnnprov: cat: $L/locked: a folder that cannot be listed" "$T/err"
expect_eq "cat prints the records of every other folder" "$(grep -c '"dataflow":"df"' "$T/out")" "$("$DNNPROV" cat "$L/df" | wc -l)"
expect_status "check of the tree" 1 unlisted logs/locked B "$DNNPROV" check -q "$L"
expect_grep "check names the folder" "^dnnprov: check: $L/locked: a folder that cannot be listed" "$T/err"

# --- what is named like a segment but is none ----------------------------------------
task=$L/df/task-0001
seg=$(ls "$L"/df/task-0002/*.dnplog | head -n 1)
mkfifo "$task/fifo.dnplog"
ln -s /dev/zero "$task/zero.dnplog"
ln -s /dev/urandom "$task/urandom.dnplog"
ln -s "$seg" "$task/link.dnplog"
ln -s ../task-0002 "$task/folder-link"
$PY -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$task/socket.dnplog"
expect_status "catch-up over them" 0 B "$DNNPROV" index --log-dir "$L" --index-dir "$T/b" -q
for what in "fifo.dnplog: a FIFO" "zero.dnplog: a symbolic link" "urandom.dnplog: a symbolic link" \
	"link.dnplog: a symbolic link" "folder-link: a symbolic link to a folder" "socket.dnplog: a socket"; do
	expect_eq "catch-up: ${what%%:*} is told once" "$(grep -c "^dnnprov: index: df/task-0001/$what" "$T/err")" 1
done
expect_status "nothing else is indexed" 0 cmp -s "$T/ref.txt" <(dump "$T/b")
expect_status "reindex over them" 0 B "$DNNPROV" reindex --log-dir "$L" --index-dir "$T/b" -q
expect_status "reindex agrees" 0 cmp -s "$T/ref.txt" <(dump "$T/b")
expect_status "cat of the folder" 1 B "$DNNPROV" cat "$task"
expect_eq "cat: each told once" "$(grep -c "^dnnprov: cat: $task/" "$T/err")" 6
expect_eq "cat: the task's records all printed" "$(wc -l <"$T/out")" \
	"$(find "$task" -maxdepth 1 -type f -name '*.dnplog' -exec "$DNNPROV" cat {} + | wc -l)"
expect_status "check of the folder" 1 B "$DNNPROV" check "$task"
expect_eq "check: each told once" "$(grep -c "^dnnprov: check: $task/" "$T/err")" 6
for p in "$task/fifo.dnplog" "$task/zero.dnplog" /dev/zero /dev/urandom "$task/socket.dnplog"; do
	expect_status "cat $p" 1 B "$DNNPROV" cat "$p"
	expect_grep "cat $p: says what it is" "is a \(FIFO\|character device\|socket\), not a segment file or a log folder" "$T/err"
	expect_status "check $p" 1 B "$DNNPROV" check "$p"
	expect_grep "check $p: says what it is" "is a \(FIFO\|character device\|socket\), not a segment file or a log folder" "$T/err"
done
expect_status "cat of a link to a segment, named on the command line" 0 B "$DNNPROV" cat "$task/link.dnplog"
expect_eq "it is followed there" "$(wc -l <"$T/out")" "$("$DNNPROV" cat "$seg" | wc -l)"

# --- a segment in the folder of another dataflow or task ---------------------------------
rm -rf "$T/copied"
cp -r "$L" "$T/copied"
mkdir -p "$T/copied/other/task-0001" "$T/copied/df/task-0009" "$T/copied/df/deep/er/task"
cp "$seg" "$T/copied/other/task-0001/"
cp "$seg" "$T/copied/df/task-0009/"
cp "$seg" "$T/copied/df/deep/er/task/"
cp "$seg" "$T/copied/"
expect_status "catch-up over copied segments" 0 B "$DNNPROV" index --log-dir "$T/copied" --index-dir "$T/d"
for where in other/task-0001 df/task-0009; do
	expect_grep "a copy in $where is a problem naming both" \
		"^dnnprov: index: $where/$(basename "$seg"): offset 0: its header names df/task-0002, not the folder it is in (skipped)" "$T/err"
done
for where in df/deep/er/task "$(basename "$seg")"; do
	expect_grep "a copy at $where is a problem" "^dnnprov: index: ${where%/*}.*: offset 0: not in a <dataflow>/<task> folder" "$T/err"
done
expect_eq "no dataflow 'other'" "$(dump "$T/d" | grep -c '^dataflows other' || true)" 0
expect_eq "no task-0009" "$(dump "$T/d" | grep -c '^tasks df task-0009' || true)" 0
expect_status "the rest is the index of the original tree" 0 cmp -s "$T/ref.txt" <(dump "$T/d" | grep -v '^problems ')

# --- the log folder itself is no folder ------------------------------------------------
: >"$T/file"
mkfifo "$T/fifo"
for p in "$T/file" "$T/fifo"; do
	expect_status "index --log-dir $(basename "$p")" 1 B "$DNNPROV" index --log-dir "$p" --index-dir "$T/c"
	expect_grep "it says what the log folder is" "the log folder $p is a \(regular file\|FIFO\), not a folder" "$T/err"
	expect_status "index --follow --log-dir $(basename "$p")" 1 B "$DNNPROV" index --follow --log-dir "$p" --index-dir "$T/c"
	expect_grep "follow mode too" "the log folder $p is a \(regular file\|FIFO\), not a folder" "$T/err"
done

# --- follow mode: the same entries appearing while it runs -----------------------------
# wait_for INDEX PATTERN: polls until a line of the index matches (at most
# 30 s: a bound on a test that would otherwise wait forever, not a speed).
wait_for() {
	local i
	for i in $(seq 1 600); do
		dump "$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.05
	done
	return 1
}
find "$L" \( -type l -o -type p -o -type s \) -delete
follow() {
	local label=$1
	shift
	rm -rf "$T/f"
	"$DNNPROV" index --log-dir "$L" --index-dir "$T/f" --follow -q --rescan-ms 200 2>"$T/follow.err" &
	fpid=$!
	started $fpid
	wait_for "$T/f" "^tasks df task-0002 " || fail "$label: the follower never caught up"
	new=$L/df/new-$label
	mkdir -p "$new"
	mkfifo "$new/fifo.dnplog"
	ln -s /dev/zero "$new/zero.dnplog"
	ln -s "$seg" "$new/link.dnplog"
	ln -s ../task-0002 "$new/folder-link"
	sleep 0.5 # a rescan or two over them
	"$DNNPROV" log -c "$T/exp.yaml" --task "new-$label" begin LEARNING_RATE=0.5 >/dev/null
	"$DNNPROV" log -c "$T/exp.yaml" --task "new-$label" epoch 1 loss=1 accuracy=2 >/dev/null
	wait_for "$T/f" "^epochs df new-$label " && ok || fail "$label: records written after them were never indexed"
	sleep 0.5
	stop_follower $fpid "$label"
	for what in "fifo.dnplog: a FIFO" "zero.dnplog: a symbolic link" "link.dnplog: a symbolic link" \
		"folder-link: a symbolic link to a folder"; do
		expect_eq "$label: ${what%%:*} is told once" "$(grep -c "^dnnprov: index: df/new-$label/$what" "$T/follow.err")" 1
	done
	rm -rf "$T/g"
	B "$DNNPROV" index --log-dir "$L" --index-dir "$T/g" -q 2>/dev/null
	expect_status "$label: the followed index equals a catch-up of the same tree" 0 cmp -s <(dump "$T/g") <(dump "$T/f")
	find "$new" \( -type l -o -type p \) -delete
}
follow inotify
DNNPROV_NO_INOTIFY=1 follow rescan

# A folder it cannot list while following: the rest goes on, it is told
# once, and indexed as soon as it can be listed.
rm -rf "$T/f"
touch "$T/locked-now"
DP_FAULT_OPS=opendir DP_FAULT_PATH=logs/locked DP_FAULT_ERRNO=EACCES DP_FAULT_WHILE="$T/locked-now" LD_PRELOAD="$SHIM" \
	"$DNNPROV" index --log-dir "$L" --index-dir "$T/f" --follow -q --rescan-ms 100 2>"$T/follow.err" &
fpid=$!
started $fpid
"$DNNPROV" log -c "$T/exp.yaml" --task late begin LEARNING_RATE=0.5 >/dev/null
wait_for "$T/f" "^tasks df late " && ok || fail "unlisted folder: the other dataflow was never indexed"
sleep 0.5 # a few rescans
expect_eq "unlisted folder: told once" "$(grep -c "^dnnprov: index: locked: a folder that cannot be listed" "$T/follow.err")" 1
expect_eq "unlisted folder: nothing of it indexed" "$(dump "$T/f" | grep -c '^tasks locked ' || true)" 0
rm "$T/locked-now"
wait_for "$T/f" "^tasks locked task-0001 " && ok || fail "unlisted folder: never indexed once it could be listed"
stop_follower $fpid "unlisted folder"
finish
