#!/usr/bin/env bash
# Fuzzes every operation of docs/openapi.yaml against a running `swiftrec serve` with
# Schemathesis (fixed seed): the server must never answer 5xx, and every reply must have a
# documented status, content type and schema. Stateful phase included (links in the document).
#
#   scripts/schemathesis.sh                # builds the debug swiftrec
#   SWIFTREC_BIN=.build/release/swiftrec scripts/schemathesis.sh
#
# Schemathesis comes from PyPI into a throwaway virtualenv (never a dependency of the product);
# without network to PyPI the run is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${SWIFTREC_BIN:-}
if [ -z "$BIN" ]; then
  swift build --product swiftrec
  BIN="$(swift build --show-bin-path)/swiftrec"
fi
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
WORK=$(mktemp -d)
PORT=${PORT:-18181}
SEED=${SEED:-20261203}
EXAMPLES=${EXAMPLES:-50}
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! python3 -m venv "$WORK/venv" >/dev/null 2>&1 || ! "$WORK/venv/bin/pip" install -q 'schemathesis==4.32.5' >"$WORK/pip.log" 2>&1; then
  echo "schemathesis: cannot install from PyPI here; skipped" >&2
  tail -3 "$WORK/pip.log" >&2 || true
  exit 0
fi

wait_for_health() {  # $1: the server's log
  for _ in $(seq 1 600); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then echo "schemathesis: the server exited" >&2; tail -30 "$1" >&2; return 1; fi
    sleep 0.5
  done
  echo "schemathesis: the server did not come up" >&2
  return 1
}

# A generated store with the demo's models saved and registered.
(cd "$WORK" && exec "$BIN" demo --users 300 --seconds 3 --port "$PORT" --db "$WORK/store.sqlite" >"$WORK/demo.log" 2>&1) &
SERVER=$!
wait_for_health "$WORK/demo.log"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

# The server under test: short trainings, so generated POST /train bodies finish quickly.
(cd "$WORK" && exec "$BIN" serve --db "$WORK/store.sqlite" --port "$PORT" --max-training-time 3 --training-memory 2GB >"$WORK/serve.log" 2>&1) &
SERVER=$!
wait_for_health "$WORK/serve.log"

status=0
"$WORK/venv/bin/schemathesis" run "$ROOT/docs/openapi.yaml" --url "http://127.0.0.1:$PORT" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful --seed "$SEED" --max-examples "$EXAMPLES" --workers 1 \
  --request-timeout 30 --no-color --warnings off || status=$?
if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "schemathesis: the server died during the run" >&2
  tail -20 "$WORK/serve.log" >&2
  exit 1
fi
exit $status
