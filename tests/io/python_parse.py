"""Prints what Python's json / csv modules parse from a file, one JSON line per record, in a
canonical text form the C++ test compares with isoflow's string columns.

usage: python_parse.py json FILE | python_parse.py csv FILE [DELIMITER]
json: each record becomes {key: text}, text being str for strings, repr for numbers (NaN,
      Infinity and -Infinity spelled so, as in JSON), "true"/"false", null, or compact JSON for
      nested values. A key repeated in a record keeps its first value (as isoflow does; Python's
      dict would keep the last); the later ones are listed under "_repeated" as [key, JSON text].
csv:  each row becomes a list of strings (the header row included); a UTF-8 byte order mark
      is not part of the first field.
"""
import csv
import json
import math
import sys


def canon(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


class Pairs(list):
    """An object's members in order, repeated keys included."""


def plain(v):
    if isinstance(v, Pairs):
        return {k: plain(x) for k, x in v}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


kind, path = sys.argv[1], sys.argv[2]
if kind == "json":
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec, repeated = {}, []
                for k, v in json.loads(line, object_pairs_hook=Pairs):
                    if k in rec:
                        repeated.append([k, json.dumps(plain(v))])
                    else:
                        rec[k] = canon(plain(v))
                if repeated:
                    rec["_repeated"] = repeated
                print(json.dumps(rec, ensure_ascii=False))
else:
    delimiter = sys.argv[3] if len(sys.argv) > 3 else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f, delimiter=delimiter):
            if row:
                print(json.dumps(row, ensure_ascii=False))
