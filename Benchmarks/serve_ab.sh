#!/usr/bin/env bash
# Two swiftrec builds side by side on the same store and model, alternating, a fresh server per
# line, so the machine's drift hits both alike:
#
#   bash Benchmarks/serve_ab.sh OLD_BINARY NEW_BINARY DB MODEL_DIR [ROUNDS]
#
# MODEL_DIR may be OLD_DIR:NEW_DIR when the two builds save models in different formats (the
# same model trained by each build with the same seed).
#
# Per round and build: recommendations first pass then cached pass (wrk -t2 -c16 -d12s each),
# then on a fresh server explain=true at 8 connections (wrk -t2 -c8 -d15s). Prints p99 and
# requests/s. Needs wrk and two release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
NEW=$2
DB=$3
MODEL_OLD=${4%%:*}
MODEL_NEW=${4##*:}
ROUNDS=${5:-3}
PORT=8097
WORK=$(mktemp -d)
SERVER=
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
URL=http://127.0.0.1:$PORT
start() {
  rm -f "$WORK"/ab.sqlite*
  cp "$DB" "$WORK/ab.sqlite"
  "$1" serve --db "$WORK/ab.sqlite" --model "$2" --port $PORT >/dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "$URL/health" >/dev/null && break; sleep 0.2; done
}
stop() { kill $SERVER; wait $SERVER 2>/dev/null || true; }
figures() { "$@" | grep -E "Requests/sec|99%" | awk '{print $2}' | tr '\n' ' '; }
for round in $(seq "$ROUNDS"); do
  for name in old new; do
    BIN=$OLD MODEL=$MODEL_OLD
    [ $name = new ] && BIN=$NEW MODEL=$MODEL_NEW
    start "$BIN" "$MODEL"
    first=$(figures wrk -t2 -c16 -d12s --latency -s Benchmarks/wrk/recommendations.lua "$URL")
    cached=$(figures wrk -t2 -c16 -d12s --latency -s Benchmarks/wrk/recommendations.lua "$URL")
    stop
    start "$BIN" "$MODEL"
    explained=$(EXPLAIN=true figures wrk -t2 -c8 -d15s --latency -s Benchmarks/wrk/recommendations.lua "$URL")
    stop
    echo "round $round $name: first pass (p99 req/s) $first| cached $cached| explain=true c8 fresh $explained"
  done
done
