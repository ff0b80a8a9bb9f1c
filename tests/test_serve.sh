#!/usr/bin/env bash
# dnnprov serve: its API against the CLI (tests/serve_api.py), its bounds
# against clients that do not play along (tests/serve_limits.py) and its
# page in headless Chromium (tests/serve_browser.py), over an index made by
# a real training: the digits demo's grid, 3 epochs each.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

# The digits experiment, logs and index under $T.
{ echo "log_dir: logs"; echo "index_dir: index"; grep -v -e '^log_dir:' -e '^index_dir:' examples/digits.yaml; } >"$T/digits.yaml"
expect_status "the digits grid trains" 0 sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" examples/torch_digits.py \
	--config "$T/digits.yaml" --epochs 3
expect_grep "six configurations" "^6 configurations" "$T/out"
# A run whose id and hyperparameter are markup: it must show as text.
HOSTILE='<img src=x onerror=window.__pwned=1>'
expect_status "a hostile task begins" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" begin \
	OPTIMIZER_NAME='</script><script>window.__pwned=2</script>' LEARNING_RATE=0.05
mkdir -p "$T/hostile" && echo 1,2 >"$T/hostile/<svg onload=window.__pwned=3>.csv"
expect_status "and reads a file whose name is markup" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" \
	used train_data "$T/hostile/<svg onload=window.__pwned=3>.csv"
expect_status "and reports an epoch" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" epoch 1 loss=1.5 val_loss=1.6
"$DNNPROV" index -c "$T/digits.yaml" -q

# Thousands of tasks, for the time limit.
indexer_config "$T/big.yaml"
sed -i -e "s|^log_dir:.*|log_dir: $T/big-logs|" -e "s|^index_dir:.*|index_dir: $T/big-index|" "$T/big.yaml"
"$TOOLS/gen_logs" "$T/big.yaml" 3000 2 5 >/dev/null
"$DNNPROV" index -c "$T/big.yaml" -q

cd tests
expect_status "the API answers as the CLI" 0 $PY serve_api.py "$DNNPROV" "$T/digits.yaml" "$T/big-index"
tail -1 "$T/out"
grep FAIL "$T/out" || true

expect_status "the server's bounds: slow clients, oversized requests, SQL answers, sessions" 0 \
	$PY serve_limits.py "$DNNPROV" "$T/digits.yaml"
tail -1 "$T/out"
grep FAIL "$T/out" || true

expect_status "the lineage picture's graph and layout, under Node's test runner" 0 node --test web/
grep -e '^# pass' -e '^# fail' "$T/out" || true

mkdir -p "$OLDPWD/$BUILD/screenshots"
expect_status "the page in Chromium" 0 $PY serve_browser.py "$DNNPROV" "$T/digits.yaml" "$OLDPWD/$BUILD/screenshots"
tail -1 "$T/out"
grep -e FAIL -e '^chromium' -e '^live update' "$T/out" || true
cd "$OLDPWD"
finish
