"""Pages of runs (--offset, --limit) against the whole answer: for every
column of runs, both directions and several page sizes, the pages laid end
to end are the whole sorted list, and "total" counts it.  The runs sorted
by the task or the main metric take the page path that loads only the
page's tasks; a --where that every task meets takes the path that loads
them all: both must agree with the whole list.

usage: page_check.py DNNPROV INDEX_DIR DATAFLOW
"""
import json
import subprocess
import sys

dnnprov, index, df = sys.argv[1:4]
checks = failed = 0


def runs(*args):
    out = subprocess.run([dnnprov, "runs", df, "--index-dir", index, "--format", "json", *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check(what, ok):
    global checks, failed
    checks += 1
    if not ok:
        failed += 1
        print("FAIL:", what)


whole = runs()
cols = whole["columns"]
check("no total without a page", "total" not in whole)
for col in cols:
    for sign in ("", "-"):
        full = runs("--sort", sign + col)["rows"]
        for size in (7, len(full)):
            for where in ([], ["--where", "epochs >= 0 or epochs < 0"]):
                got, total = [], None
                for off in range(0, len(full) + size, size):
                    page = runs("--sort", sign + col, "--offset", str(off), "--limit", str(size), *where)
                    got += page["rows"]
                    total = page["total"]
                    check(f"{sign}{col} size {size} offset {off}: at most {size} rows", len(page["rows"]) <= size)
                check(f"{sign}{col} size {size} {where}: the pages are the whole list", got == full)
                check(f"{sign}{col} size {size} {where}: total", total == len(full))
past = runs("--offset", str(len(whole["rows"]) + 5))
check("an offset past the end: no rows", past["rows"] == [] and past["total"] == len(whole["rows"]))
only = runs("--offset", "3")
check("--offset alone: the rest", len(only["rows"]) == len(whole["rows"]) - 3)
print(f"page_check: {checks} checks, {failed} failed")
sys.exit(1 if failed else 0)
