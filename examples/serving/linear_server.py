#!/usr/bin/env python3
"""A model server for `joule deploy … -- python3 linear_server.py`.

Standard library only. joule starts one process per replica with PORT in the
environment, waits for GET /healthz to answer 200, and forwards predict
bodies to POST /predict:

    {"instances": [{"x1": 1.0, "x2": 2.0}, ...]}   or   {"inputs": {"x1": [...], ...}}

and expects one prediction per row back:

    {"predictions": [3.5, ...]}

The model here is linear: intercept + sum(coefficient * feature), read from
the JSON file named by MODEL_FILE (default: linear_model.json beside this
script). Replace predict_rows with your own model.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.environ.get("MODEL_FILE", os.path.join(HERE, "linear_model.json"))) as f:
    MODEL = json.load(f)


def predict_rows(rows):
    out = []
    for i, row in enumerate(rows):
        y = MODEL["intercept"]
        for name, coef in MODEL["coefficients"].items():
            if name not in row:
                raise ValueError(f"row {i}: missing feature {name!r}")
            y += coef * float(row[name])
        out.append(y)
    return out


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/predict":
            self._send(404, {"error": "not found"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if "instances" in body:
                rows = body["instances"]
            else:
                cols = body["inputs"]
                n = len(next(iter(cols.values())))
                rows = [{k: v[i] for k, v in cols.items()} for i in range(n)]
            self._send(200, {"predictions": predict_rows(rows)})
        except (ValueError, KeyError, TypeError, StopIteration) as e:
            self._send(400, {"error": str(e)})

    def log_message(self, fmt, *args):  # one line per request on stderr is too much
        pass


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    print(f"linear model server on 127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
