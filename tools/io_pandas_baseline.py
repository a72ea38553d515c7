#!/usr/bin/env python3
"""Times pandas on the files benchmarks/bench_io.cpp generates, then (optionally) runs the
benchmark itself and prints both figures and the ratio.

usage: tools/io_pandas_baseline.py [PATH/TO/isoflow_bench_io]

The benchmark writes its data to $TMPDIR/isoflow_bench_io (cards.jsonl, cards.csv); run it
once first, or pass its path here and this script runs it.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import pandas as pd

DATA = os.path.join(tempfile.gettempdir(), "isoflow_bench_io")


def best_rate(fn, rows, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return rows / best


def main():
    bench = sys.argv[1] if len(sys.argv) > 1 else None
    ours = {}
    if bench:
        out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_filter=typed"],
                             check=True, capture_output=True, text=True).stdout
        for b in json.loads(out)["benchmarks"]:
            ours[b["name"]] = b["items_per_second"]
    jsonl = os.path.join(DATA, "cards.jsonl")
    csv = os.path.join(DATA, "cards.csv")
    if not os.path.exists(jsonl):
        sys.exit(f"{jsonl} is missing: run isoflow_bench_io first (or pass its path)")
    rows = sum(1 for _ in open(jsonl))
    pandas_json = best_rate(lambda: pd.read_json(jsonl, lines=True), rows)
    pandas_csv = best_rate(lambda: pd.read_csv(csv), rows)
    print(f"rows per file: {rows}, bytes per JSON row: {os.path.getsize(jsonl) / rows:.0f}")
    print(f"pandas.read_json(lines=True): {pandas_json:,.0f} rows/s (CPU time)")
    print(f"pandas.read_csv:              {pandas_csv:,.0f} rows/s (CPU time)")
    if ours:
        j = ours.get("BM_json_lines_typed")
        c = ours.get("BM_csv_typed")
        print(f"isoflow JSON Lines (typed):   {j:,.0f} rows/s  -> {j / pandas_json:.1f}x pandas")
        print(f"isoflow CSV (typed):          {c:,.0f} rows/s  -> {c / pandas_csv:.1f}x pandas")


if __name__ == "__main__":
    main()
