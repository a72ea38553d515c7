"""Prints what Python's json / csv modules parse from a file, one JSON line per record, in a
canonical text form the C++ test compares with isoflow's string columns.

usage: python_parse.py json|csv FILE
json: each record becomes {key: text}, text being str for strings, repr for numbers,
      "true"/"false", null, or compact JSON for nested values.
csv:  each row becomes a list of strings (the header row included).
"""
import csv
import json
import sys


def canon(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


kind, path = sys.argv[1], sys.argv[2]
if kind == "json":
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                print(json.dumps({k: canon(v) for k, v in rec.items()}, ensure_ascii=False))
else:
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if row:
                print(json.dumps(row, ensure_ascii=False))
