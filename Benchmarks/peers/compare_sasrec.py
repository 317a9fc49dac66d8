#!/usr/bin/env python3
"""Side-by-side SASRec epoch time: `swiftrec train --model sasrec` vs `sasrec_torch.py`.

Both train the same model (d=64, 2 blocks, 1 head, length 200, batch 128, dropout 0.2,
full-catalogue cross-entropy) on the leave-one-out training part of the same file, for
--epochs epochs without validation, at the same thread count, alternately for --rounds
rounds; SwiftRec also with `length-buckets=true` (batches of similar history length, less
padding). Each one's median epoch time counts (best over rounds); peak RSS is reported.
Stderr gets a table; the last stdout line is {"results": [...]}.

Usage (from the repo root, after `swift build -c release` and `bash Benchmarks/peers/setup.sh`):
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/compare_sasrec.py \
      --data ../shared/datasets/ml-1m-seq/train_input.txt --threads 2 --epochs 3
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def last_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swiftrec", default=os.path.join(ROOT, ".build/release/swiftrec"))
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--heads", type=int, default=1)
    a = ap.parse_args()
    common = ["--epochs", str(a.epochs), "--batch", "128", "--dim", "64", "--blocks", "2", "--heads", str(a.heads),
              "--max-len", "200", "--dropout", "0.2"]
    runs = {
        "swiftrec": [a.swiftrec, "train", "--model", "sasrec", "--data", a.data, "--format", "ml-1m-seq", "--json",
                     "--threads", str(a.threads), "--set", "validate-every=100000"] + common,
        "swiftrec-buckets": [a.swiftrec, "train", "--model", "sasrec", "--data", a.data, "--format", "ml-1m-seq",
                             "--json", "--threads", str(a.threads), "--set", "validate-every=100000",
                             "--set", "length-buckets=true"] + common,
        "pytorch": [sys.executable, os.path.join(HERE, "sasrec_torch.py"), "--data", a.data, "--no-validate",
                    "--threads", str(a.threads)] + common,
    }
    best = {}
    for r in range(a.rounds):
        for name, cmd in runs.items():
            out = last_json(cmd)
            if name.startswith("swiftrec"):
                m = out["models"]["sasrec"]
                row = {"epoch_seconds": m["epoch_seconds"], "peak_rss_mb": m["peak_rss_mb"]}
            else:
                m = out["results"][0]
                row = {"epoch_seconds": m["epoch_seconds"], "peak_rss_mb": m["peak_rss_mb"]}
            row["median_epoch_seconds"] = statistics.median(row["epoch_seconds"])
            print(f"round {r + 1} {name}: epochs {[round(x, 1) for x in row['epoch_seconds']]} s, "
                  f"peak RSS {row['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
            if name not in best or row["median_epoch_seconds"] < best[name]["median_epoch_seconds"]:
                best[name] = row
    rows = [dict(best[n], impl=n, threads=a.threads) for n in runs]
    ratio = best["swiftrec"]["median_epoch_seconds"] / best["pytorch"]["median_epoch_seconds"]
    bucket_ratio = best["swiftrec-buckets"]["median_epoch_seconds"] / best["pytorch"]["median_epoch_seconds"]
    print("| impl | median epoch s | peak RSS MB |\n|---|---|---|", file=sys.stderr)
    for row in rows:
        print(f"| {row['impl']} | {row['median_epoch_seconds']:.1f} | {row['peak_rss_mb']:.0f} |", file=sys.stderr)
    print(f"SwiftRec / PyTorch epoch time = {ratio:.2f}; with length buckets {bucket_ratio:.2f}", file=sys.stderr)
    print(json.dumps({"results": rows + [{"name": "ratio", "swiftrec_over_pytorch": ratio,
                                          "swiftrec_buckets_over_pytorch": bucket_ratio, "threads": a.threads}]}))


if __name__ == "__main__":
    main()
