#!/usr/bin/env bash
# The progress line of long work (index, reindex, export): drawn on stderr
# when it is a terminal (tests/pty_run.py gives the command one and keeps
# what it shows), never on a pipe nor with -q, erased at the end so that the
# summary line stays.  DNNPROV_PROGRESS_MS=0 draws at every report, so what
# is asserted does not depend on speed.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
cd "$T"
indexer_config exp.yaml # 4 KiB segments: many reports
"$TOOLS/gen_logs" exp.yaml 30 40 3
export DNNPROV_PROGRESS_MS=0
term() { $PY "$OLDPWD/tests/pty_run.py" "$T/tty" "$@"; }

# check_draws WHAT UNIT_PATTERN: the terminal got only progress lines, each
# drawn over the last from its first column, counting up, and erased at the
# end; prints "ok DRAWS LAST_COUNT LAST_PERCENT" or what is wrong.
check_draws() {
	$PY - "$T/tty" "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode()
what = sys.argv[2]
line = re.compile(r"^%s: (?:([\d,]+) records, )?([\d.]+ [KMG]?i?B) (?:of ([\d.]+ [KMG]?i?B) )?\((\d+)%%\)"
                  r"(?:, [\d.]+ [KMG]?i?B/s)?(?:, (?:\d+ s|\d+:\d\d(?::\d\d)?) left)? *$" % what)
export = re.compile(r"^%s: (\d+)%%(?:, [\d.]+ [KMG]?i?B written)?(?:, [\d.]+ [KMG]?i?B/s)?"
                    r"(?:, (?:\d+ s|\d+:\d\d(?::\d\d)?) left)? *$" % what)
problems = []
if "\n" in data:
    problems.append("a newline on the terminal")
if not re.search(r"\r +\r$", data):
    problems.append("not erased at the end: %r" % data[-80:])
counts, percents = [], []
for d in data.split("\r"):
    if not d.strip():
        continue
    m, e = line.match(d), export.match(d)
    if not (m or e):
        problems.append("not a progress line: %r" % d)
    elif m:
        counts.append(int((m.group(1) or "0").replace(",", "")))
        percents.append(int(m.group(4)))
    else:
        percents.append(int(e.group(1)))
if len(percents) < 2:
    problems.append("%d lines drawn" % len(percents))
if counts != sorted(counts) or percents != sorted(percents):
    problems.append("going backwards: %s %s" % (counts, percents))
print("; ".join(problems) or "ok %d %d %d" % (len(percents), counts[-1] if counts else 0,
                                           percents[-1] if percents else -1))
PY
}

# --- index ---------------------------------------------------------------------------
expect_status "index on a terminal" 0 term "$DNNPROV" index -c exp.yaml
verdict=$(check_draws indexing)
expect_eq "draws progress lines" "${verdict%% *}" ok
records=$(sed -n 's/^indexed \([0-9]*\) records from .*/\1/p' "$T/out")
expect_eq "the summary stays, on stdout" "$(wc -l <"$T/out")$([ -n "$records" ] && echo y)" 1y
expect_eq "the last line counted every record, and all the bytes" "${verdict#ok * }" "$records 100"

# --- reindex, on a terminal and not ----------------------------------------------------
expect_status "reindex on a terminal" 0 term "$DNNPROV" reindex -c exp.yaml
verdict=$(check_draws reindexing)
expect_eq "draws its own lines" "${verdict%% *}" ok
expect_eq "reading every record again" "${verdict#ok * }" "$records 100"
expect_status "reindex -q on a terminal" 0 term "$DNNPROV" reindex -c exp.yaml -q
expect_eq "-q: nothing on the terminal" "$(wc -c <"$T/tty")" 0
expect_eq "-q: nor on stdout" "$(wc -c <"$T/out")" 0
expect_status "reindex, stderr a pipe" 0 "$DNNPROV" reindex -c exp.yaml
expect_eq "a pipe gets no progress" "$(wc -c <"$T/err")" 0
expect_grep "the summary still" "^indexed $records records" "$T/out"

# --- a message in the middle gets a line of its own -----------------------------------
# Damage one epoch record in the middle of a segment read early on.
seg=$(find logs -name '*.dnplog' | sort | sed -n 5p)
$PY -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek(2000); f.write(b'\xff' * 8)" "$seg"
expect_status "reindex with damage" 0 term "$DNNPROV" reindex -c exp.yaml
expect_eq "the problem is reported" "$(grep -c "dnnprov: reindex: .*(skipped)" "$T/tty")" 1
expect_eq "from the first column: the progress line was erased first" \
	"$($PY -c "import re, sys; d = open(sys.argv[1]).read(); print(all(re.search(r'(^|\n|\r *\r)\Z', d[:m.start()]) for m in re.finditer('dnnprov: ', d)))" "$T/tty")" True

# --- export --------------------------------------------------------------------------------
expect_status "export -o on a terminal" 0 term "$DNNPROV" export -c exp.yaml -o doc.json
verdict=$(check_draws exporting)
expect_eq "draws the share of tasks written" "${verdict%% *}" ok
expect_eq "up to all of them" "${verdict##* }" 100
expect_status "the document is whole" 0 $PY -c "import json; json.load(open('doc.json'))"
expect_status "export to a pipe, stderr on a terminal" 0 term "$DNNPROV" export -c exp.yaml --format prov-n
verdict=$(check_draws exporting)
expect_eq "draws too" "${verdict%% *}" ok
expect_eq "and the document is all that is on stdout" "$(head -n 1 "$T/out")$(tail -n 1 "$T/out")" "documentendDocument"
expect_status "export, stderr a pipe" 0 "$DNNPROV" export -c exp.yaml -o doc2.json
expect_eq "no progress" "$(wc -c <"$T/err")" 0
finish
