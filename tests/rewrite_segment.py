#!/usr/bin/env python3
"""Rewrites the records of a segment in place, for values the writer's API
cannot produce (a time of 1e308 or -inf in a forged or damaged-but-valid
log): each record map is passed to a Python expression over `r` that
changes it; the segment header is kept byte for byte and every frame is
written again with its checksums (docs/FORMAT.md).

usage: rewrite_segment.py PATH 'STATEMENT'   e.g. "r['time'] = 1e308"
"""
import os
import struct
import sys

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from indep_reader import crc32c, read_segment  # noqa: E402


def frame(kind, obj):
    payload = msgpack.packb(obj, use_bin_type=True)
    head = b"DPF" + kind + struct.pack(">II", len(payload), crc32c(payload))
    return head + struct.pack(">I", crc32c(head)) + payload


def main(path, statement):
    with open(path, "rb") as f:
        buf = f.read()
    hlen = struct.unpack(">I", buf[12:16])[0]
    out = bytearray(buf[:20 + hlen])
    for what, _, obj in read_segment(path):
        if what == "record":
            r = obj
            exec(statement, {}, {"r": r})
            out += frame(b"R", r)
        elif what == "seal":
            out += frame(b"S", obj)
        else:
            raise SystemExit("%s: %s: cannot rewrite a damaged segment" % (path, what))
    with open(path, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
