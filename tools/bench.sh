#!/bin/sh
# Runs bench/bench (and the Python rows) and writes the table, with the
# machine it ran on, to bench/results/<time>.md.  usage: bench.sh BUILD [--quick]
set -eu
build=$1
shift
quick=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/dnnprov-bench-XXXXXX")
# BENCH_KEEP=1 leaves the work folder (its logs and indexes) for a look
# afterwards; else it goes with the run.
remove_work() {
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "dnnprov: the benchmark's data is kept in $work (BENCH_KEEP)" >&2
	else
		rm -rf "$work"
	fi
}
trap remove_work EXIT
mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)${quick:+-quick}.md"
py_rows=""
if [ -f bench/bench_python.py ] && [ -f python/dnnprov/__init__.py ]; then
	py_rows="DNNPROV_LIB=$PWD/$build/libdnnprov.so PYTHONPATH=$PWD/python /usr/bin/python3 $PWD/bench/bench_python.py $quick $work/py"
fi
# DuckDB, a peer of the query rows: @duckdb/node-api at the version
# bench/duckdb/package-lock.json pins, installed by `npm ci` into the build
# tree (again only when the lock file changed).  Without Node 18 or later,
# npm, or the registry, the bench runs without it and says why.
duck_dir="$PWD/$build/bench/duckdb"
duck_skip=""
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	duck_skip="node and npm are not installed (Debian: apt-get install nodejs npm)"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
	duck_skip="Node $(node --version) is older than 18, the oldest @duckdb/node-api was tested with"
elif ! cmp -s bench/duckdb/package-lock.json "$duck_dir/package-lock.json" ||
	[ ! -f "$duck_dir/node_modules/@duckdb/node-api/package.json" ]; then
	rm -rf "$duck_dir" && mkdir -p "$duck_dir"
	cp bench/duckdb/package.json bench/duckdb/package-lock.json "$duck_dir/"
	if ! (cd "$duck_dir" && npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1); then
		duck_skip="npm ci failed (is the npm registry reachable? see $duck_dir/npm-ci.log)"
		rm -f "$duck_dir/package-lock.json"
	fi
fi
if [ -z "$duck_skip" ]; then
	export DNNPROV_BENCH_DUCKDB="$PWD/bench/duckdb/peer.js" NODE_PATH="$duck_dir/node_modules"
else
	export DNNPROV_BENCH_DUCKDB_SKIP="$duck_skip"
	echo "dnnprov: the benchmark runs without DuckDB: $duck_skip" >&2
fi
# The shipping rows need a 3-node JetStream cluster: started here, on
# loopback ports, stopped on exit.
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
	eval "$(bash tools/nats-cluster.sh start "$work/nats" "$PWD/$build/tests/tools/nats_tool")"
	trap 'bash tools/nats-cluster.sh stop "$work/nats"; remove_work' EXIT
	export DNNPROV_BENCH_NATS="$NATS_URLS" DNNPROV_BENCH_NATS_TOOL="$PWD/$build/tests/tools/nats_tool"
fi
{
	echo "# dnnprov benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')${quick:+ (QUICK)}"
	echo
	echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB,"
	echo "Linux $(uname -r), $(df -T "$work" | awk 'NR==2 {print $2}') on the work folder; SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1);"
	if [ -z "$duck_skip" ]; then
		echo "DuckDB $(node -p 'require("@duckdb/node-api/package.json").version') (@duckdb/node-api) on Node $(node --version)."
	else
		echo "no DuckDB: $duck_skip."
	fi
	echo
	"$build/bench/bench" $quick "$work" "$PWD/$build/dnnprov" "$py_rows"
} | tee "$out"
echo
echo "written to $out"
