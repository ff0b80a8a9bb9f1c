#!/usr/bin/env bash
# The index on a filesystem that is really full: a tmpfs of a few hundred
# KiB, mounted in a private mount namespace (`unshare -rm`: root inside it,
# nothing outside it changes).  A disk that fills in the middle of a commit
# cuts LMDB's write short, which LMDB reports as EIO; dnnprov must say the
# disk is full.  Then the same filesystem is grown and the catch-up, and a
# follower that waited, complete the index to a clean rebuild.
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 40 80 2
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ref" -q
"$TOOLS/dump_index" "$T/ref" | grep -v '^progress ' >"$T/ref.txt"
mkdir "$T/ix" "$T/fx"
if ! unshare -rm true 2>"$T/unshare.err"; then
	fail "cannot make a private mount namespace for a small tmpfs (unshare -rm): $(cat "$T/unshare.err")"
	finish
	exit 1
fi
cat >"$T/inside.sh" <<SH
set -u
mount -t tmpfs -o size=300k tmpfs "$T/ix" && mount -t tmpfs -o size=300k tmpfs "$T/fx" || exit 9
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ix" -q 2>"$T/full.err"
echo \$? >"$T/full.status"
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/fx" -q --follow --rescan-ms 100 2>"$T/follow.err" &
fpid=\$!
for i in \$(seq 1 400); do grep -q "is full" "$T/follow.err" && break; sleep 0.05; done
mount -o remount,size=16m "$T/ix"
mount -o remount,size=16m "$T/fx"
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ix" -q
echo \$? >"$T/grown.status"
"$TOOLS/dump_index" "$T/ix" | grep -v '^progress ' >"$T/grown.txt"
for i in \$(seq 1 600); do
	"$TOOLS/dump_index" "$T/fx" 2>/dev/null | grep -v '^progress ' | cmp -s "$T/ref.txt" - && break
	sleep 0.05
done
kill -TERM \$fpid
(sleep 20 && kill -9 \$fpid) 2>/dev/null &
wait \$fpid
echo \$? >"$T/follow.status"
"$TOOLS/dump_index" "$T/fx" | grep -v '^progress ' >"$T/followed.txt"
SH
unshare -rm bash "$T/inside.sh"
expect_eq "catch-up on a full disk: exit 1" "$(cat "$T/full.status")" 1
expect_grep "it says the disk is full" "^dnnprov: index: .*committing: the disk holding the index is full: .* ([0-9]* KiB free in $T/ix/gen-000001)" "$T/full.err"
expect_eq "the disk grown, the next catch-up: exit 0" "$(cat "$T/grown.status")" 0
expect_status "it completes the index to a clean rebuild" 0 cmp -s "$T/ref.txt" "$T/grown.txt"
expect_grep "follow mode says the disk is full and waits" "the disk holding the index is full: .*; rolled back, retrying in" "$T/follow.err"
expect_eq "follow mode: SIGTERM exits 0" "$(cat "$T/follow.status")" 0
expect_status "follow mode: the index equals a clean rebuild" 0 cmp -s "$T/ref.txt" "$T/followed.txt"
finish
