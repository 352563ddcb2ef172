#!/bin/sh
# bench-ml.sh: scikit-learn and joule side by side on UCI_Credit_Card
# (24,000 training rows × 23 features): fit time of logistic regression,
# a 100-tree random forest and 100-tree gradient boosting, and predict
# throughput of each, then the joule/scikit-learn ratio (≤ 1.0 is the goal).
# Needs Debian's python3-sklearn (/usr/bin/python3). Both sides use every
# core. Usage: scripts/bench-ml.sh [repetitions]
set -eu
cd "$(dirname "$0")/.."
reps=${1:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
/usr/bin/python3 scripts/bench-ml.py examples/data/finance/UCI_Credit_Card.csv "$reps" >"$out"
go test -run '^$' -bench 'Credit' -benchtime "${reps}x" -count 1 ./internal/ml/parity |
	awk '/^BenchmarkCredit/ { name=$1; sub(/^BenchmarkCredit/, "", name); sub(/-[0-9]+$/, "", name);
		rows=""; for (i=1;i<=NF;i++) if ($(i+1)=="rows/s") rows=$i;
		printf "joule %s %.6f %s\n", name, $3/1e9, rows }' >>"$out"
awk '
	{ t[$1" "$2]=$3; names[$2]=1 }
	END {
		printf "| measurement | scikit-learn s/op | joule s/op | joule/sklearn |\n|---|---|---|---|\n"
		n=split("FitLogistic FitForest FitBoost PredictLogistic PredictForest PredictBoost", order, " ")
		for (i=1;i<=n;i++) { k=order[i]; s=t["sklearn "k]; j=t["joule "k]
			if (s>0 && j>0) printf "| %s | %.4f | %.4f | %.2f |\n", k, s, j, j/s }
	}' "$out"
