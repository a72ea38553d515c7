#!/usr/bin/python3
"""ROC AUC of isoflow against scikit-learn's IsolationForest on labelled data sets.

Usage: tools/accuracy.py ISOFLOW_PROGRAM DATA_DIR [--seeds 5] [--max-seeds 40] [--target-se 0.005]
                        [--json OUT.json] [--markdown]

For every CSV (or .csv.gz) in DATA_DIR whose last column is `label` (1 = anomaly), both
libraries train with default parameters on all rows without the label, once per seed, and
score every row; the AUC is computed with sklearn.metrics.roc_auc_score on minus score_samples
for both. isoflow runs through its program (`isoflow train` and `isoflow score`), so the whole
path, CSV reading included, is what is measured. Prints one row per data set with both means
and their difference, and the mean difference over all sets.

Each library runs with seeds 0, 1, ... (at least --seeds). The two libraries draw different
random trees, so the difference of two 5-seed means is itself noisy: on a small set such as
vowels (1,456 rows) one seed's AUC varies by about 0.03, and the difference of two 5-seed means
by about 0.02. So, after the first --seeds seeds, more are added (up to --max-seeds) until the
standard error of the difference is below --target-se (with --check: until the difference is
within the bound by two standard errors); the table shows the seeds used and the standard
error, so that a difference can be told apart from noise.
"""
import argparse
import concurrent.futures
import functools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score


def isoflow_auc(program, path, seed, workdir, labels):
    model = os.path.join(workdir, "model.iforest")
    scores = os.path.join(workdir, "scores.csv")
    subprocess.run([program, "train", "--input", path, "--output", model, "--exclude", "label",
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([program, "score", "--model", model, "--input", path, "--output", scores],
                   check=True, stdout=subprocess.DEVNULL)
    s = pd.read_csv(scores)["score"].to_numpy()
    return roc_auc_score(labels, -s)


@functools.lru_cache(maxsize=1)
def load_set(path):
    frame = pd.read_csv(path, float_precision="round_trip")
    return frame["label"].to_numpy(), frame.drop(columns=["label"]).to_numpy(dtype=np.float64)


def one_seed(program, path, seed):
    """(scikit-learn AUC, isoflow AUC) for one seed; runs in a worker process."""
    labels, X = load_set(path)
    sk = roc_auc_score(labels, -IsolationForest(random_state=seed).fit(X).score_samples(X))
    with tempfile.TemporaryDirectory() as workdir:
        iso = isoflow_auc(program, path, seed, workdir, labels)
    return sk, iso


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program")
    parser.add_argument("data_dir")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-seeds", type=int, default=40)
    parser.add_argument("--target-se", type=float, default=0.005)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="seeds computed at once, in separate processes")
    parser.add_argument("--json")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--check", nargs=2, type=float, metavar=("PER_SET", "MEAN"),
                        help="exit 1 unless every |difference| <= PER_SET and |mean difference| <= MEAN; "
                             "exit 77 (skipped) when DATA_DIR does not exist")
    args = parser.parse_args()
    if args.check and not os.path.isdir(args.data_dir):
        print(f"SKIPPED: {args.data_dir} is absent (it exists only on isoflow's own machines and CI)")
        return 77
    files = sorted(f for f in os.listdir(args.data_dir) if f.endswith(".csv") or f.endswith(".csv.gz"))
    rows = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.workers) as pool:
        for name in files:
            path = os.path.join(args.data_dir, name)
            labels, X = load_set(path)
            sk, iso = [], []

            def standard_error():
                return float(np.sqrt(np.var(sk, ddof=1) / len(sk) + np.var(iso, ddof=1) / len(iso)))

            def settled():
                if args.check:  # clearly within the bound: two standard errors to spare
                    return abs(np.mean(iso) - np.mean(sk)) + 2 * standard_error() <= args.check[0]
                return standard_error() <= args.target_se

            while len(sk) < args.seeds or (not settled() and len(sk) < args.max_seeds):
                first = len(sk)
                count = max(args.seeds - first, 1) if first < args.seeds else args.workers
                count = min(count, args.max_seeds - first)
                for a, b in pool.map(one_seed, [args.program] * count, [path] * count,
                                     range(first, first + count)):
                    sk.append(a)
                    iso.append(b)
            rows.append({"data_set": name.split(".")[0], "rows": len(labels), "features": X.shape[1],
                         "seeds": len(sk), "sklearn_auc": float(np.mean(sk)), "isoflow_auc": float(np.mean(iso)),
                         "difference": float(np.mean(iso) - np.mean(sk)), "standard_error": standard_error(),
                         "difference_first_5": float(np.mean(iso[:5]) - np.mean(sk[:5]))})
            print(f"{rows[-1]['data_set']:>24}  seeds {len(sk):2d}  sklearn {rows[-1]['sklearn_auc']:.4f}  "
                  f"isoflow {rows[-1]['isoflow_auc']:.4f}  diff {rows[-1]['difference']:+.4f} "
                  f"(se {rows[-1]['standard_error']:.4f}; first 5 seeds {rows[-1]['difference_first_5']:+.4f})",
                  file=sys.stderr)
    mean_difference = float(np.mean([r["difference"] for r in rows]))
    if args.markdown:
        print("| data set | rows | features | seeds | scikit-learn AUC | isoflow AUC | difference | "
              "standard error | difference, seeds 0-4 only |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['data_set']} | {r['rows']:,} | {r['features']} | {r['seeds']} | {r['sklearn_auc']:.4f} | "
                  f"{r['isoflow_auc']:.4f} | {r['difference']:+.4f} | {r['standard_error']:.4f} | "
                  f"{r['difference_first_5']:+.4f} |")
        print(f"| **mean** | | | | {np.mean([r['sklearn_auc'] for r in rows]):.4f} | "
              f"{np.mean([r['isoflow_auc'] for r in rows]):.4f} | {mean_difference:+.4f} | | "
              f"{np.mean([r['difference_first_5'] for r in rows]):+.4f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seeds": args.seeds, "data_sets": rows, "mean_difference": mean_difference}, f, indent=1)
    if args.check:
        per_set, mean_bound = args.check
        bad = [r for r in rows if abs(r["difference"]) > per_set]
        for r in bad:
            print(f"FAILED: {r['data_set']}: |{r['difference']:+.4f}| > {per_set}")
        if abs(mean_difference) > mean_bound:
            print(f"FAILED: mean difference |{mean_difference:+.4f}| > {mean_bound}")
        if bad or abs(mean_difference) > mean_bound or not rows:
            return 1
        print(f"every data set within {per_set} of scikit-learn; mean difference {mean_difference:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
