#!/usr/bin/env bash
# valgrind memcheck of a whole capture -> index -> query -> export run: no
# error and nothing definitely lost, in every command.  (Skipped in the
# sanitizer build: valgrind and ASan do not run together.)
. "$(dirname "$0")/lib.sh"
if [ "$BUILD" != build ] || ! command -v valgrind >/dev/null; then
	echo "test_valgrind.sh: skipped (needs the plain build and valgrind)"
	finish
	exit 0
fi
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
cat >"$T/v.yaml" <<YAML
dataflow: v
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
metrics: [loss, accuracy]
adaptation: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric}
YAML
vg() { expect_status "valgrind: $*" 0 $VG "$DNNPROV" "$@"; }
vg log -c "$T/v.yaml" --task a begin OPTIMIZER_NAME=Adam LEARNING_RATE=0.1
vg log -c "$T/v.yaml" --task a epoch 1 loss=0.5 accuracy=0.7 val_loss=nan
vg log -c "$T/v.yaml" --task a adapt 2 LEARNING_RATE=0.05
vg log -c "$T/v.yaml" --task a epoch 2 loss=0.4 accuracy=0.8
vg log -c "$T/v.yaml" --task a test loss=0.3 accuracy=0.9
vg log -c "$T/v.yaml" --task a element DenseBlock iDenseBlock growth_rate=12
vg log -c "$T/v.yaml" --task a end
"$PWD/$BUILD/tests/tools/gen_logs" "$T/v.yaml" 5 12 1 2>/dev/null || true
vg cat "$T/logs"
vg check "$T/logs"
vg index -c "$T/v.yaml"
vg index -c "$T/v.yaml" --status
vg reindex -c "$T/v.yaml"
vg dataflows -c "$T/v.yaml"
vg describe -c "$T/v.yaml"
vg runs -c "$T/v.yaml" --where "LEARNING_RATE > 0.01 or not (status = 'running')"
vg compare -c "$T/v.yaml" --metric accuracy --format json
vg effect -c "$T/v.yaml" --hyp LEARNING_RATE --format csv
vg curve -c "$T/v.yaml" a
vg adaptations -c "$T/v.yaml"
vg test -c "$T/v.yaml"
vg elements -c "$T/v.yaml" DenseBlock
vg watch -c "$T/v.yaml" --count 1
if "$DNNPROV" help export >/dev/null 2>&1; then
	vg export -c "$T/v.yaml" --format prov-json -o "$T/v.json"
	vg export -c "$T/v.yaml" --format prov-n
fi
expect_status "valgrind: an error path (unknown dataflow)" 1 $VG "$DNNPROV" runs nope -c "$T/v.yaml"
finish
