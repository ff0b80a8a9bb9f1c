#!/usr/bin/env python3
"""docs/QUERY.md's sections on the questions, made from the registry.

usage: query_docs.py DNNPROV [--check]

Between the two marker lines of docs/QUERY.md goes what `DNNPROV help
--markdown` prints: a section per question with its description and the
table of its parameters, made from the same declarations as the
command's --help, the HTTP API, SQL's dnnprov_query() and the Python
functions.  With --check, nothing is written: the exit status says
whether the committed file holds what the registry makes (`make docs`
writes it; tests/test_registry.sh checks it).
"""
import os
import subprocess
import sys

BEGIN = "<!-- The questions' sections below are made by `make docs` (dnnprov help --markdown): edit query/q_*.c, not them. -->"
END = "<!-- End of the sections made by `make docs`. -->"
DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "QUERY.md")


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--check"):
        sys.exit(__doc__.strip().splitlines()[2])
    made = subprocess.run([sys.argv[1], "help", "--markdown"], check=True, capture_output=True,
                          text=True).stdout
    text = open(DOC, encoding="utf-8").read()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        sys.exit("%s: the markers of the generated sections are missing" % DOC)
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    want = head + BEGIN + "\n\n" + made + "\n" + END + tail
    if len(sys.argv) == 3:
        if want != text:
            sys.exit("%s does not hold what the registry makes: run `make docs`" % DOC)
        return
    if want != text:
        with open(DOC, "w", encoding="utf-8") as f:
            f.write(want)


main()
