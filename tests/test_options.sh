#!/usr/bin/env bash
# Command-line options at their edges: a list option naming one thing
# twice, --help in a place where it is a value, and the values of
# durations, counts and addresses (one grammar each, util/units.c): what
# strtod and strtol took ("1e-300", "inf", "0x10", " 5") is refused with a
# message naming the option and the value.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 3 5 1
"$DNNPROV" index -c "$T/exp.yaml" -q
Q() { "$DNNPROV" "$@" --index-dir "$T/index"; }

# --- curve --metrics: a name given twice is one column; none is dropped ---------------
# The dataflow has five metrics: more names than that, duplicates first.
expect_status "curve --metrics with duplicates" 0 Q curve df task-0001 --metrics loss,LOSS,Loss,loss,LoSs,val_loss --format csv
expect_eq "curve: one column per distinct metric, in order" "$(head -n 1 "$T/out" | cut -d, -f1-4)" \
	"epoch,elapsed,loss,val_loss"
expect_eq "curve: and no more" "$(head -n 1 "$T/out" | grep -c 'loss.*loss.*loss')" 0
expect_status "curve --metrics naming metrics twice" 0 Q curve df task-0001 \
	--metrics TOP5,top5,loss,accuracy,val_loss,val_accuracy,VAL_LOSS --format csv
expect_eq "curve: all five" "$(head -n 1 "$T/out" | cut -d, -f1-7)" \
	"epoch,elapsed,top5,loss,accuracy,val_loss,val_accuracy"

# --- --help: where it is no option's value -------------------------------------------
for cmd in log cat check index reindex dataflows describe runs compare effect curve adaptations test elements \
	watch export; do
	expect_status "$cmd --help" 0 "$DNNPROV" $cmd --help
	expect_grep "$cmd --help: the usage on stdout" "^usage: dnnprov $cmd" "$T/out"
done
expect_status "help after other options" 0 Q runs df --format csv --help
expect_grep "help after other options: the usage" "^usage: dnnprov runs" "$T/out"
L() { "$DNNPROV" log -c "$T/exp.yaml" "$@"; }
L --task m begin LEARNING_RATE=1 >/dev/null
expect_status "log end --message --help" 0 L --task m end --status FAILED --message --help
expect_eq "the message --help is recorded" "$("$DNNPROV" cat --kind end "$T/logs/df/m" | grep -c '"message":"--help"')" 1
L --task m2 begin LEARNING_RATE=1 >/dev/null
expect_status "log end --message -h" 0 L --task m2 end --message -h
expect_eq "the message -h is recorded" "$("$DNNPROV" cat --kind end "$T/logs/df/m2" | grep -c '"message":"-h"')" 1
expect_status "log epoch ... --help (no value there)" 0 L --task m2 epoch 2 --help
expect_grep "prints the usage" "^usage: dnnprov log" "$T/out"
expect_status "runs --where --help: the value of --where" 1 Q runs df --where --help
expect_grep "an expression, not a request for help" "invalid --where: " "$T/err"
expect_status "export --task --help: the value of --task" 1 Q export df --task --help
expect_grep "a task, not a request for help" "no task '--help'" "$T/err"
expect_status "cat -- --help: a path" 1 "$DNNPROV" cat -- --help
expect_grep "a path, not a request for help" "cannot read --help" "$T/err"

# --- durations: units, a bare number in the option's unit, nothing else ------------------
"$DNNPROV" delete -c "$T/exp.yaml" task-0001 >/dev/null
for age in 1e-300 inf nan 1e309 0x10 9999999999999999999 " 5" "5 " -1 +5 "" 5x 1,5 .5 36501; do
	expect_status "delete --older-than '$age' is refused" 2 "$DNNPROV" delete -c "$T/exp.yaml" --purge --older-than "$age"
	expect_grep "delete --older-than '$age': the option and the value" "^dnnprov: delete: --older-than: .*'$age'" "$T/err"
done
for age in 7d 12h 30m 90s 1.5 30 36500; do
	expect_status "delete --older-than $age" 0 "$DNNPROV" delete -c "$T/exp.yaml" --purge --older-than "$age"
	expect_grep "delete --older-than $age keeps what was deleted just now" "removed 0 deleted tasks" "$T/out"
