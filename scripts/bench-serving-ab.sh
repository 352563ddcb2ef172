#!/bin/bash
# bench-serving-ab.sh: the serving experiments behind docs/perf.md
# ("Serving", "A new VM, after the hot-path work"), side by side in one run.
#
#   scripts/bench-serving-ab.sh [RATE] [RUNS] [JOULE_BINARY]
#
# Starts one `joule up` (SQLite, fresh data dir), trains the 100-tree
# random_forest on UCI_Credit_Card as scripts/bench-serving.sh does, and
# deploys it twice: `rf` (monitored, the default) and `rfnm`
# (--no-monitor), both --public --min 1 --max 1; and starts the echo
# server. Then, RUNS times, each of echo, rf and rfnm gets a paced wrk run
# of 10 s at RATE (default 20000/s; 64 connections, 2 threads, after a 3 s
# warm-up), and the script prints its p99 and the CPU time per request of
# the server (user + system, from /proc/PID/stat) and of wrk (from
# /usr/bin/time). JOULE_BINARY compares another build (default: this
# tree's). Needs go, wrk, /usr/bin/time, python3 and bc.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-20000}
runs=${2:-2}
csv=examples/data/finance/UCI_Credit_Card.csv
w=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$w"' EXIT
. scripts/benchserve/common.sh # freeport, waitfor, predict_body, train_forest

bin=${3:-}
if [ -z "$bin" ]; then
	go build -o "$w/joule" ./cmd/joule
	bin=$w/joule
fi
go build -o "$w/echo" ./scripts/benchserve/echo
predict_body "$csv" 1 >"$w/body.json"
jport=$(freeport); eport=$(freeport)
mkdir -p "$w/data"
HOME="$w/data" "$bin" up --data-dir "$w/data" --listen "127.0.0.1:$jport" --node-name bench --log-level warn >"$w/joule.log" 2>&1 &
jp=$!; pids="$pids $jp"
"$w/echo" "127.0.0.1:$eport" >/dev/null 2>&1 &
ep=$!; pids="$pids $ep"
waitfor "http://127.0.0.1:$jport/healthz"
export JOULE_SERVER=http://127.0.0.1:$jport
JOULE_TOKEN=$(cat "$w/data/admin.token"); export JOULE_TOKEN
train_forest "$bin" "$csv" >/dev/null
"$bin" deploy credit@1 --name rf --public --min 1 --max 1 >/dev/null
"$bin" deploy credit@1 --name rfnm --public --min 1 --max 1 --no-monitor >/dev/null

tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
wrkrun() { # URL SECONDS
	SB_RATE=$rate SB_THREADS=2 SB_BODY="$w/body.json" SB_TRACK=0 \
		/usr/bin/time -f 'WRKCPU %U %S' wrk -t2 -c64 -d"$2"s --timeout 10s -s scripts/benchserve/pace.lua "$1" 2>&1
}
one() { # NAME URL PID
	wrkrun "$2" 3 >/dev/null
	a=$(cpu "$3")
	r=$(wrkrun "$2" 10)
	b=$(cpu "$3")
	n=$(printf '%s\n' "$r" | sed -n 's/^RESULT .*requests=\([0-9]*\).*/\1/p')
	wc=$(printf '%s\n' "$r" | awk '/^WRKCPU/{print $2+$3}')
	p99=$(printf '%s\n' "$r" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
	printf '| %s | %s | %s | %.1f | %.1f | %s |\n' "$1" "$rate" "$n" \
		"$(echo "($b-$a)/$tck*1000000/$n" | bc -l)" "$(echo "$wc*1000000/$n" | bc -l)" "$p99"
}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC')"
echo "| server | offered/s | requests | server CPU µs/request | wrk CPU µs/request | p99 ms |"
echo "|---|---|---|---|---|---|"
for _ in $(seq 1 "$runs"); do
	one echo "http://127.0.0.1:$eport/predict" "$ep"
	one "joule rf" "http://127.0.0.1:$jport/v1/workspaces/default/deployments/rf/predict" "$jp"
	one "joule rfnm (--no-monitor)" "http://127.0.0.1:$jport/v1/workspaces/default/deployments/rfnm/predict" "$jp"
done
