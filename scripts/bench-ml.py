#!/usr/bin/python3
"""scikit-learn side of scripts/bench-ml.sh.

Fits and predicts on UCI_Credit_Card's reference split (SplitMix64 seed 42
Fisher-Yates, first 80% train) with the hyperparameters joule's benchmarks
use, and prints one line per measurement:

    sklearn <name> <median seconds per op> [rows/s]

Both sides may use every core: the forest runs with n_jobs=-1;
LogisticRegression (lbfgs) and GradientBoostingClassifier have no n_jobs.
Run with Debian's python3-sklearn.
"""
import csv
import statistics
import sys
import time

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

M64 = (1 << 64) - 1


def permutation(n, seed):
    """SplitMix64 Fisher-Yates, as REFERENCE.md documents it."""
    state = seed
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        j = z % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def main():
    path, reps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    X = np.array([[float(r[f"X{i}"]) for i in range(1, 24)] for r in rows])
    y = np.array([int(r["Y"]) for r in rows])
    perm = permutation(len(y), 42)
    ntr = len(y) * 8 // 10
    tr, te = np.array(perm[:ntr]), np.array(perm[ntr:])
    models = {
        "FitLogistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "FitForest": lambda: RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=-1),
        "FitBoost": lambda: GradientBoostingClassifier(n_estimators=100, random_state=0),
    }
    for name, make in models.items():
        times, model = [], None
        for _ in range(reps):
            model = make()
            t0 = time.perf_counter()
            model.fit(X[tr], y[tr])
            times.append(time.perf_counter() - t0)
        print(f"sklearn {name} {statistics.median(times):.6f}", flush=True)
        ptimes = []
        for _ in range(max(reps, 5)):
            t0 = time.perf_counter()
            model.predict_proba(X[te])
            ptimes.append(time.perf_counter() - t0)
        p = statistics.median(ptimes)
        print(f"sklearn {name.replace('Fit', 'Predict')} {p:.6f} {len(te) / p:.0f}", flush=True)


if __name__ == "__main__":
    main()
