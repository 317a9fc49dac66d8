#!/bin/sh
# Checks the int8 NEON kernels (baseline and with the dot-product extension) on an x86 machine:
# cross-compiles scripts/int8-paths-check.c with qgemm.c for arm64 and runs it under qemu.
# Needs Debian's qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for march in armv8-a armv8.2-a+dotprod; do
  aarch64-linux-gnu-gcc -O2 -static -march="$march" -I Sources/CSwiftRecKernels/include -I Sources/CSwiftRecKernels \
    scripts/int8-paths-check.c Sources/CSwiftRecKernels/qgemm.c -lm -o "$out/check"
  echo "== $march"
  qemu-aarch64 -cpu max "$out/check"
done
