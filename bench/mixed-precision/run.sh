#!/usr/bin/env bash
# Mixed-precision search on models/kjv through the real service: a coordinator and one worker
# on loopback, then (1) the six uniform formats (a 6-trial study that visits each once),
# (2) the NSGA-II study of experiments/mixed-precision-kjv.yaml, (3) random search with the
# same budget for seeds 1..3. Every hypervolume is the server's, at the same reference point.
# Writes the reports (qlab study --json) and wall times under OUT (default /tmp/qlab-mp).
#   bench/mixed-precision/run.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/qlab-mp}
BUILD=${QLAB_BUILD:-build}
PORT=${QLAB_BENCH_PORT:-17370}
mkdir -p "$OUT"
rm -f "$OUT"/q.db*
"$BUILD"/server/qlab-server --db "$OUT/q.db" --grpc-listen 127.0.0.1:$PORT --http-listen "" \
  > "$OUT/server.log" 2>&1 &
server=$!
sleep 1
"$BUILD"/worker/qlab-worker --coordinator 127.0.0.1:$PORT --devices cpu --slots 1 \
  > "$OUT/worker.log" 2>&1 &
worker=$!
trap 'kill $worker $server 2>/dev/null || true' EXIT
export QLAB_SERVER=127.0.0.1:$PORT
qlab=("$BUILD"/cli/qlab)

run_study() {  # name, sweep file
  local start end
  start=$(date +%s.%N)
  "${qlab[@]}" submit "$2" --name "$1" --wait --quiet
  end=$(date +%s.%N)
  "${qlab[@]}" study "$1" --json > "$OUT/$1.json"
  "${qlab[@]}" study "$1" > "$OUT/$1.txt"
  awk -v n="$1" -v a="$start" -v b="$end" 'BEGIN { printf "%s %.3f\n", n, b - a }' >> "$OUT/wall_seconds.txt"
}

: > "$OUT/wall_seconds.txt"
sed -e 's/^name: .*/name: uniform/' -e 's/sampler: nsga2/sampler: random/' \
    -e 's/trials: 200/trials: 6/' -e '/per: tensor/d' experiments/mixed-precision-kjv.yaml \
    > "$OUT/uniform.yaml"
run_study uniform "$OUT/uniform.yaml"
run_study nsga2-seed1 experiments/mixed-precision-kjv.yaml
for seed in 1 2 3; do
  sed -e 's/sampler: nsga2/sampler: random/' -e "s/seed: 1/seed: $seed/" \
      experiments/mixed-precision-kjv.yaml > "$OUT/random-$seed.yaml"
  run_study random-seed$seed "$OUT/random-$seed.yaml"
done
cat "$OUT/wall_seconds.txt"
