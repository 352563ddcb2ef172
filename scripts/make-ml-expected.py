#!/usr/bin/python3
"""Expected values for joule's ML tests, computed with Debian's
python3-sklearn (1.2.1) on data the project ships.

Writes:
  internal/ml/linear/testdata/multinomial.json
      Cleveland heart disease (complete rows, num 0..4 as five classes),
      features standardised by StandardScaler; for C = 1 and C = 0.1,
      LogisticRegression(multi_class="multinomial")'s coefficients,
      intercepts and predict_proba on every row. The solver is newton-cg
      with tol 1e-8: the default lbfgs stops on its relative-decrease test
      (ftol 64 eps) with the gradient still near 1e-2, which leaves the
      coefficients some 3e-4 from the optimum that both approach.
  internal/ml/testdata/metrics.json
      sklearn.metrics on fixed label/score vectors (written alongside):
      log_loss, confusion_matrix, precision/recall/F1 (per class, macro,
      weighted), calibration_curve, ndcg_score; the inputs are seeded random
      vectors, stored in the file with the results.

Usage: scripts/make-ml-expected.py   (rewrites both files)
"""
import csv
import json
import os

import numpy as np
from sklearn import metrics
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def cleveland5():
    X, y = [], []
    with open(os.path.join(ROOT, "examples", "data", "healthcare", "processed.cleveland.data")) as f:
        for r in csv.reader(f):
            if not r or "?" in r:
                continue
            X.append([float(v) for v in r[:-1]])
            y.append(int(float(r[-1])))
    return np.array(X), np.array(y)


def multinomial():
    X, y = cleveland5()
    Xs = StandardScaler().fit_transform(X)
    cases = []
    for C in (1.0, 0.1):
        m = LogisticRegression(multi_class="multinomial", C=C, solver="newton-cg", tol=1e-8, max_iter=1000).fit(Xs, y)
        cases.append({"C": C, "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(),
                      "proba": m.predict_proba(Xs).tolist()})
    out = {"X": Xs.tolist(), "y": y.tolist(), "cases": cases}
    with open(os.path.join(ROOT, "internal", "ml", "linear", "testdata", "multinomial.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


def metric_cases():
    rng = np.random.default_rng(6)
    out = {}
    # Multiclass: 4 classes; wrong predictions never name class 3.
    n, k = 200, 4
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    prob = rng.dirichlet(np.ones(k), n)
    prob[:5] = np.eye(k)[(y[:5] + 1) % k]  # confident and wrong: clipping matters
    out["multiclass"] = {
        "k": k, "y": y.tolist(), "pred": pred.tolist(), "prob": prob.tolist(),
        "log_loss": metrics.log_loss(y, prob, labels=list(range(k))),
        "confusion": metrics.confusion_matrix(y, pred, labels=list(range(k))).tolist(),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, labels=list(range(k)), average=avg, zero_division=0)
        out["multiclass"][avg] = {"precision": p, "recall": r, "f1": f}
    p, r, f, sup = metrics.precision_recall_fscore_support(y, pred, labels=list(range(k)), average=None, zero_division=0)
    out["multiclass"]["per_class"] = {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": sup.tolist()}
    # Binary calibration, with probabilities on the bin edges and at 0 and 1.
    yb = rng.integers(0, 2, 300)
    pb = np.clip(yb * 0.3 + rng.random(300) * 0.7, 0, 1)
    pb[:6] = [0.0, 1.0, 0.2, 0.5, 0.1, 0.6]
    out["calibration"] = {"y": yb.tolist(), "prob": pb.tolist(), "cases": []}
    for bins in (5, 10):
        t, pr = calibration_curve(yb, pb, n_bins=bins)
        out["calibration"]["cases"].append({"bins": bins, "prob_true": t.tolist(), "prob_pred": pr.tolist()})
    out["binary_log_loss"] = metrics.log_loss(yb, pb)
    # NDCG: graded relevance 0..3, scores with ties.
    rel = rng.integers(0, 4, (20, 15)).astype(float)
    rel[3] = 0  # a query with nothing relevant scores 0
    score = np.round(rng.random((20, 15)) * 8) / 8
    out["ndcg"] = {"relevance": rel.tolist(), "score": score.tolist(),
                   "cases": [{"k": kk or 0, "ndcg": metrics.ndcg_score(rel, score, k=kk)} for kk in (None, 1, 5, 10)]}
    with open(os.path.join(ROOT, "internal", "ml", "testdata", "metrics.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(os.path.join(ROOT, "internal", "ml", "linear", "testdata"), exist_ok=True)
    multinomial()
    metric_cases()
