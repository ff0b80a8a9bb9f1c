#!/usr/bin/env bash
# Values at the limits of their types, through capture, index and every
# query format: epochs at both ends of int64, integers past 2^53 (exact
# end to end), and doubles at and past the end of their range (+-1e308,
# +-inf, NaN) wherever a query scales, bins, ranks or sorts them.
. "$(dirname "$0")/lib.sh"

cat >"$T/exp.yaml" <<YAML
dataflow: df
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
  BATCH_SIZE: true
metrics: [loss, accuracy]
val_metrics: false
free_metrics: true
adaptation: true
YAML
L() { "$DNNPROV" log -c "$T/exp.yaml" "$@" >/dev/null; }
Q() { "$DNNPROV" "$@" --index-dir "$T/index"; }
# json_rows EXPR: evaluates EXPR over the rows of the JSON answer in $T/out
# (each a dict); prints the result.
json_rows() { $PY -c "import json,sys; rows=json.load(open('$T/out'))['rows']; print($1)"; }
MAX=9223372036854775807
MIN=-9223372036854775808
P53=9007199254740992 # 2^53: 2^53 + 1 is the first integer a double cannot hold

# --- integers stay integers -------------------------------------------------------
L --task big begin BATCH_SIZE=$((P53 + 1)) LEARNING_RATE=0.1
L --task big epoch $MAX loss=1
L --task big epoch $MIN loss=2
L --task big adapt $MIN LEARNING_RATE=0.01
L --task big test top=$((P53 + 1))
L --task small begin BATCH_SIZE=$P53 LEARNING_RATE=0.1
L --task small epoch 1 loss=3
L --task small test top=$P53
"$DNNPROV" index -c "$T/exp.yaml" -q

expect_status "curve: table" 0 Q curve df big --metrics loss
expect_grep "curve: the table prints INT64_MAX" "^ *$MAX " "$T/out"
expect_grep "curve: the table prints INT64_MIN" "^$MIN " "$T/out"
expect_status "curve: csv" 0 Q curve df big --metrics loss --format csv
expect_grep "curve: csv prints INT64_MAX" "^$MAX," "$T/out"
expect_grep "curve: csv prints INT64_MIN" "^$MIN," "$T/out"
expect_status "curve: json" 0 Q curve df big --metrics loss --format json
expect_eq "curve: json epochs are exact integers" "$(json_rows "[r['epoch'] for r in rows]")" "[$MIN, $MAX]"
expect_status "compare at=INT64_MAX: csv" 0 Q compare df --metric loss --agg at=$MAX --format csv
expect_eq "compare: at_epoch is an integer in csv" "$(tr -d '\r' <"$T/out" | grep "^big,")" "big,RUNNING,0.1,$((P53 + 1)),1,$MAX"
expect_status "compare at=INT64_MAX: json" 0 Q compare df --metric loss --agg at=$MAX --format json
expect_eq "compare: at_epoch is an integer in json" "$(json_rows "[r['at_epoch'] for r in rows if r['task'] == 'big']")" "[$MAX]"
expect_status "watch: csv" 0 Q watch df --count 1 --format csv
expect_grep "watch: the last epoch is exact" "^big,[A-Z]*,ok,$MAX," "$T/out"
expect_status "watch: table" 0 Q watch df --count 1
expect_grep "watch: the last epoch is exact in the table" "^big  *[A-Z]*  *ok  *$MAX " "$T/out"
expect_status "runs: csv" 0 Q runs df --format csv
expect_grep "runs: an integer hyperparameter past 2^53 is exact" ",$((P53 + 1))," "$T/out"
expect_status "runs: json" 0 Q runs df --format json
expect_eq "runs: json keeps it exact" "$(json_rows "[r['BATCH_SIZE'] for r in rows]")" "[$((P53 + 1)), $P53]"
expect_status "runs: table" 0 Q runs df
expect_grep "runs: the table keeps it exact" " $((P53 + 1))" "$T/out"
expect_status "test: json" 0 Q test df --format json
expect_eq "test: an integer metric past 2^53 is exact" "$(json_rows "sorted(r['top'] for r in rows)")" "[$P53, $((P53 + 1))]"
# --where compares exactly, with and without the hyperparameter index.
for cond in "= $((P53 + 1)):big" "> $P53:big" ">= $((P53 + 1)):big" "< $((P53 + 1)):small" "<= $P53:small" \
	"!= $P53:big" "in ($((P53 + 1))):big"; do
	expect_status "where BATCH_SIZE ${cond%:*}" 0 Q runs df --where "BATCH_SIZE ${cond%:*}" --format csv
	expect_eq "where BATCH_SIZE ${cond%:*}: the tasks" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "${cond#*:} "
	expect_status "where ... or ...: a scan" 0 Q runs df --where "BATCH_SIZE ${cond%:*} or task = 'none'" --format csv
	expect_eq "where BATCH_SIZE ${cond%:*} by a scan: the tasks" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "${cond#*:} "
