"""A straightforward PyTorch LightGCN (He et al. 2020, as RecBole writes it) on the leave-one-out
split of a sequence file: the peer for SwiftRec's `lightgcn`.

Same split and protocol as ease_numpy.py (train = all but the last two items, test = last item,
full ranking, history excluded, ties pessimistic). Same model and sampler as SwiftRec's: the
symmetric-normalised user-item adjacency as a torch sparse matrix, K propagations per step, the
mean of layers 0..K, BPR on (u, i, j) with j uniform among the items u does not have, L2 of the
triple's layer-0 vectors times reg / batch, Adam, Xavier-uniform init. Test users are scored from
their trained final vector (train only, as RecBole does).

--steps N times N optimiser steps (after 3 warm-up steps) and reports the median step and the
epoch time it implies (steps per epoch x median); --epochs N trains N full epochs and evaluates.
Prints one JSON object on the last line.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/datasets/ml-1m-seq/train_input.txt")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--reg", type=float, default=1e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=0, help="time this many steps instead of training epochs")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    from ease_numpy import evaluate, load_split

    train, valid, test, n_items = load_split(args.data)
    n_users = len(train)
    user_items = [sorted(set(s)) for s in train]
    pairs = np.array([(u, i) for u, items in enumerate(user_items) for i in items], dtype=np.int64)
    item_sets = [set(s) for s in user_items]
    n = n_users + n_items
    rows = np.concatenate([pairs[:, 0], pairs[:, 1] + n_users])
    cols = np.concatenate([pairs[:, 1] + n_users, pairs[:, 0]])
    degree = np.bincount(rows, minlength=n).astype(np.float32)
    values = 1.0 / np.sqrt(degree[rows] * degree[cols])
    adjacency = torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(values.astype(np.float32)), (n, n)
    ).coalesce()
    table = torch.nn.Parameter(torch.empty(n, args.dim))
    torch.nn.init.xavier_uniform_(table)
    optimizer = torch.optim.Adam([table], lr=args.lr)

    def propagate():
        layers = [table]
        e = table
        for _ in range(args.layers):
            e = torch.sparse.mm(adjacency, e)
            layers.append(e)
        return torch.stack(layers, dim=1).mean(dim=1)

    def negatives(users):
        out = rng.integers(0, n_items, size=len(users))
        for k, u in enumerate(users):
            while out[k] in item_sets[u]:
                out[k] = rng.integers(0, n_items)
        return out

    def step(batch):
        users = batch[:, 0]
        neg = negatives(users)
        u = torch.from_numpy(users)
        i = torch.from_numpy(batch[:, 1] + n_users)
        j = torch.from_numpy(neg + n_users)
        final = propagate()
        eu, ei, ej = final[u], final[i], final[j]
        loss = -torch.nn.functional.logsigmoid((eu * ei).sum(1) - (eu * ej).sum(1)).mean()
        reg = (table[u].pow(2).sum() + table[i].pow(2).sum() + table[j].pow(2).sum()) / 2 / len(users)
        total = loss + args.reg * reg
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return float(total)

    steps_per_epoch = (len(pairs) + args.batch - 1) // args.batch
    result = {
        "model": "lightgcn-torch",
        "torch": torch.__version__,
        "threads": args.threads,
        "dim": args.dim,
        "layers": args.layers,
        "batch": args.batch,
        "pairs": len(pairs),
        "steps_per_epoch": steps_per_epoch,
    }
    if args.steps:
        order = rng.permutation(len(pairs))
        times = []
        for s in range(args.steps + 3):
            batch = pairs[order[(s * args.batch) % len(pairs) :][: args.batch]]
            start = time.perf_counter()
            step(batch)
            if s >= 3:
                times.append(time.perf_counter() - start)
        result["median_step_seconds"] = statistics.median(times)
        result["epoch_seconds_implied"] = statistics.median(times) * steps_per_epoch
    else:
        epoch_seconds = []
        for epoch in range(args.epochs):
            start = time.perf_counter()
            order = rng.permutation(len(pairs))
            total = 0.0
            for s in range(steps_per_epoch):
                total += step(pairs[order[s * args.batch : (s + 1) * args.batch]])
            epoch_seconds.append(time.perf_counter() - start)
            print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f}, {epoch_seconds[-1]:.1f} s", file=sys.stderr)
        with torch.no_grad():
            final = propagate().numpy()
        users_final, items_final = final[:n_users], final[n_users:]
        history = {u: sorted(set(train[u] + [valid[u]] if u in valid else train[u])) for u in test}
        metrics = evaluate(lambda us: users_final[us] @ items_final.T, history, test, n_items)
        result.update({"epoch_seconds": epoch_seconds, **metrics})
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
