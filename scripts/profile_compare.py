#!/usr/bin/env python3
"""Compare a joule dataset profile with pandas on the same file.

usage: profile_compare.py PROFILE.json CSV --sep SEP --header true|false

PROFILE.json is a joule.DatasetProfile (as `joule dataset profile NAME -o json`
prints it, or as the Go test writes it). For every numeric column whose
profile has a mean, the mean and the sample standard deviation (ddof=1) must
match pandas within 1e-9 relative. Headerless files are matched by position
(joule names their columns column0, column1, ...). Exits 1 on any mismatch and
prints one line per column checked.
"""
import argparse
import json
import sys

import pandas as pd

NA = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "?"]


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("csv")
    ap.add_argument("--sep", default=",")
    ap.add_argument("--header", default="true")
    ap.add_argument("--tol", type=float, default=1e-9)
    a = ap.parse_args()
    with open(a.profile) as f:
        prof = json.load(f)
    header = 0 if a.header == "true" else None
    df = pd.read_csv(a.csv, sep=a.sep, header=header, na_values=NA, keep_default_na=False)
    if header is None:
        df.columns = [f"column{i}" for i in range(len(df.columns))]
    bad = checked = 0
    for col in prof["columns"]:
        if col.get("mean") is None:
            continue
        s = pd.to_numeric(df[col["name"]], errors="raise")
        checked += 1
        for stat, want in (("mean", s.mean()), ("std", s.std(ddof=1))):
            got = col.get(stat)
            if got is None:
                print(f"{col['name']}: {stat} missing in profile")
                bad += 1
                continue
            r = rel(got, want)
            ok = r <= a.tol
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} {col['name']:<30} {stat:<4} joule={got!r} pandas={want!r} rel={r:.2e}")
    print(f"{checked} numeric columns checked, {bad} mismatches")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