done
expect_status "where: epochs is an integer" 0 Q runs df --where "epochs = 2" --format csv
expect_eq "where: epochs = 2" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "big "
expect_status "sort by an integer past 2^53" 0 Q compare df --metric loss --sort BATCH_SIZE --format csv
expect_eq "sorted exactly" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "small big "
expect_status "sort descending" 0 Q compare df --metric loss --sort -BATCH_SIZE --format csv
expect_eq "sorted exactly, descending" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "big small "
expect_status "effect groups exact values apart" 0 Q effect df --metric loss --hyp BATCH_SIZE --format csv
expect_eq "effect: two groups" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" "$P53 $((P53 + 1)) "
expect_status "adaptations at epoch INT64_MIN" 0 Q adaptations df --metric loss --format csv
expect_eq "adaptations: no epoch before INT64_MIN" "$(tr -d '\r' <"$T/out" | grep "^big,")" "big,$MIN,LEARNING_RATE,0.1,0.01,,2,"

# --- doubles at and past the ends of their range ----------------------------------
cat >"$T/ext.yaml" <<YAML
dataflow: ext
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
metrics: [loss, accuracy]
val_metrics: false
adaptation: true
YAML
X() { "$DNNPROV" log -c "$T/ext.yaml" "$@" >/dev/null; }
X --task wide begin LEARNING_RATE=1e308
e=1
for v in 1e308 -1e308 inf -inf nan 0; do
	X --task wide epoch $e loss=$v accuracy=1e308
	e=$((e + 1))
done
X --task wide adapt 3 LEARNING_RATE=-inf
X --task wide test loss=-1e308 accuracy=nan
for t in big big2; do
	X --task $t begin LEARNING_RATE=-1e308
	X --task $t epoch 1 loss=1e308
	X --task $t epoch 2 loss=1e308
