# A 3-node NATS cluster with JetStream on loopback ports, for the shipping
# tests and benchmarks (sourced after tests/lib.sh, which gives $T).  Every
# server is stopped when the script exits, whether it passed or not.
#   nats_start           starts the three; sets NATS_URLS
#   nats_kill I [SIG]    stops server I (1-3), with SIGKILL by default
#   nats_run I           starts server I again, with its stored data
#   nats_ready           waits until JetStream answers (30 s at most)
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
NATS_TOOL="$PWD/$BUILD/tests/tools/nats_tool"
NATS_PIDS=(0 0 0 0)
nats_stop_all() {
	for i in 1 2 3; do
		[ "${NATS_PIDS[$i]}" = 0 ] || kill -9 "${NATS_PIDS[$i]}" 2>/dev/null || true
	done
}
trap 'nats_stop_all; cleanup' EXIT
nats_ports() {
	$PY -c '
import socket
s = [socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}
nats_start() {
	local ports i
	ports=($(nats_ports))
	NATS_CLIENT=(0 "${ports[0]}" "${ports[1]}" "${ports[2]}")
	local routes="nats-route://127.0.0.1:${ports[3]}, nats-route://127.0.0.1:${ports[4]}, nats-route://127.0.0.1:${ports[5]}"
	for i in 1 2 3; do
		mkdir -p "$T/nats/n$i"
		cat >"$T/nats/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${NATS_CLIENT[$i]}
max_payload: 8MB
jetstream { store_dir: "$T/nats/n$i", max_memory_store: 64MB, max_file_store: 4GB }
cluster { name: dnnprov-test, listen: 127.0.0.1:${ports[$((i + 2))]}, routes: [$routes] }
CONF
		nats_run "$i"
	done
	NATS_URLS="nats://127.0.0.1:${NATS_CLIENT[1]},nats://127.0.0.1:${NATS_CLIENT[2]},nats://127.0.0.1:${NATS_CLIENT[3]}"
	nats_ready
}
nats_run() {
	"$NATS_SERVER" -c "$T/nats/n$1.conf" >>"$T/nats/n$1.log" 2>&1 &
	NATS_PIDS[$1]=$!
}
nats_kill() {
	kill "-${2:-9}" "${NATS_PIDS[$1]}" 2>/dev/null || true
	wait "${NATS_PIDS[$1]}" 2>/dev/null || true
	NATS_PIDS[$1]=0
}
nats_ready() {
	"$NATS_TOOL" wait "$NATS_URLS"
}
