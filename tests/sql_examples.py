"""The SQL users write still runs behind the authorizer's list of allowed
functions: every SQL example of docs/SQL.md ("Five questions") and of the
README, and statements that use each family of functions (aggregate,
window, date, math, JSON, text, the module's dnnprov_query), through
`dnnprov sql` and through dnnprov.sql() (a restricted connection).  Each
must answer with at least one row.

usage: sql_examples.py DNNPROV INDEX_DIR   (dataflow `alexnet`, as the docs'
       examples use; made by tests/test_sql.sh with tests/tools/gen_logs)
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Checks  # noqa: E402

import dnnprov  # noqa: E402

DNNPROV, INDEX = sys.argv[1:3]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
check = Checks("sql_examples")


def docs_examples():
    text = open(os.path.join(ROOT, "docs", "SQL.md"), encoding="utf-8").read()
    text = text[text.index("## Five questions"):]
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def readme_examples():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return re.findall(r'^\$ dnnprov sql -c \S+ "(.*)"$', text, re.M)


FAMILIES = [
    # window, aggregate
    "select task, epoch, avg(loss) over (partition by task order by epoch rows 2 preceding) as smooth, "
    "lag(loss) over w as prev, lead(loss) over w as next, row_number() over w as n, rank() over w as r, "
    "dense_rank() over w, percent_rank() over w, cume_dist() over w, ntile(3) over w, "
    "first_value(loss) over w, last_value(loss) over w, nth_value(loss, 2) over w "
    "from epochs window w as (partition by task order by epoch) limit 5",
    "select count(*), sum(n), total(n), avg(mean), min(best), max(best), group_concat(task, ',') "
    "from summaries where dataflow = 'alexnet'",
    # date and time
    "select date(start, 'unixepoch'), time(start, 'unixepoch'), datetime(start, 'unixepoch'), "
    "julianday(start, 'unixepoch'), strftime('%Y-%m', start, 'unixepoch'), unixepoch('2024-01-01'), "
    "current_date, current_timestamp from tasks limit 1",
    # math
    "select abs(-loss), round(loss, 2), sqrt(abs(loss)), exp(1), ln(2), log(100), log10(100), log2(8), "
    "pow(2, 10), power(2, 3), floor(loss), ceil(loss), trunc(loss), mod(7, 3), pi(), sin(0), cos(0), "
    "tan(0), degrees(pi()), radians(180), sign(-loss), acos(1), atan2(1, 1) from epochs limit 1",
    # text
    "select upper(task), lower(task), length(task), substr(task, 1, 4), instr(task, '-'), "
    "replace(task, '-', '_'), trim(' x '), printf('%.3f', loss), format('%d', epoch), hex(task), "
    "quote(task), typeof(loss), coalesce(null, 1), ifnull(null, 2), nullif(1, 2), iif(loss > 1, 'hi', 'lo'), "
    "task like 'task%', task glob 'task*', char(65), unicode('A'), cast(loss as integer) from epochs limit 1",
    # JSON
    "select json_object('task', task, 'loss', loss) ->> '$.task', json_array(1, 2), "
    "json_extract('{\"a\": [1, 2]}', '$.a[1]'), json_valid('{}'), json_type('[]'), json_array_length('[1,2]'), "
    "json_set('{}', '$.x', 1), json_patch('{\"a\":1}', '{\"b\":2}'), json_group_array(epoch) "
    "from epochs where task = (select min(task) from tasks where dataflow = 'alexnet')",
    "select key, value from json_each('{\"a\": 1, \"b\": 2}')",
    # the module's
    "select json_extract(dnnprov_query('runs', 'limit', '2'), '$.rows[0].task')",
]


def cli(stmt):
    p = subprocess.run([DNNPROV, "sql", "--index-dir", INDEX, "--dataflow", "alexnet", "--format", "json", stmt],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


examples = docs_examples() + readme_examples() + FAMILIES
check("the docs and README have their SQL examples", len(docs_examples()) >= 5 and len(readme_examples()) >= 1,
      f"{len(docs_examples())} {len(readme_examples())}")
con = dnnprov.connect(index_dir=INDEX, dataflow="alexnet")
for stmt in examples:
    short = " ".join(stmt.split())[:70]
    rc, out, err = cli(stmt)
    rows = json.loads(out)["rows"] if rc == 0 else []
    check(f"sql: {short}", rc == 0 and len(rows) >= 1, err.strip() or out[:200])
    try:
        got = con.execute(stmt.rstrip().rstrip(";")).fetchall()
        check(f"python: {short}", len(got) >= 1)
    except Exception as e:  # noqa: BLE001 - any refusal is the failure
        check(f"python: {short}", False, str(e))
con.close()
sys.exit(check.finish())
