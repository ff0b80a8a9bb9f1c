#!/usr/bin/env python3
"""An independent reader of dnnprov segments, written from docs/FORMAT.md
alone with Python's msgpack (not the C code), to check that the format
document is enough and that the C writer follows it.

usage: indep_reader.py PATH...        prints one JSON line per record:
       {"segment": ..., "offset": ..., "record": {...}} and problems on stderr.
       --compare CAT_JSONL              instead compares with `dnnprov cat` output
"""
import json
import math
import os
import struct
import sys

import msgpack


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


SEGMENT_MAGIC = b"\x89DNPLOG\n"
RECORD_MAX = 1 << 20


def valid_frame_header(buf, p):
    if p + 16 > len(buf) or buf[p:p + 3] != b"DPF" or buf[p + 3] not in (0x52, 0x53):
        return False
    length, _, hcrc = struct.unpack(">III", buf[p + 4:p + 16])
    return 1 <= length <= RECORD_MAX and crc32c(buf[p:p + 12]) == hcrc


def read_segment(path):
    """Yields ("record", offset, map), ("seal", offset, map),
    ("problem", offset, (kind, length)) and ("torn", offset, length)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 16:
        return
    start = 16
    if buf[:8] == SEGMENT_MAGIC:
        version, _, hlen = struct.unpack(">HHI", buf[8:16])
        if 16 + hlen + 4 <= len(buf) and crc32c(buf[:16 + hlen]) == struct.unpack(
                ">I", buf[16 + hlen:20 + hlen])[0]:
            if version not in (1, 2):
                yield ("problem", 0, ("unknown version %d" % version, len(buf)))
                return
            start = 20 + hlen
    p = start
    if start == 16:
        q = p
        while q < len(buf) and not valid_frame_header(buf, q):
            q += 1
        yield ("problem", 0, ("bad segment header", q))
        p = q
    sealed = False
    while p < len(buf):
        n = len(buf) - p
        if sealed:
            yield ("problem", p, ("data after seal", n))
            return
        if n < 16 and b"DPF".startswith(buf[p:p + min(n, 3)]):
            yield ("torn", p, n)
            return
        if not valid_frame_header(buf, p):
            q = p + 1
            while q < len(buf) and not valid_frame_header(buf, q):
                q += 1
            yield ("problem", p, ("garbage", q - p))
            p = q
            continue
        length, pcrc = struct.unpack(">II", buf[p + 4:p + 12])
        if p + 16 + length > len(buf):
            yield ("torn", p, n)
            return
        payload = buf[p + 16:p + 16 + length]
        end = p + 16 + length
        if crc32c(payload) != pcrc:
            yield ("problem", p, ("bad checksum", end - p))
        else:
            try:
                obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
            except Exception:
                obj = None
            if not isinstance(obj, dict):
                yield ("problem", p, ("undecodable", end - p))
            elif buf[p + 3] == 0x53:
                sealed = True
                yield ("seal", p, obj)
            else:
                yield ("record", p, obj)
        p = end


def causal_key(path):
    """FORMAT.md's order: by folder; in a task's folder, version 1 names
    (a creation time) first, then version 2 names, whose ten-digit sequence
    makes name order the causal order."""
    folder, name = os.path.split(path)
    v2 = len(name) > 10 and name[:10].isdigit() and name[10] == "-" and int(name[:10]) > 0
    return (folder.encode("utf-8", "surrogateescape"), v2, name.encode("utf-8", "surrogateescape"))


def segments_under(path):
    if os.path.isfile(path):
        return [path]
    found = []
    for root, _, files in os.walk(path):
        found += [os.path.join(root, f) for f in files if f.endswith(".dnplog")]
    return sorted(found, key=causal_key)


def normalize(v):
    """The JSON form `dnnprov cat` uses: NaN and infinities as strings."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    return v


def main(argv):
    compare = None
    if len(argv) > 2 and argv[1] == "--compare":
        compare, argv = argv[2], argv[2:]
    records = []
    for path in argv[1:]:
        for seg in segments_under(path):
            for what, off, val in read_segment(seg):
                if what == "record":
                    records.append({"segment": seg, "offset": off, "record": normalize(val)})
                elif what in ("problem", "torn"):
                    print("%s: offset %d: %s" % (seg, off, val), file=sys.stderr)
    if compare is None:
        for r in records:
            print(json.dumps(r))
        return 0
    with open(compare) as f:
        cat = [json.loads(line) for line in f if line.strip()]
    if len(cat) != len(records):
        print("record counts differ: C %d, Python %d" % (len(cat), len(records)), file=sys.stderr)
        return 1
    for c, r in zip(cat, records):
        seg, off = c.pop("segment"), c.pop("offset")
        for key in ("dataflow", "task"):
            if key not in r["record"]:
                c.pop(key, None)
        if seg != r["segment"] or off != r["offset"] or c != r["record"]:
            print("records differ at %s offset %d:\n  C:      %s\n  Python: %s"
                  % (seg, off, json.dumps(c, sort_keys=True),
                     json.dumps(r["record"], sort_keys=True)), file=sys.stderr)
            return 1
    print("%d records agree" % len(records))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
