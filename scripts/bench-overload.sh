#!/bin/bash
# bench-overload.sh: one joule build under the serving benchmark's overload
# and near-capacity loads, quickly, for side-by-side comparisons of builds
# or settings (docs/perf.md, "A sixth VM"; scripts/bench-serving.sh is the
# whole benchmark).
#
# Starts BIN as `joule up` (fresh data dir, environment ENV added), trains
# the benchmark's 100-tree random_forest on UCI_Credit_Card and deploys it
# --public --min 1 --max 1, then runs wrk paced by scripts/benchserve/pace.lua,
# one line per run: offered rate, connections, achieved rate, p99, answers
# by status, p50/p99 of the 200s and of the 429/503s (pace.lua's own stamps),
# and joule's and wrk's CPU use over the middle half of the run.
#
# Usage: scripts/bench-overload.sh LABEL BIN [KEY=VALUE ...]
#   RUNS="RATE:CONNS:SECONDS:BODY ..." (BODY batch = the file's first 100
#   rows in one call, row = its first row; default: 950, 1900 and 19000
#   calls/s of batch, then 29000/s of row)
# Example, the current tree against GOMAXPROCS=2:
#   go build -o /tmp/joule ./cmd/joule
#   scripts/bench-overload.sh default /tmp/joule
#   scripts/bench-overload.sh gomaxprocs2 /tmp/joule GOMAXPROCS=2
# Needs wrk (LuaJIT) and curl.
set -eu
[ $# -ge 2 ] || { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
label=$1; bin=$(realpath "$2"); shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
csv=$repo/examples/data/finance/UCI_Credit_Card.csv
work=$(mktemp -d)
. "$repo/scripts/benchserve/common.sh" # freeport, waitfor, predict_body, train_forest
predict_body "$csv" 100 >"$work/batch.json"
predict_body "$csv" 1 >"$work/row.json"
port=$(freeport)
mkdir -p "$work/data"
env "$@" HOME="$work/data" "$bin" up --data-dir "$work/data" --listen "127.0.0.1:$port" --node-name bench --log-level warn >"$work/joule.log" 2>&1 &
jpid=$!
trap 'kill $jpid 2>/dev/null; wait $jpid 2>/dev/null; rm -rf "$work"' EXIT
waitfor "http://127.0.0.1:$port/healthz"
export JOULE_SERVER="http://127.0.0.1:$port"
JOULE_TOKEN=$(cat "$work/data/admin.token"); export JOULE_TOKEN
train_forest "$bin" "$csv" >/dev/null
"$bin" deploy credit@1 --name rf --public --min 1 --max 1 >/dev/null
url="http://127.0.0.1:$port/v1/workspaces/default/deployments/rf/predict"
run() { # RATE CONNS SECONDS BODYFILE
	SB_RATE=$1 SB_THREADS=2 SB_BODY=$4 SB_TRACK=1 wrk -t2 -c"$2" -d"$3"s --timeout 10s -s "$repo/scripts/benchserve/pace.lua" "$url" |
		sed -n 's/^RESULT //p' | tr ' ' '\n' |
		grep -E '^(achieved|p99_ms|status|ok_p50_ms|ok_p99_ms|reject_p50_ms|reject_p99_ms)=' | tr '\n' ' '
}
cpu() { for p in $jpid $(pgrep -x wrk); do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | paste -sd' '; }
run 200 64 3 "$work/batch.json" >/dev/null # warm up
for spec in ${RUNS:-950:64:10:batch 1900:64:10:batch 19000:256:10:batch 29000:64:10:row}; do
	IFS=: read -r rate conns secs b <<<"$spec"
	sleep 2 # let the previous run's backlog drain
	half=$(awk -v s="$secs" 'BEGIN { print s / 2 }')
	(sleep "$(awk -v s="$secs" 'BEGIN { print s / 4 }')"; a=$(cpu); sleep "$half"; echo "$a | $(cpu)") >"$work/cpu.txt" &
	sampler=$!
	r=$(run "$rate" "$conns" "$secs" "$work/$b.json")
	wait $sampler
	use=$(awk -F'|' -v hz="$(getconf CLK_TCK)" -v t="$half" '{ split($1, a, " "); split($2, b, " "); w = 0
		for (i = 2; i in b; i++) w += b[i] - a[i]
		printf "joule %.0f%% wrk %.0f%% of a CPU", 100 * (b[1] - a[1]) / hz / t, 100 * w / hz / t }' "$work/cpu.txt")
	echo "$label $rate/s x$conns ($b): $r $use"
done
