#!/usr/bin/env python3
"""Side-by-side Transformer training step: SwiftRec vs PyTorch CPU eager, in one run.

Runs `swiftrec bench transformer --json` and `transformer_step.py` (eager, and with
--sdpa) alternately for --rounds rounds at the same shapes and thread count, takes each
one's best median step time, and prints a table (stderr) and one JSON line (stdout):
{"results": [{"impl": ..., "step_seconds": ..., "peak_rss_mb": ...}, ...,
             {"name": "ratio", "swiftrec_over_pytorch_eager": ..., ...}]}

Usage (from the repo root, after `swift build -c release` and `bash Benchmarks/peers/setup.sh`):
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/compare_transformer.py --threads 2
"""
import argparse, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def last_json(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["results"][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swiftrec", default=os.path.join(ROOT, ".build/release/swiftrec"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--len", type=int, default=200)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--items", type=int, default=3416)
    a = ap.parse_args()
    shape = ["--batch", str(a.batch), "--dim", str(a.dim), "--heads", str(a.heads), "--items", str(a.items),
             "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads)]
    runs = {
        "swiftrec": [a.swiftrec, "bench", "transformer", "--json", "--length", str(a.len)] + shape,
        "pytorch-eager": [sys.executable, os.path.join(HERE, "transformer_step.py"), "--len", str(a.len)] + shape,
        "pytorch-sdpa": [sys.executable, os.path.join(HERE, "transformer_step.py"), "--len", str(a.len), "--sdpa"] + shape,
    }
    env = dict(os.environ)
    best = {}
    for r in range(a.rounds):
        for name, cmd in runs.items():
            row = last_json(cmd, env)
            print(f"round {r + 1} {name}: {row['step_seconds']:.3f} s/step, peak RSS {row['peak_rss_mb']:.0f} MB",
                  file=sys.stderr)
            if name not in best or row["step_seconds"] < best[name]["step_seconds"]:
                best[name] = row
    rows = [dict(best[n], impl=n) for n in runs]
    ratio = {
        "name": "ratio",
        "swiftrec_over_pytorch_eager": best["swiftrec"]["step_seconds"] / best["pytorch-eager"]["step_seconds"],
        "swiftrec_over_pytorch_sdpa": best["swiftrec"]["step_seconds"] / best["pytorch-sdpa"]["step_seconds"],
        "threads": a.threads,
    }
    print("| impl | step s | peak RSS MB |\n|---|---|---|", file=sys.stderr)
    for row in rows:
        print(f"| {row['impl']} | {row['step_seconds']:.3f} | {row['peak_rss_mb']:.0f} |", file=sys.stderr)
    print(f"SwiftRec / PyTorch eager = {ratio['swiftrec_over_pytorch_eager']:.2f}, "
          f"/ PyTorch SDPA = {ratio['swiftrec_over_pytorch_sdpa']:.2f}", file=sys.stderr)
    print("command: " + " ".join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python",
                                  "Benchmarks/peers/compare_transformer.py"] + sys.argv[1:]), file=sys.stderr)
    print(json.dumps({"results": rows + [ratio]}))


if __name__ == "__main__":
    main()