done
X --task inf begin LEARNING_RATE=inf
X --task inf epoch 1 loss=inf
X --task ninf begin LEARNING_RATE=-inf
X --task ninf epoch 1 loss=-1e308
# Times only a forged log holds: a task from -1e308 to 1e308 that was last
# seen at +inf, and a running one last seen at -1e308 (without the time since
# boot, by which a task's times would otherwise count: docs/RUNS.md).
X --task forged begin LEARNING_RATE=1
X --task forged epoch 1 loss=1
X --task forged end
X --task early begin LEARNING_RATE=2
for seg in "$T"/logs/ext/forged/*.dnplog; do
	$PY tests/rewrite_segment.py "$seg" "r['time'] = {'begin': -1e308, 'end': 1e308}.get(r['kind'], float('inf')); r.pop('mono')"
done
for seg in "$T"/logs/ext/early/*.dnplog; do
	$PY tests/rewrite_segment.py "$seg" "r['time'] = -1e308; r.pop('mono')"
done
"$DNNPROV" index -c "$T/ext.yaml" -q

# Every command in every format answers (under SANITIZE=1 UBSan also checks
# each conversion on the way).
for f in table csv json; do
	for cmd in "runs ext" "compare ext --metric loss" "compare ext --metric loss --agg mean" \
		"compare ext --metric loss --agg last" "compare ext --metric accuracy --agg max" \
		"effect ext --hyp LEARNING_RATE --metric loss" "effect ext --hyp LEARNING_RATE --metric loss --bins 2" \
		"effect ext --hyp LEARNING_RATE --metric loss --agg mean" "curve ext wide" "curve ext wide --metrics loss" \
		"curve ext big" "curve ext inf" "adaptations ext --metric loss" "test ext" "watch ext --count 1" \
		"dataflows" "describe ext" "runs ext --where max(loss)>-1e308" "runs ext --sort duration"; do
		# shellcheck disable=SC2086
		expect_status "$cmd --format $f" 0 Q $cmd --format $f
	done
done
expect_status "export: PROV-JSON" 0 Q export ext
expect_status "export: PROV-N" 0 Q export ext --format prov-n

expect_status "curve: a sparkline over -1e308 .. 1e308" 0 Q curve ext wide
expect_grep "curve: the sparkline and its range" "^loss .*[▁█].* -1e+308 .. 1e+308" "$T/out"
expect_status "compare: a mean of 1e308s" 0 Q compare ext --metric loss --agg mean --format csv
expect_eq "compare: the mean of 1e308 and 1e308 is 1e308" "$(tr -d '\r' <"$T/out" | grep '^big,' | cut -d, -f4)" "1e+308"
expect_status "effect: a group of 1e308s" 0 Q effect ext --hyp LEARNING_RATE --metric loss --format csv
expect_eq "effect: its mean and std" "$(tr -d '\r' <"$T/out" | grep '^-1e+308,' | cut -d, -f4,5)" "1e+308,0"
expect_status "runs: a duration of 2e308 s" 0 Q runs ext
expect_grep "runs: prints inf" "^forged  *FINISHED  *ok  *inf " "$T/out"
expect_status "runs: csv" 0 Q runs ext --format csv
expect_grep "runs: Infinity in csv" "^forged,FINISHED,ok,,Infinity," "$T/out"
expect_status "watch: last seen 1e308 s ago" 0 Q watch ext --count 1
expect_grep "watch: a duration of days" "^early .* 1.16e+303d$" "$T/out"

# --- NaN as a hyperparameter value: a group of its own --------------------------------
sed 's/^dataflow: ext/dataflow: nan/' "$T/ext.yaml" >"$T/nan.yaml"
N() { "$DNNPROV" log -c "$T/nan.yaml" "$@" >/dev/null; }
loss=1
for t in a1:0.1 n1:nan a2:0.1 n2:nan a3:0.1 n3:nan b:0.5 c:inf d:-inf e:1e-3; do
	N --task "${t%:*}" begin LEARNING_RATE="${t#*:}"
	N --task "${t%:*}" epoch 1 loss=$loss
	loss=$((loss + 1))
done
"$DNNPROV" index -c "$T/nan.yaml" -q
expect_status "effect with NaN values" 0 Q effect nan --hyp LEARNING_RATE --metric loss --format csv
expect_eq "effect: one row per value, NaN last and once" "$(tail -n +2 "$T/out" | cut -d, -f1,2 | tr -d '\r' | tr '\n' ' ')" \
	"-Infinity,1 0.001,1 0.1,3 0.5,1 Infinity,1 NaN,3 "
expect_status "effect: the correlation" 0 Q effect nan --hyp LEARNING_RATE --metric loss
expect_grep "effect: NaN values are not ranked" "Spearman's rank correlation of LEARNING_RATE with min(loss): .* (n=7)" "$T/out"
expect_status "effect: bins" 0 Q effect nan --hyp LEARNING_RATE --metric loss --bins 2 --format csv
expect_eq "effect: NaN is no bin's bound, and a group of its own" "$(tail -n +2 "$T/out" | cut -d, -f1,2 | tr -d '\r' | tr '\n' ' ')" \
	"-inf .. 0.1,5 0.5 .. inf,2 NaN,3 "
expect_status "compare: sorted by a hyperparameter with NaN" 0 Q compare nan --metric loss --sort LEARNING_RATE --format csv
expect_eq "compare: NaN sorts with the missing values, last" "$(tail -n +2 "$T/out" | cut -d, -f1 | tr -d '\r' | tr '\n' ' ')" \
	"d e a1 a2 a3 b c n1 n2 n3 "
finish
