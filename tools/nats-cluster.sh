# A 3-node NATS cluster with JetStream on free loopback ports, for the
# shipping tests (tests/nats.sh) and `make bench` (tools/bench.sh).
# Sourced (bash), with NATS_DIR (a folder of its own) and NATS_TOOL (the
# build's tests/tools/nats_tool) set:
#   nats_start           starts the three; sets NATS_URLS
#   nats_kill I [SIG]    stops server I (1-3), with SIGKILL by default
#   nats_run I           starts server I again, with its stored data
#   nats_ready           waits until JetStream answers (30 s at most)
#   nats_stop_all        stops every server it started
# Run as a script: `nats-cluster.sh start DIR TOOL` prints NATS_URLS=... and
# leaves the servers running; `nats-cluster.sh stop DIR` stops them.
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
NATS_PIDS=(0 0 0 0)
nats_ports() {
	/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}
nats_start() {
	local ports i routes
	ports=($(nats_ports))
	routes="nats-route://127.0.0.1:${ports[3]}, nats-route://127.0.0.1:${ports[4]}, nats-route://127.0.0.1:${ports[5]}"
	for i in 1 2 3; do
		mkdir -p "$NATS_DIR/n$i"
		cat >"$NATS_DIR/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${ports[$((i - 1))]}
max_payload: 8MB
jetstream { store_dir: "$NATS_DIR/n$i", max_memory_store: 64MB, max_file_store: 8GB }
cluster { name: dnnprov-test, listen: 127.0.0.1:${ports[$((i + 2))]}, routes: [$routes] }
CONF
		nats_run "$i"
	done
	NATS_URLS="nats://127.0.0.1:${ports[0]},nats://127.0.0.1:${ports[1]},nats://127.0.0.1:${ports[2]}"
	nats_ready
}
nats_run() {
	"$NATS_SERVER" -c "$NATS_DIR/n$1.conf" >>"$NATS_DIR/n$1.log" 2>&1 &
	NATS_PIDS[$1]=$!
	echo "${NATS_PIDS[$1]}" >"$NATS_DIR/n$1.pid"
}
nats_kill() {
	kill "-${2:-9}" "${NATS_PIDS[$1]}" 2>/dev/null || true
	wait "${NATS_PIDS[$1]}" 2>/dev/null || true
	NATS_PIDS[$1]=0
}
nats_ready() {
	"$NATS_TOOL" wait "$NATS_URLS" "$@"
}
nats_stop_all() {
	local i p
	for i in 1 2 3; do
		p=$(cat "$NATS_DIR/n$i.pid" 2>/dev/null || echo 0)
		[ "$p" = 0 ] || kill -9 "$p" 2>/dev/null || true
	done
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	NATS_DIR=$2
	case $1 in
	start)
		NATS_TOOL=$3
		mkdir -p "$NATS_DIR"
		nats_start >&2
		echo "NATS_URLS=$NATS_URLS"
		;;
	stop) nats_stop_all ;;
	esac
fi
