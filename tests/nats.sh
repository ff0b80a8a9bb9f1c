# The shipping tests' cluster (tools/nats-cluster.sh), in the test's
# temporary folder, every server stopped when the script exits, whether it
# passed or not.  Sourced after tests/lib.sh.
NATS_DIR="$T/nats"
NATS_TOOL="$PWD/$BUILD/tests/tools/nats_tool"
. "$(dirname "${BASH_SOURCE[0]}")/../tools/nats-cluster.sh"
trap 'nats_stop_all; cleanup' EXIT
