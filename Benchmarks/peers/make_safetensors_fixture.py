#!/usr/bin/env python3
"""Write the tiny PyTorch-produced safetensors fixture used by SwiftRecTensorTests.

Output (default): Tests/SwiftRecTensorTests/Fixtures/pytorch_small.safetensors
  linear.weight    float32 [3,4] = arange(12).reshape(3,4)/4 - 1
  linear.bias      float32 [3]   = [0.5, -1.5, 2.25]
  embedding.weight float32 [5,2] = linspace(-1, 1, 10).reshape(5,2)
  scalar           float32 []    = 3.5
  counts           int64   [4]   = [1, 2, 3, 40000000000]
  metadata: {"format": "pt", "producer": "swiftrec-fixture"}

safetensors (Rust) emits __metadata__ keys in hash order, so the header is
canonicalised afterwards (metadata keys sorted; same length, same tensor bytes)
to make the fixture byte-for-byte reproducible.
"""
import argparse, json, struct
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "Tests/SwiftRecTensorTests/Fixtures/pytorch_small.safetensors"


def canonicalise_metadata(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    new = json.dumps(header, separators=(",", ":")).encode().ljust(n, b" ")
    assert len(new) == n, "canonical header must keep the same length"
    path.write_bytes(raw[:8] + new + raw[8 + n :])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    tensors = {
        "linear.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1,
        "linear.bias": torch.tensor([0.5, -1.5, 2.25], dtype=torch.float32),
        "embedding.weight": torch.linspace(-1, 1, 10, dtype=torch.float32).reshape(5, 2),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "counts": torch.tensor([1, 2, 3, 40_000_000_000], dtype=torch.int64),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(a.out), metadata={"format": "pt", "producer": "swiftrec-fixture"})
    canonicalise_metadata(a.out)
    print(f"wrote {a.out} ({a.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
