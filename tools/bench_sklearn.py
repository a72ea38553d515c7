#!/usr/bin/env python3
"""Runs scikit-learn's IsolationForest and isoflow's benchmark on the same data, in the same run,
and prints both figures and their ratios (docs/performance.md).

The data are the benchmark's (benchmarks/bench_forest.cpp, bench_value): every value is computed
here with numpy the same way, and checked against rows the benchmark prints before timing.

    /usr/bin/python3 tools/bench_sklearn.py --bench build/benchmarks/isoflow_bench_forest

Figures are rows per second of CPU time for one thread (the machine may be shared).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def mix(x):
    z = (x + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def bench_data(n, d, chunk=1 << 18):
    """The n x d float32 matrix of bench_forest.cpp's data(n, d)."""
    out = np.empty((n, d), dtype=np.float32)
    scale = 1.0 + (np.arange(d, dtype=np.uint64) % np.uint64(7)).astype(np.float64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        i = np.arange(start, stop, dtype=np.uint64)[:, None]
        k = i * np.uint64(d) + np.arange(d, dtype=np.uint64)[None, :]
        u1 = (mix(np.uint64(2) * k) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        u2 = (mix(np.uint64(2) * k + np.uint64(1)) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        v = (u1 + u2 - 1.0) * scale[None, :]
        v[(i[:, 0] % np.uint64(997)) == 0] += 6.0
        out[start:stop] = v.astype(np.float32)
    return out


def check_same_data(bench, X):
    """The benchmark prints some rows of its data; they must equal ours bit for bit."""
    n, d = X.shape
    text = subprocess.run([bench, f"--isoflow_print_rows={n},{d}"], check=True,
                          capture_output=True, text=True).stdout
    checked = 0
    for line in text.splitlines():
        row, *values = line.split()
        ours = [float(x).hex() for x in X[int(row)]]
        theirs = [float.fromhex(v).hex() for v in values]
        if ours != theirs:
            sys.exit(f"bench_sklearn.py: row {row} of the benchmark's data differs from numpy's")
        checked += 1
    if checked == 0:
        sys.exit("bench_sklearn.py: the benchmark printed no rows to compare")


def cpu_seconds(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def run_bench(bench, pattern, repetitions):
    out = subprocess.run([bench, f"--benchmark_filter={pattern}", "--benchmark_format=json",
                          f"--benchmark_repetitions={repetitions}"],
                         check=True, capture_output=True, text=True).stdout
    figures = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            figures[b["run_name"]] = b
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True, help="path of isoflow_bench_forest")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows fitted on (1M)")
    parser.add_argument("--score-rows", type=int, default=100_000,
                        help="rows scikit-learn scores (rows/s does not depend on it; 100k)")
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, best (sklearn) / median (isoflow)")
    args = parser.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"bench_sklearn.py: {args.bench} is not an executable")

    n, d = args.rows, args.features
    X = bench_data(n, d)
    check_same_data(args.bench, X)

    def sk_fit():
        return IsolationForest(n_estimators=100, max_samples=256, n_jobs=1, random_state=1).fit(X)

    fit_s = cpu_seconds(sk_fit, args.repeat)
    model = sk_fit()
    part = X[: args.score_rows]
    score_s = cpu_seconds(lambda: model.score_samples(part), args.repeat)
    sk_score = args.score_rows / score_s

    tag = f"d{d}/trees100/psi256/rows{n // 1_000_000}M/jobs1"
    figures = run_bench(args.bench, f"^(score/automatic|score/scalar|fit)/{tag}$", args.repeat)
    iso_auto = figures[f"score/automatic/{tag}"]["items_per_second"]
    iso_scalar = figures[f"score/scalar/{tag}"]["items_per_second"]
    fit = figures[f"fit/{tag}"]
    iso_fit_s = fit["cpu_time"] * {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[fit["time_unit"]]

    print(f"data: {n} x {d} float32 (bench_forest.cpp's), 100 trees, psi 256, one thread, CPU time")
    print(f"{'':34}{'scikit-learn':>14}{'isoflow':>14}{'ratio':>10}")
    print(f"{'score_samples, rows/s (automatic)':34}{sk_score:14,.0f}{iso_auto:14,.0f}{iso_auto / sk_score:9.1f}x")
    print(f"{'score_samples, rows/s (scalar)':34}{sk_score:14,.0f}{iso_scalar:14,.0f}{iso_scalar / sk_score:9.1f}x")
    print(f"{'fit, ms':34}{fit_s * 1e3:14.1f}{iso_fit_s * 1e3:14.2f}{fit_s / iso_fit_s:9.1f}x")


if __name__ == "__main__":
    main()
