#!/usr/bin/python3
"""Write a fitted scikit-learn IsolationForest in isoflow's JSON interchange format.

Usage: tools/export_sklearn.py FITTED.joblib|FITTED.pkl OUT.json

The input is a file written by joblib.dump or pickle.dump of a fitted
sklearn.ensemble.IsolationForest (scikit-learn 1.2 or newer). The output holds every tree's
node arrays, each tree's feature subset (estimators_features_), max_samples_, offset_ and,
when the model was fitted on named columns, feature_names_in_. The format is described in
docs/model-format.md. Load it with isoflow::IsolationForest<float>::load("OUT.json"): scikit-learn
compares float32 inputs against its thresholds, so the model is float32.
"""
import json
import math
import pickle
import sys


def load(path):
    try:
        import joblib
        return joblib.load(path)
    except ImportError:
        with open(path, "rb") as f:
            return pickle.load(f)


def to_interchange(model):
    from sklearn.ensemble import IsolationForest
    if not isinstance(model, IsolationForest):
        raise SystemExit(f"expected a fitted sklearn.ensemble.IsolationForest, got {type(model).__name__}")
    if not hasattr(model, "estimators_"):
        raise SystemExit("the IsolationForest is not fitted")
    trees = []
    for estimator, features in zip(model.estimators_, model.estimators_features_):
        t = estimator.tree_
        trees.append({
            "features": [int(f) for f in features],
            "feature": [int(f) for f in t.feature],
            "threshold": [float(x) for x in t.threshold],
            "children_left": [int(c) for c in t.children_left],
            "children_right": [int(c) for c in t.children_right],
            "n_node_samples": [int(n) for n in t.n_node_samples],
        })
    params = model.get_params()
    out = {
        "format": "isoflow.IsolationForest",
        "format_version": 1,
        "float_type": "float32",
        "sklearn_version": __import__("sklearn").__version__,
        "n_features_in": int(model.n_features_in_),
        "max_samples": int(model.max_samples_),
        "offset": float(model.offset_),
        "params": {
            "n_estimators": int(len(model.estimators_)),
            "max_samples": params["max_samples"],
            "contamination": params["contamination"],
            "max_features": params["max_features"],
            "bootstrap": bool(params["bootstrap"]),
            "n_jobs": params["n_jobs"],
            "random_state": params["random_state"] if isinstance(params["random_state"], int) else None,
            "warm_start": bool(params["warm_start"]),
        },
        "trees": trees,
    }
    if hasattr(model, "feature_names_in_"):
        out["feature_names_in"] = [str(n) for n in model.feature_names_in_]
    for t in trees:
        for x in t["threshold"]:
            if not math.isfinite(x):
                raise SystemExit("a threshold is not finite")
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    model = load(argv[1])
    with open(argv[2], "w") as f:
        json.dump(to_interchange(model), f)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
