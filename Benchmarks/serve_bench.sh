#!/usr/bin/env bash
# HTTP benchmarks of `swiftrec serve` with wrk on loopback (server and wrk share the machine).
#
#   bash Benchmarks/serve_bench.sh DB MODEL_DIR [PORT]
#
# DB: a SQLite file made by `swiftrec import --db` (copied first: the event runs write to the
# copy); MODEL_DIR: a model saved by `swiftrec train --out`. Prints wrk's output for each run
# and the server's memory. Needs `wrk` (Debian: apt-get install wrk) and a release build.
# SERVE_ARGS adds options to `swiftrec serve` (e.g. SERVE_ARGS="--quantize int8"); ONLY=scores
# runs only the two recommendation passes without explanations; ONLY=sessions runs only
# anonymous sessions of 200 events (the model runs for every request: nothing is cached).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=$1
MODEL=$2
PORT=${3:-8093}
BIN=${SWIFTREC:-.build/release/swiftrec}
WORK=$(mktemp -d)
cp "$DB" "$WORK/bench.sqlite"
start_server() {
  # shellcheck disable=SC2086 # SERVE_ARGS is a list of words
  "$BIN" serve --db "$WORK/bench.sqlite" --model "$MODEL" --port "$PORT" ${SERVE_ARGS:-} >>"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
}
SERVER=
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
rss() { grep -E 'VmRSS|VmHWM' /proc/$SERVER/status | tr -s ' ' | tr '\n' ' '; echo; }
start_server
echo "server memory after start: $(rss)"
URL=http://127.0.0.1:$PORT
run() { echo "== $1"; shift; echo "command: $*"; "$@"; echo "server memory: $(rss)"; }
if [ "${ONLY:-}" = sessions ]; then
  run "session recommendations, 200 events per session (the model runs for every request)" \
    wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/sessions.lua "$URL"
  exit 0
fi
if [ "${ONLY:-}" != scores ]; then
  run "recommendations with explain=true on a fresh server (scores and explanations computed per request)" \
    env EXPLAIN=true wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/recommendations.lua "$URL"
  kill $SERVER; wait $SERVER 2>/dev/null || true
  start_server
fi
run "recommendations, first pass (scores computed per user)" \
  wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/recommendations.lua "$URL"
run "recommendations, second pass (scores cached per user until a new event)" \
  wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/recommendations.lua "$URL"
[ "${ONLY:-}" = scores ] && exit 0
run "recommendations with explain=true (attention; scores cached, explanations computed per request)" \
  env EXPLAIN=true wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/recommendations.lua "$URL"
run "recommendations with explain=gradient (scores cached, gradient × input per request)" \
  env EXPLAIN=gradient wrk -t2 -c16 -d20s --latency -s Benchmarks/wrk/recommendations.lua "$URL"
run "POST /events, one event per request (each durable)" \
  env BATCH=1 wrk -t2 -c16 -d15s --latency -s Benchmarks/wrk/events.lua "$URL"
run "POST /events, 100 events per request" \
  env BATCH=100 wrk -t2 -c16 -d15s --latency -s Benchmarks/wrk/events.lua "$URL"
echo "stored events now: $(curl -s "$URL/health")"
