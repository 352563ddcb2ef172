#!/usr/bin/env bash
# Scale benchmark of the data layer (docs/perf.md, "Datasets"): generates a
# CSV of SIZE bytes (default 1 GB), then in separate processes, one after the
# other on the same file: three pairs of DuckDB's own read_csv → Parquet and
# joule's ingest (sniff, infer, read with rejects, write Parquet, hash), then
# joule's content hash of the result alone (v3, and v1 for comparison) and
# its profile. Each prints its time, throughput, CPU time (user + system)
# and peak resident memory (VmHWM), each of its own process.
#
#   scripts/bench_ingest.sh [SIZE_BYTES] [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
work="${2:-$(mktemp -d /tmp/joule-bench.XXXXXX)}"
mkdir -p "$work"
csv="$work/bench.csv"
go test -c -o "$work/dataset.test" ./internal/dataset
if [ ! -s "$csv" ]; then
  JOULE_SCALE_GEN="$csv" JOULE_SCALE_BYTES="$size" "$work/dataset.test" -test.run '^TestScaleGenerate$' | grep generated
fi
ls -l "$csv"
for step in duckdb ingest duckdb ingest duckdb ingest hash hash-v1 profile; do
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$work/out"; mkdir -p "$work/out"
  JOULE_SCALE_CSV="$csv" JOULE_SCALE_OUT="$work/out" JOULE_SCALE_STEP="$step" \
    "$work/dataset.test" -test.run '^TestScaleStep$' -test.timeout 30m | grep '^step='
done
rm -rf "$work/out"
echo "work dir: $work (delete it when done)"
