#!/usr/bin/env python3
"""Serving parity: the model that serves must score like the model that was evaluated.

For a one-user-per-line sequence file (ML-1M's `train_input.txt`):

1. the store gets every user's items except the last (the offline test state: train + validation),
2. each model is trained with `swiftrec train --out` on the whole file (its own leave-one-out
   split), which prints the offline test HR@10 / NDCG@10,
3. `swiftrec serve` serves the store with that model, and every user's
   `GET /users/{id}/recommendations?n=10` is scored against their last item.

Served HR@10 and NDCG@10 must equal the offline test figures (ties aside), with no errors and no
already-seen item in any list. Only the Python standard library is used.

    python3 Benchmarks/serving_parity.py --swiftrec .build/release/swiftrec \
        --data ../shared/datasets/ml-1m-seq/train_input.txt --models pop,ease,sasrec [--json]

Sequence models train for `--epochs` (default 3) so the whole run stays short; the figures to
compare are the offline and served ones of the same saved model, not the best reachable.
"""

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SEQUENCE_MODELS = {"sasrec", "bert4rec", "gru4rec", "lstm", "sasrec-content"}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def read_sequences(path):
    with open(path) as f:
        return [line.split() for line in f]


def train(binary, data, model, out, epochs, extra):
    command = [binary, "train", "--model", model, "--data", data, "--format", "ml-1m-seq", "--out", out, "--json"]
    if model in SEQUENCE_MODELS:
        command += ["--epochs", str(epochs)]
    for setting in extra:
        command += ["--set", setting]
    log("$", " ".join(command))
    start = time.time()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])["models"][model]["test"]
    return figures, time.time() - start


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return {"error": f"{error.code} {error.read()[:200]!r}"}
    except Exception as error:  # noqa: BLE001 - every failure counts as an error row
        return {"error": repr(error)}


def serve_and_score(binary, db, model_dir, port, sequences, k):
    work = tempfile.mkdtemp(prefix="parity-serve-")
    store = os.path.join(work, "store.sqlite")
    shutil.copy(db, store)
    server = subprocess.Popen(
        [binary, "serve", "--db", store, "--model", model_dir, "--port", str(port),
         "--models-dir", os.path.join(work, "models")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        users = list(range(1, len(sequences) + 1))
        start = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda u: fetch(f"{base}/users/{u}/recommendations?n={k}"), users))
        seconds = time.time() - start
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    hits = ndcg = 0.0
    errors = seen = 0
    for user, reply in zip(users, replies):
        if "error" in reply:
            errors += 1
            continue
        items = [r["item"] for r in reply["recommendations"]]
        history = set(sequences[user - 1][:-1])
        seen += sum(1 for item in items if item in history)
        target = sequences[user - 1][-1]
        if target in items:
            rank = items.index(target)
            hits += 1
            ndcg += 1 / math.log2(rank + 2)
    n = len(users)
    return {"HR": hits / n, "NDCG": ndcg / n, "errors": errors, "seen": seen, "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swiftrec", default=".build/release/swiftrec")
    parser.add_argument("--data", required=True)
    parser.add_argument("--models", default="pop,itemknn,userknn,cf-fusion,ease,bpr,ials,sasrec,bert4rec,gru4rec")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the sequence models")
    parser.add_argument("--set", action="append", default=[], help="model option key=value, passed to train")
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--work", help="keep the store and models here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    binary = os.path.abspath(args.swiftrec)
    data = os.path.abspath(args.data)
    work = args.work or tempfile.mkdtemp(prefix="parity-")
    os.makedirs(work, exist_ok=True)
    sequences = read_sequences(data)
    store_input = os.path.join(work, "store_input.txt")
    with open(store_input, "w") as f:
        for items in sequences:
            f.write(" ".join(items[:-1]) + "\n")
    db = os.path.join(work, "parity.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    subprocess.run([binary, "import", "--format", "ml-1m-seq", "--data", store_input, "--db", db],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    for model in args.models.split(","):
        out = os.path.join(work, model)
        offline, train_seconds = train(binary, data, model, out, args.epochs, args.set)
        served = serve_and_score(binary, db, out, args.port, sequences, 10)
        row = {
            "model": model, "offline_HR@10": offline["HR@10"], "served_HR@10": served["HR"],
            "offline_NDCG@10": offline["NDCG@10"], "served_NDCG@10": served["NDCG"],
            "errors": served["errors"], "seen_items_served": served["seen"], "users": len(sequences),
            "serve_seconds": round(served["seconds"], 2), "train_seconds": round(train_seconds, 1),
        }
        rows.append(row)
        log(f"{model:10s} offline HR@10 {row['offline_HR@10']:.4f} NDCG@10 {row['offline_NDCG@10']:.4f} | "
            f"served HR@10 {row['served_HR@10']:.4f} NDCG@10 {row['served_NDCG@10']:.4f} | "
            f"errors {row['errors']} seen {row['seen_items_served']}")
    log("command: python3 Benchmarks/serving_parity.py " + " ".join(sys.argv[1:]))
    if args.json:
        print(json.dumps({"results": rows}))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
