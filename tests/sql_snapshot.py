#!/usr/bin/env python3
"""Snapshot consistency of the SQL tables while `dnnprov index --follow`
indexes a writer that is still appending (both started by test_sql.sh).

Each statement compares numbers the indexer commits together (a task's
epoch count with its rows in the epochs table; the metric rows with the
summaries' counts) in separate subqueries: read from two snapshots they
would differ while the writer goes on.  An explicit transaction keeps its
snapshot across statements; the next statement after COMMIT sees more.

usage: sql_snapshot.py INDEX_DIR ROUNDS   (with PYTHONPATH=python)
"""
import sys
import time

import dnnprov

INDEX_DIR, ROUNDS = sys.argv[1], int(sys.argv[2])
CHECK = """select
  (select coalesce(sum(epochs), 0) from tasks where dataflow = 'df') - (select count(*) from df_epochs),
  (select count(*) from metrics where dataflow = 'df')
    - (select coalesce(sum(n + nan_count), 0) from summaries where dataflow = 'df'),
  (select count(*) from df_epochs)"""
failed = 0
con = dnnprov.connect(index_dir=INDEX_DIR, dataflow="df")
seen = []
# At least ROUNDS statements, and on until the index has grown under the
# same connection (bounded: the follower may be slow, never this slow).
deadline = time.monotonic() + 60
i = 0
while i < ROUNDS or (seen[-1] <= seen[0] and time.monotonic() < deadline):
    d1, d2, n = con.execute(CHECK).fetchone()
    if d1 or d2:
        print("FAIL: round %d read two snapshots in one statement: %d, %d" % (i, d1, d2))
        failed += 1
    seen.append(n)
    i += 1
    if i >= ROUNDS:
        time.sleep(0.01)
if seen[-1] <= seen[0]:
    print("FAIL: one connection never saw the index grow (%d epochs, then %d): the snapshot is not renewed"
          % (seen[0], seen[-1]))
    failed += 1

# An explicit transaction: one snapshot until COMMIT.
con.execute("begin")
before = con.execute("select count(*) from df_epochs").fetchone()[0]
other = dnnprov.connect(index_dir=INDEX_DIR, dataflow="df")
deadline = time.monotonic() + 60  # a bound on waiting for the follower, not a speed test
while other.execute("select count(*) from df_epochs").fetchone()[0] <= before and time.monotonic() < deadline:
    time.sleep(0.05)
inside = con.execute("select count(*) from df_epochs").fetchone()[0]
con.execute("commit")
after = con.execute("select count(*) from df_epochs").fetchone()[0]
if inside != before:
    print("FAIL: a transaction's second statement read a newer snapshot (%d, then %d)" % (before, inside))
    failed += 1
if after <= before:
    print("FAIL: after COMMIT the snapshot stayed old (%d, then %d)" % (before, after))
    failed += 1
print("sql_snapshot: %d rounds, %d epochs seen growing to %d, %d failed" % (i, seen[0], after, failed))
sys.exit(1 if failed else 0)
