"""The serving benchmark's peer: Flask + scikit-learn serving a 100-tree
random forest on UCI_Credit_Card, run the way most teams run it (Flask's own
threaded server, one process).

It answers the body joule's predict endpoint takes, {"instances": [{X1: …,
…, X23: …}]}, with one label and the class probabilities per row.

Usage: python3 flask_app.py CSV PORT
"""

import csv
import sys

import numpy as np
from flask import Flask, jsonify, request
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

FEATURES = ["X%d" % i for i in range(1, 24)]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[c]) for c in FEATURES] for r in rows])
    y = np.array([int(float(r["Y"])) for r in rows])
    return x, y


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    x, y = load(path)
    # The same share of rows joule trains on (80 %, seed 42), with
    # scikit-learn's defaults otherwise, as joule's random_forest has.
    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=42)
    model = RandomForestClassifier(n_estimators=100, random_state=42)
    model.fit(x_train, y_train)
    classes = [str(c) for c in model.classes_]

    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        body = request.get_json(force=True)
        try:
            rows = [[float(inst[c]) for c in FEATURES] for inst in body["instances"]]
        except (KeyError, TypeError, ValueError) as e:
            return jsonify(error=str(e)), 400
        proba = model.predict_proba(np.array(rows))
        return jsonify(
            predictions=[classes[int(np.argmax(p))] for p in proba],
            probabilities=[dict(zip(classes, map(float, p))) for p in proba],
        )

    print("ready", flush=True)
    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main()
