#!/usr/bin/python3
"""Make the XGBoost fixtures of internal/ml/xgb/testdata.

Trains small models with Debian's python3-xgboost (1.7) on data the project
ships and writes, for each fixture NAME:

    NAME.json  the model, as xgboost's Booster.save_model writes it
    NAME.csv   every row the model is checked on: the features (empty for a
               missing value), then xgboost's margins (output_margin=True,
               one column per output) and its predictions (one column per
               output: probabilities, the class for multi:softmax, or the
               regression estimate)

The Go test (internal/ml/xgb) reads both and asserts that joule's
predictions equal xgboost's to 1e-6 on every row. Some feature values are
blanked at random (seeded), before training, so that the trees learn
default directions for missing values and the fixtures exercise them.

Usage: scripts/make-xgb-fixtures.py   (from anywhere; rewrites the fixtures)
"""
import csv
import os

import numpy as np
import xgboost as xgb

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "examples", "data")
OUT = os.path.join(ROOT, "internal", "ml", "xgb", "testdata")


def blank(X, frac, seed):
    """Set a seeded fraction of the cells of X to NaN (missing)."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < frac] = np.nan
    return X


def wdbc():
    X, y = [], []
    with open(os.path.join(DATA, "healthcare", "wdbc.data")) as f:
        for r in csv.reader(f):
            X.append([float(v) for v in r[2:]])
            y.append(1 if r[1] == "M" else 0)
    return np.array(X), np.array(y)


def cleveland3():
    """Cleveland heart disease; '?' is missing; num 0 / 1-2 / 3-4 -> 3 classes."""
    X, y = [], []
    with open(os.path.join(DATA, "healthcare", "processed.cleveland.data")) as f:
        for r in csv.reader(f):
            if not r:
                continue
            X.append([np.nan if v == "?" else float(v) for v in r[:-1]])
            num = int(float(r[-1]))
            y.append(0 if num == 0 else 1 if num <= 2 else 2)
    return np.array(X), np.array(y)


def enb_y1():
    X, y = [], []
    with open(os.path.join(DATA, "energy", "ENB2012_data.csv")) as f:
        for r in csv.DictReader(f):
            X.append([float(r[f"X{i}"]) for i in range(1, 9)])
            y.append(float(r["Y1"]))
    return np.array(X), np.array(y)


def fmt(v):
    """Shortest text that reads back as the same float32 (or empty: missing)."""
    if np.isnan(v):
        return ""
    return str(np.float32(v))


def write(name, X, y, params, rounds):
    dtrain = xgb.DMatrix(X, label=y, missing=np.nan)
    bst = xgb.train(params, dtrain, num_boost_round=rounds)
    bst.save_model(os.path.join(OUT, name + ".json"))
    dm = xgb.DMatrix(X, missing=np.nan)
    margin = bst.predict(dm, output_margin=True).reshape(len(X), -1)
    pred = bst.predict(dm).reshape(len(X), -1)
    d = X.shape[1]
    with open(os.path.join(OUT, name + ".csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([f"f{j}" for j in range(d)]
                   + [f"margin{k}" for k in range(margin.shape[1])]
                   + [f"pred{k}" for k in range(pred.shape[1])])
        for i in range(len(X)):
            w.writerow([fmt(v) for v in X[i]] + [fmt(v) for v in margin[i]] + [fmt(v) for v in pred[i]])
    print(f"{name}: {len(X)} rows, {d} features, {rounds} rounds, {params['objective']}")


def main():
    os.makedirs(OUT, exist_ok=True)
    X, y = wdbc()
    write("binary", blank(X, 0.05, 1), y,
          {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "base_score": 0.3, "seed": 0}, 30)
    X, y = cleveland3()
    X = blank(X, 0.05, 2)
    write("softprob", X, y,
          {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3, "seed": 0}, 20)
    write("softmax", X, y,
          {"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "eta": 0.3, "seed": 0}, 10)
    X, y = enb_y1()
    write("regression", blank(X, 0.05, 3), y,
          {"objective": "reg:squarederror", "max_depth": 5, "eta": 0.2, "base_score": float(np.mean(y)),
           "subsample": 0.8, "colsample_bytree": 0.8, "seed": 0}, 40)


if __name__ == "__main__":
    main()
