#!/usr/bin/python3
"""End-to-end pipeline benchmark: isoflow against a straightforward Python pipeline.

Usage: benchmarks/pipeline_bench.py ISOFLOW_PROGRAM [--rows 1000000] [--files 1000] [--workdir DIR]
                                    [--skip-python] [--latency-files 2000] [--no-memory]

1. `isoflow generate --landing` writes ROWS card transactions into FILES JSON Lines files.
2. A model is trained (`isoflow train`) on 50,000 generated transactions.
3. Triggered run, bronze + silver + gold all stored in SQLite (`isoflow run --once`): rows/s.
4. The same with bronze and silver `"stored": false`: rows/s.
5. Peak memory (see 7 below; measured before the Python pipeline loads pandas).
6. The same pipeline written plainly in Python: pandas.read_json per file, the expectation as a
   pandas filter, a scikit-learn IsolationForest (trained on the same training rows) scoring,
   and pandas' to_sql into SQLite (WAL, synchronous=NORMAL): rows/s, and the ratio.
7. Peak memory (the process's maximum resident set): the gold-only run with
   max_files_per_trigger 10 and 100, over half the landing files and over all of them. Memory
   should follow the batch limit, not the amount of data waiting.
8. Continuous mode: one-row files renamed into the landing directory at 200 files/s while
   `isoflow run --continuous` runs, with the source's default options (no use_notifications,
   no settle_time_ms: a continuous run turns notifications on itself); latency from each file's rename to its batch's commit
   (median and p99), read from the batch log.
Prints every figure with the ratio; all of it is measured in this one run.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

PIPELINE = {
    "name": "bench",
    "storage": "storage",
    "sources": {"transactions": {"path": "landing", "format": "json", "infer_column_types": True,
                                 "schema_hints": "tx_id BIGINT, cust_id BIGINT, Time DOUBLE, Amount DOUBLE",
                                 "max_files_per_trigger": 100, "settle_time_ms": 0}},
    "tables": [
        {"name": "transaction_readings_raw", "from": "transactions", "quality": "bronze"},
        {"name": "transaction_readings_cleaned", "from": "transaction_readings_raw", "quality": "silver",
         "expectations": [{"name": "valid_transaction_reading",
                           "constraint": "AMOUNT IS NOT NULL OR TIME IS NOT NULL", "on_violation": "drop"}]},
        {"name": "predictions", "from": "transaction_readings_cleaned", "quality": "gold",
         "score": {"model": "model.iforest"},
         "select": ["tx_id", "cust_id", "Amount", "anomaly_score", "is_anomaly"]},
    ],
}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def isoflow_run(program, workdir, stored_all, max_files=None, glob=None):
    """Runs the pipeline once; returns (seconds, peak resident set in bytes)."""
    spec = json.loads(json.dumps(PIPELINE))
    if not stored_all:
        spec["tables"][0]["stored"] = False
        spec["tables"][1]["stored"] = False
    if max_files:
        spec["sources"]["transactions"]["max_files_per_trigger"] = max_files
    if glob:
        spec["sources"]["transactions"]["path_glob_filter"] = glob
    shutil.rmtree(os.path.join(workdir, "storage"), ignore_errors=True)
    with open(os.path.join(workdir, "pipeline.json"), "w") as f:
        json.dump(spec, f)
    start = time.perf_counter()
    child = subprocess.Popen([program, "run", os.path.join(workdir, "pipeline.json"), "--once"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"isoflow run failed: {child.stderr.read().decode()}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def python_pipeline(workdir, rows):
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import IsolationForest
    train = pd.read_csv(os.path.join(workdir, "train.csv"))
    features = [f"V{i}" for i in range(1, 29)] + ["Amount"]
    model = IsolationForest(random_state=1).fit(train[features].to_numpy(dtype=np.float32))
    db_path = os.path.join(workdir, "python.db")
    if os.path.exists(db_path):
        os.remove(db_path)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    files = sorted(f for f in os.listdir(os.path.join(workdir, "landing")) if f.endswith(".json"))
    created = False
    start = time.perf_counter()
    for name in files:
        frame = pd.read_json(os.path.join(workdir, "landing", name), lines=True)
        cleaned = frame[frame["Amount"].notna() | frame["Time"].notna()]
        X = cleaned[features].to_numpy(dtype=np.float32)
        X = np.nan_to_num(X)
        scores = -model.score_samples(X)
        gold = pd.DataFrame({"tx_id": cleaned["tx_id"], "cust_id": cleaned["cust_id"], "Amount": cleaned["Amount"],
                             "anomaly_score": scores, "is_anomaly": model.predict(X) == -1})
        if not created:
            frame.head(0).to_sql("raw", db, index=False)
            cleaned.head(0).to_sql("cleaned", db, index=False)
            gold.head(0).to_sql("predictions", db, index=False)
            created = True
        frame.to_sql("raw", db, index=False, if_exists="append")
        cleaned.to_sql("cleaned", db, index=False, if_exists="append")
        gold.to_sql("predictions", db, index=False, if_exists="append")
        db.commit()
    return time.perf_counter() - start


def latency(program, workdir, files, rate):
    lat_dir = os.path.join(workdir, "latency")
    shutil.rmtree(lat_dir, ignore_errors=True)
    os.makedirs(os.path.join(lat_dir, "landing"))
    shutil.copy(os.path.join(workdir, "model.iforest"), lat_dir)
    spec = json.loads(json.dumps(PIPELINE))
    # The source options a user gets: a continuous run watches the landing directory (inotify)
    # by itself and takes a renamed file at once, whatever the settle time.
    del spec["sources"]["transactions"]["settle_time_ms"]
    with open(os.path.join(lat_dir, "pipeline.json"), "w") as f:
        json.dump(spec, f)
    runner = subprocess.Popen([program, "run", os.path.join(lat_dir, "pipeline.json"), "--continuous"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    renamed = {}
    record = '{"tx_id": %d, "cust_id": 1, "Time": %d.0, ' + ", ".join(f'"V{i}": 0.1' for i in range(1, 29)) + ', "Amount": 12.5}\n'
    start = time.time()
    for i in range(files):
        due = start + i / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        tmp = os.path.join(lat_dir, "landing", f".f{i}.tmp")
        final = os.path.join(lat_dir, "landing", f"f{i:07d}.json")
        with open(tmp, "w") as f:
            f.write(record % (i, i))
        os.rename(tmp, final)
        renamed[final] = time.time()
    time.sleep(2.0)
    runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=30)
    db = sqlite3.connect(os.path.join(lat_dir, "storage", "pipeline.db"))
    latencies = []
    for plan, committed in db.execute("SELECT plan, committed_at FROM _isoflow_batches WHERE state = 'committed'"):
        committed_s = datetime.datetime.fromisoformat(committed.replace("Z", "+00:00")).timestamp()
        for path in json.loads(plan)["files"]:
            if path in renamed:
                latencies.append(committed_s - renamed[path])
    latencies.sort()
    if not latencies:
        return None
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], len(latencies)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workdir", default="/tmp/isoflow_pipeline_bench")
    parser.add_argument("--skip-python", action="store_true")
    parser.add_argument("--latency-files", type=int, default=2000)
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure peak memory against the batch limit (default on)")
    args = parser.parse_args()
    program = os.path.abspath(args.program)
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    per_file = max(1, args.rows // args.files)
    run([program, "generate", "--landing", os.path.join(work, "landing"), "--rows", str(args.rows),
         "--rows-per-file", str(per_file), "--seed", "7", "--null-rate", "0.001"])
    run([program, "generate", "--rows", "50000", "--seed", "8", "--output", os.path.join(work, "train.csv")])
    run([program, "train", "--input", os.path.join(work, "train.csv"), "--output", os.path.join(work, "model.iforest"),
         "--exclude", "label,cust_id,Time", "--seed", "1"])
    print(f"data: {args.rows:,} rows in {args.files:,} JSON Lines files ({per_file} rows each)")

    seconds, peak = isoflow_run(program, work, True)
    stored = args.rows / seconds
    print(f"isoflow, bronze+silver+gold stored:     {stored:12,.0f} rows/s ({seconds:.2f} s, peak {peak / 2**20:.0f} MiB)")
    seconds, peak = isoflow_run(program, work, False)
    gold_only = args.rows / seconds
    print(f"isoflow, only gold stored:              {gold_only:12,.0f} rows/s ({seconds:.2f} s, peak {peak / 2**20:.0f} MiB)")
    # Before the Python pipeline: on Linux a child's peak resident set starts from its parent's
    # at fork time, and this script grows by 150 MB once pandas and scikit-learn are loaded.
    if args.memory:
        landing_mib = sum(e.stat().st_size for e in os.scandir(os.path.join(work, "landing"))) / 2**20
        print(f"peak memory, only gold stored (landing directory {landing_mib:.0f} MiB, {per_file} rows a file):")
        # File names are tx-NNNNNNNNN.json; with 1,000 files [0-4] in the hundreds digit is half.
        for max_files in (10, 100):
            subsets = [("all files", None)]
            if args.files == 1000:
                subsets.insert(0, ("half the files", "tx-000000[0-4]*"))
            for label, glob in subsets:
                _, peak = isoflow_run(program, work, False, max_files=max_files, glob=glob)
                print(f"  max_files_per_trigger {max_files:4d}, {label:15s}: peak {peak / 2**20:6.0f} MiB")
    if not args.skip_python:
        seconds = python_pipeline(work, args.rows)
        python = args.rows / seconds
        print(f"Python (pandas + scikit-learn + sqlite3): {python:10,.0f} rows/s ({seconds:.2f} s)")
        print(f"ratio isoflow/Python, all stored: {stored / python:.1f}x; only gold stored: {gold_only / python:.1f}x")
    if args.latency_files:
        result = latency(program, work, args.latency_files, 200.0)
        if result:
            median, p99, n = result
            print(f"continuous, one-row files at 200 files/s: rename -> commit latency median {median * 1e3:.1f} ms, "
                  f"p99 {p99 * 1e3:.1f} ms over {n} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
