#!/usr/bin/python3
"""Fits scikit-learn IsolationForests for the C++ parity test and writes, per data set,
the exported model (tools/export_sklearn.py), the data as float64 text, score_samples and predict.

Usage: sklearn_parity.py OUT_DIR [DATA.csv[.gz] ...]
Without data files it makes synthetic sets (duplicates, constant columns, one column).
Each set gets another configuration (max_samples, max_features, bootstrap, contamination),
so that every parameter that changes the trees is crossed with real data.
"""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from export_sklearn import main as export_main, to_interchange  # noqa: E402
import joblib  # noqa: E402
import json  # noqa: E402

CONFIGS = [
    dict(),
    dict(max_features=0.5, contamination=0.1),
    dict(bootstrap=True, max_samples=512),
    dict(max_samples=0.3, n_estimators=50),
    dict(max_features=2, contamination=0.05),
]


def synthetic_sets():
    rng = np.random.RandomState(3)
    a = rng.normal(size=(2000, 6))
    a[:, 2] = 1.0                      # a constant column
    a[::7] = a[1::7][: len(a[::7])]    # many duplicate rows
    b = rng.uniform(-1e6, 1e6, size=(700, 1))  # one column
    c = np.round(rng.exponential(size=(1500, 4)), 1)  # many ties
    return [("synthetic_constant_duplicates", pd.DataFrame(a, columns=[f"c{i}" for i in range(6)])),
            ("synthetic_one_column", pd.DataFrame(b, columns=["x"])),
            ("synthetic_ties", pd.DataFrame(c, columns=list("abcd")))]


def main():
    out = sys.argv[1]
    sets = []
    for path in sys.argv[2:]:
        name = os.path.basename(path).split(".")[0]
        frame = pd.read_csv(path)
        sets.append((name, frame.drop(columns=["label"])))
    if not sets:
        sets = synthetic_sets()
    for index, (name, frame) in enumerate(sets):
        config = dict(CONFIGS[index % len(CONFIGS)])
        if config.get("max_features") == 2 and frame.shape[1] < 2:
            config.pop("max_features")
        model = IsolationForest(random_state=index, **config).fit(frame)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        if index == 0:
            # The first set goes through the exporter as users run it: a joblib file in, JSON out.
            joblib.dump(model, os.path.join(folder, "model.joblib"))
            if export_main(["export_sklearn.py", os.path.join(folder, "model.joblib"),
                            os.path.join(folder, "model.json")]) != 0:
                raise SystemExit("export_sklearn.py failed")
        else:
            with open(os.path.join(folder, "model.json"), "w") as f:
                json.dump(to_interchange(model), f)
        # Raw little-endian arrays: rows, columns (int64), then X row-major (float64); scores
        # (float64); predict (int32). Exact, and fast to write and read.
        X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
        with open(os.path.join(folder, "X.bin"), "wb") as f:
            np.array(X.shape, dtype="<i8").tofile(f)
            X.astype("<f8").tofile(f)
        model.score_samples(frame).astype("<f8").tofile(os.path.join(folder, "scores.bin"))
        model.predict(frame).astype("<i4").tofile(os.path.join(folder, "predict.bin"))
        with open(os.path.join(folder, "config.txt"), "w") as f:
            f.write(repr(config) + "\n")
    with open(os.path.join(out, "sets.txt"), "w") as f:
        f.write("\n".join(name for name, _ in sets) + "\n")


if __name__ == "__main__":
    main()
