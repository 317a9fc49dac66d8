#!/usr/bin/env bash
# Requests per second, p50/p99 and the server's CPU per request against the number of
# connections, for anonymous sessions (every request computes its scores).
#
#   bash Benchmarks/serve_latency.sh DB MODEL_DIR "CONNECTIONS..." [PORT]
#
# e.g. SWIFTREC=/tmp/old SERVE_ARGS="--quantize int8" bash Benchmarks/serve_latency.sh
#      /tmp/runs/ml1m2999.sqlite /tmp/runs/cascade-prelu36 "2 4 16"
# A fresh server (on a copy of DB) per connection count; wrk -t2 (-t1 for one connection)
# -d10s with Benchmarks/wrk/sessions.lua (LENGTH and ITEMS as there; defaults 200 and 3952
# here). CPU per request = the server's user+system time over wrk's request count.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=$1
MODEL=$2
CONNECTIONS=$3
PORT=${4:-8095}
BIN=${SWIFTREC:-.build/release/swiftrec}
export LENGTH=${LENGTH:-200} ITEMS=${ITEMS:-3952}
TICKS=$(getconf CLK_TCK)
for c in $CONNECTIONS; do
  WORK=$(mktemp -d)
  cp "$DB" "$WORK/bench.sqlite"
  # shellcheck disable=SC2086 # SERVE_ARGS is a list of words
  "$BIN" serve --db "$WORK/bench.sqlite" --model "$MODEL" --port "$PORT" ${SERVE_ARGS:-} >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
  before=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  threads=2; [ "$c" = 1 ] && threads=1
  wrk -t$threads -c"$c" -d10s --latency -s Benchmarks/wrk/sessions.lua "http://127.0.0.1:$PORT" >"$WORK/wrk.txt"
  after=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  kill $SERVER; wait $SERVER 2>/dev/null || true
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
  echo "connections=$c $(awk '/Requests\/sec/ {print "requests/s=" $2}' "$WORK/wrk.txt")" \
    "$(awk '$1 == "50%" {print "p50=" $2} $1 == "99%" {print "p99=" $2}' "$WORK/wrk.txt" | tr '\n' ' ')" \
    "server_cpu_ms_per_request=$(echo "scale=3; ($after - $before) * 1000 / $TICKS / $requests" | bc)"
  rm -rf "$WORK"
done
echo "command: SWIFTREC=$BIN SERVE_ARGS=\"${SERVE_ARGS:-}\" LENGTH=$LENGTH ITEMS=$ITEMS bash Benchmarks/serve_latency.sh $DB $MODEL \"$CONNECTIONS\""
