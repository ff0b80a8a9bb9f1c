#!/usr/bin/env bash
# Queries killed in the middle of reading, many times, while the indexer
# follows a writer: LMDB's reader slots (1022) are never exhausted, since
# the slots of dead readers are reclaimed (mdb_reader_check, at every open
# and every rescan), and the index does not grow without bound (a stale
# reader would pin old pages and make every commit grow the file).
#   DNNPROV_QUERY_KILLS   queries killed (default 300; `make stress` 3000)
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
N=${DNNPROV_QUERY_KILLS:-300}
cat >"$T/r.yaml" <<YAML
dataflow: r
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
metrics: [loss, accuracy]
free_metrics: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
YAML
"$TOOLS/gen_logs" "$T/r.yaml" 200 30 1
"$DNNPROV" index -c "$T/r.yaml" -q
"$DNNPROV" index -c "$T/r.yaml" --follow --rescan-ms 200 -q &
fpid=$!
("$TOOLS/writer_child" "$T/r.yaml" live 100000 >/dev/null 2>&1 || true) &
wpid=$!
killed=0
for i in $(seq 1 "$N"); do
	"$DNNPROV" compare -c "$T/r.yaml" --metric loss --format json >/dev/null 2>&1 &
	q=$!
	sleep "0.00$((RANDOM % 8))"
	kill -9 $q 2>/dev/null || true
	st=0
	wait $q 2>/dev/null || st=$?
	[ "$st" = 137 ] && killed=$((killed + 1))
done
expect_status "a query still runs after $N killed ones" 0 "$DNNPROV" runs -c "$T/r.yaml" --format csv
expect_grep "and sees the live task" "^live," "$T/out"
readers=$(mdb_stat -r "$T/index/CURRENT" | awk '/^ *[0-9]+ +[0-9a-f]+ +[0-9-]+$/ { n++ } END { print n + 0 }')
kill $wpid 2>/dev/null || true
pkill -f "writer_child $T/r.yaml" 2>/dev/null || true
wait $wpid 2>/dev/null || true
kill -TERM $fpid
wait $fpid || true
size_after=$(stat -c %s "$T/index/CURRENT/data.mdb")
# The same logs indexed at once: what the index needs without pinned pages.
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/clean" -q
size_clean=$(stat -c %s "$T/clean/CURRENT/data.mdb")
[ "$readers" -lt 50 ] && ok || fail "$readers reader slots in use after the kills"
[ "$size_after" -le $((size_clean * 3)) ] && ok || fail "the followed index is $size_after bytes, a clean one $size_clean"
echo "  ($killed of $N queries killed mid-run; $readers reader slots left; index $size_after bytes, clean rebuild $size_clean)"
finish
