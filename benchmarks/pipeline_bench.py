#!/usr/bin/python3
"""End-to-end pipeline benchmark: isoflow against a straightforward Python pipeline.

Usage: benchmarks/pipeline_bench.py ISOFLOW_PROGRAM [--rows 1000000] [--files 1000] [--workdir DIR]
                                    [--skip-python] [--latency-files 2000]

1. `isoflow generate --landing` writes ROWS card transactions into FILES JSON Lines files.
2. A model is trained (`isoflow train`) on 50,000 generated transactions.
3. Triggered run, bronze + silver + gold all stored in SQLite (`isoflow run --once`): rows/s.
4. The same with bronze and silver `"stored": false`: rows/s.
5. The same pipeline written plainly in Python: pandas.read_json per file, the expectation as a
   pandas filter, a scikit-learn IsolationForest (trained on the same training rows) scoring,
   and pandas' to_sql into SQLite (WAL, synchronous=NORMAL): rows/s, and the ratio.
6. Continuous mode: one-row files renamed into the landing directory at 200 files/s while
   `isoflow run --continuous` runs; latency from each file's rename to its batch's commit
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


def isoflow_run(program, workdir, stored_all):
    spec = json.loads(json.dumps(PIPELINE))
    if not stored_all:
        spec["tables"][0]["stored"] = False
        spec["tables"][1]["stored"] = False
    shutil.rmtree(os.path.join(workdir, "storage"), ignore_errors=True)
    with open(os.path.join(workdir, "pipeline.json"), "w") as f:
        json.dump(spec, f)
    start = time.perf_counter()
    out = run([program, "run", os.path.join(workdir, "pipeline.json"), "--once"]).stdout
    seconds = time.perf_counter() - start
    return seconds, out


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
    spec["sources"]["transactions"]["use_notifications"] = True
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

    seconds, _ = isoflow_run(program, work, True)
    stored = args.rows / seconds
    print(f"isoflow, bronze+silver+gold stored:     {stored:12,.0f} rows/s ({seconds:.2f} s)")
    seconds, _ = isoflow_run(program, work, False)
    gold_only = args.rows / seconds
    print(f"isoflow, only gold stored:              {gold_only:12,.0f} rows/s ({seconds:.2f} s)")
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
