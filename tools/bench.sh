#!/bin/sh
# Runs bench/bench (and the Python rows) and writes the table, with the
# machine it ran on, to bench/results/<time>.md.  usage: bench.sh BUILD [--quick]
set -eu
build=$1
shift
quick=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/dnnprov-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)${quick:+-quick}.md"
py_rows=""
if [ -f bench/bench_python.py ] && [ -f python/dnnprov/__init__.py ]; then
	py_rows="DNNPROV_LIB=$PWD/$build/libdnnprov.so PYTHONPATH=$PWD/python /usr/bin/python3 $PWD/bench/bench_python.py $quick $work/py"
fi
# The shipping rows need a 3-node JetStream cluster: started here, on
# loopback ports, stopped on exit.
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
	eval "$(bash tools/nats-cluster.sh start "$work/nats" "$PWD/$build/tests/tools/nats_tool")"
	trap 'bash tools/nats-cluster.sh stop "$work/nats"; rm -rf "$work"' EXIT
	export DNNPROV_BENCH_NATS="$NATS_URLS" DNNPROV_BENCH_NATS_TOOL="$PWD/$build/tests/tools/nats_tool"
fi
{
	echo "# dnnprov benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')${quick:+ (QUICK)}"
	echo
	echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB,"
	echo "Linux $(uname -r), $(df -T "$work" | awk 'NR==2 {print $2}') on the work folder; SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1)."
	echo
	"$build/bench/bench" $quick "$work" "$PWD/$build/dnnprov" "$py_rows"
} | tee "$out"
echo
echo "written to $out"
