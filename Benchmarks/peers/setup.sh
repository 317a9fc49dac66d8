#!/usr/bin/env bash
# Create (or reuse) Benchmarks/peers/.venv with the Python comparison peers:
# torch (CPU build), numpy, safetensors, and optionally `implicit`.
# Idempotent: re-running only installs what is missing.
# These packages are for benchmarks/fixtures only; SwiftRec never depends on them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
PY="$VENV/bin/python"
PIP="$VENV/bin/pip"

# torch, CPU-only. A plain `pip install torch` from PyPI would fetch the CUDA
# build (~5 GB of nvidia-* wheels), so prefer a local +cpu wheel from
# PIP_FIND_LINKS (e.g. /opt/wheels).
if ! "$PY" -c 'import torch, sys; sys.exit("+cpu" not in torch.__version__)' 2>/dev/null; then
  wheel=""
  for d in ${PIP_FIND_LINKS:-}; do
    w=$(ls "$d"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$w" ] && wheel="$w"
  done
  if [ -n "$wheel" ]; then
    "$PIP" install --quiet "$wheel"
  else
    echo "setup: no torch-*+cpu wheel found in PIP_FIND_LINKS; install a CPU build of torch into $VENV by hand" >&2
    exit 1
  fi
fi

"$PIP" install --quiet numpy safetensors

# implicit is optional (later CF benchmarks); do not fail setup if it won't install.
if ! "$PIP" install --quiet implicit; then
  echo "WARNING: 'implicit' failed to install; CF peer benchmarks will be unavailable." >&2
fi

"$PY" - <<'PY'
import importlib
for m in ("torch", "numpy", "safetensors", "implicit"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as e:
        print(f"{m} NOT AVAILABLE ({type(e).__name__}: {e})")
PY
