#!/usr/bin/env python3
"""Print every tensor (name, dtype, shape, values) and the metadata of a safetensors file.

Uses safetensors.numpy only, so it can check files written by SwiftRec
independently of torch. Usage: read_safetensors.py PATH
"""
import argparse, json, struct

import numpy as np
from safetensors.numpy import load_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--header", action="store_true", help="also dump the raw JSON header")
    a = ap.parse_args()
    with open(a.path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    if a.header:
        print(json.dumps(header, indent=2))
    print("metadata:", header.get("__metadata__"))
    np.set_printoptions(precision=8, suppress=False, threshold=50)
    for name, arr in sorted(load_file(a.path).items()):
        print(f"{name}: dtype={arr.dtype} shape={list(arr.shape)}")
        print("  " + np.array2string(arr, prefix="  "))


if __name__ == "__main__":
    main()
