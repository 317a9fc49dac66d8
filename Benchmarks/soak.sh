#!/usr/bin/env bash
# Soak: mixed traffic (Benchmarks/wrk/mixed.lua) at a share of its measured peak for a while,
# with the server's resident memory sampled every 30 s.
#
#   bash Benchmarks/soak.sh DB [SECONDS=600] [SHARE=0.8] [PORT=8094]
#   SERVE_ARGS="--live-memory 32MB" bash Benchmarks/soak.sh …   # options for swiftrec serve
#
# DB: a store with registered models, e.g. the demo's (`swiftrec demo` writes
# swiftrec-demo.sqlite and its models; it is copied first). Needs wrk and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=$1
SECONDS_TOTAL=${2:-600}
SHARE=${3:-0.8}
PORT=${4:-8094}
BIN=${SWIFTREC:-.build/release/swiftrec}
WORK=$(mktemp -d)
cp "$DB" "$WORK/soak.sqlite"
MODELS="${DB%.sqlite}-models"
[ -d "$MODELS" ] && cp -r "$MODELS" "$WORK/soak-models"
# shellcheck disable=SC2086
"$BIN" serve --db "$WORK/soak.sqlite" --port "$PORT" ${SERVE_ARGS:-} >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
URL=http://127.0.0.1:$PORT
rss() { awk '/VmRSS/ {print $2 / 1024}' /proc/$SERVER/status; }
# Held histories, then the C heap: bytes the program holds and bytes the allocator keeps free.
live() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^swiftrec_live_bytes/ {l = $2} /^swiftrec_heap_bytes.*held/ {h = $2}
    /^swiftrec_heap_bytes.*free/ {f = $2} END {printf "%.1f %.1f %.1f", l / 1048576, h / 1048576, f / 1048576}'
}
echo "server RSS after start: $(rss) MiB"
CONNECTIONS=16
peak=$(wrk -t2 -c$CONNECTIONS -d20s -s Benchmarks/wrk/mixed.lua "$URL" | tee /dev/stderr | sed -n 's/^soak: [0-9]* requests, \([0-9.]*\) per second.*/\1/p')
# Each connection waits DELAY ms before each request: CONNECTIONS / (latency + DELAY) ≈ SHARE · peak.
delay=$(python3 -c "p=$peak; s=$SHARE; c=$CONNECTIONS; print(max(0, round(c * 1000 / (s * p) - c * 1000 / p, 2)))")
echo "peak ${peak} requests/s; pacing each of $CONNECTIONS connections by ${delay} ms for ${SHARE} of it"
echo "server RSS after the peak run: $(rss) MiB"
echo "seconds rss_mib live_histories_mib heap_held_mib heap_free_mib" >"$WORK/rss.txt"
(for t in $(seq 0 30 "$SECONDS_TOTAL"); do echo "$t $(rss) $(live)" >>"$WORK/rss.txt"; sleep 30; done) &
SAMPLER=$!
DELAY=$delay wrk -t2 -c$CONNECTIONS -d"${SECONDS_TOTAL}s" --timeout 5s -s Benchmarks/wrk/mixed.lua "$URL"
kill $SAMPLER 2>/dev/null || true
echo "$SECONDS_TOTAL $(rss) $(live)" >>"$WORK/rss.txt"
echo "RSS curve (MiB):"
cat "$WORK/rss.txt"
echo "health after: $(curl -s "$URL/health")"
echo "command: SERVE_ARGS='${SERVE_ARGS:-}' bash Benchmarks/soak.sh $*"