done
expect_status "delete --older-than 0: all of it" 0 "$DNNPROV" delete -c "$T/exp.yaml" --purge --older-than 0
expect_grep "removes what was deleted" "removed 1 deleted task " "$T/out"
expect_status "--older-than without --purge" 2 "$DNNPROV" delete -c "$T/exp.yaml" --older-than 0
expect_grep "says it goes with --purge" "goes with --purge" "$T/err"
for v in inf 0x10 " 5" 1e3 0; do
	expect_status "sql --timeout '$v'" 2 "$DNNPROV" sql --index-dir "$T/index" --timeout "$v" "select 1"
	expect_grep "sql --timeout '$v': named" "^dnnprov: sql: --timeout: .*'$v'" "$T/err"
	expect_status "watch --interval '$v'" 2 "$DNNPROV" watch --index-dir "$T/index" --interval "$v" --count 1
	expect_grep "watch --interval '$v': named" "^dnnprov: watch: --interval: .*'$v'" "$T/err"
	expect_status "serve --time-limit '$v'" 2 "$DNNPROV" serve --index-dir "$T/index" --time-limit "$v"
	expect_grep "serve --time-limit '$v': named" "^dnnprov: serve: --time-limit: .*'$v'" "$T/err"
	expect_status "index --lost-after '$v'" 2 "$DNNPROV" index -c "$T/exp.yaml" --lost-after "$v"
	expect_grep "index --lost-after '$v': named" "^dnnprov: index: --lost-after: .*'$v'" "$T/err"
	for o in --lost-after --ack-wait; do
		expect_status "index --from $o '$v'" 2 "$DNNPROV" index --index-dir "$T/from" --from nats://127.0.0.1:1 $o "$v"
		expect_grep "index --from $o '$v': named" "^dnnprov: index: $o: .*'$v'" "$T/err"
	done
	expect_status "ship --give-up-after '$v'" 2 "$DNNPROV" ship -c "$T/exp.yaml" --to nats://127.0.0.1:1 --give-up-after "$v"
	expect_grep "ship --give-up-after '$v': named" "^dnnprov: ship: --give-up-after: .*'$v'" "$T/err"
done
expect_status "sql --timeout 2.5" 0 "$DNNPROV" sql --index-dir "$T/index" --timeout 2.5 "select 1"
expect_status "sql --timeout 500ms" 0 "$DNNPROV" sql --index-dir "$T/index" --timeout 500ms "select 1"
expect_status "watch --interval 1m" 0 "$DNNPROV" watch --index-dir "$T/index" df --interval 1m --count 1
expect_status "index --lost-after 3600: seconds" 0 "$DNNPROV" index -c "$T/exp.yaml" --lost-after 3600 -q

# --- counts: decimal digits in range -------------------------------------------------------
for v in -1 0x10 " 5" 1e3 +2 2.0; do
	expect_status "runs --limit '$v'" 2 Q runs df --limit "$v"
	expect_grep "runs --limit '$v': named" "^dnnprov: runs: --limit: .*'$v'" "$T/err"
	expect_status "effect --bins '$v'" 2 Q effect df --hyp LEARNING_RATE --metric loss --bins "$v"
	expect_status "index --rescan-ms '$v'" 2 "$DNNPROV" index -c "$T/exp.yaml" --follow --rescan-ms "$v"
	expect_grep "index --rescan-ms '$v': named" "^dnnprov: index: --rescan-ms: .*'$v'" "$T/err"
	expect_status "serve --max-rows '$v'" 2 "$DNNPROV" serve --index-dir "$T/index" --max-rows "$v"
done
expect_status "runs --limit 2" 0 Q runs df --limit 2 --format csv
expect_eq "two rows" "$(tail -n +2 "$T/out" | wc -l)" 2

# --- addresses: A.B.C.D:PORT or [IPv6]:PORT, nothing a resolver or strtol reads -----------
for a in 0x7f000001:0 127.1:0 2130706433:0 localhost:0 127.0.0.01:0 1.2.3.4.5:0 "[127.0.0.1]:0"; do
	expect_status "serve --listen '$a'" 2 "$DNNPROV" serve --index-dir "$T/index" --listen "$a"
	expect_grep "serve --listen '$a': not an IP address, whatever the token" "^dnnprov: serve: --listen: .*IP" "$T/err"
done
for a in ::1:0 "[::1]" 127.0.0.1:65536 127.0.0.1:-1 "127.0.0.1: 1" 127.0.0.1:0x50 127.0.0.1:; do
	expect_status "serve --listen '$a'" 2 "$DNNPROV" serve --index-dir "$T/index" --listen "$a"
	expect_grep "serve --listen '$a': named" "^dnnprov: serve: --listen: " "$T/err"
done
finish
