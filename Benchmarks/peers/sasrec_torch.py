#!/usr/bin/env python3
"""PyTorch CPU reference SASRec, the peer of `swiftrec train --model sasrec`.

Same data protocol as SwiftRec: one user per line (items in time order), leave-one-out by
time (test = last item, validation = second last, training = the rest), full ranking over
all items with the user's history excluded and ties counted against the target.

Same model: item embedding (padding row 0) scaled by sqrt(d) plus a learned position
embedding (left-padded windows, the newest item at the last position), dropout, n pre-norm
Transformer blocks (causal multi-head attention with a key padding mask and attention
dropout, GELU feed-forward 4d, dropout on both residual branches), a final LayerNorm, the
item embedding as output layer. Losses: full-catalogue cross-entropy over the positions that
have a next item (padding is dropped before the output layer, as SwiftRec does).

Usage (from the repo root, after `bash Benchmarks/peers/setup.sh`):
  # time per epoch only:
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/sasrec_torch.py \
      --data ../shared/datasets/ml-1m-seq/train_input.txt --epochs 3 --no-validate
  # full training with early stopping and a 30-minute budget:
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/sasrec_torch.py \
      --data ../shared/datasets/ml-1m-seq/train_input.txt --time-budget 1800 --patience 10
  # inference timing (one user on one thread, a batch of 256):
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/sasrec_torch.py \
      --data ../shared/datasets/ml-1m-seq/train_input.txt --epochs 0 --inference

The last stdout line is one JSON object: {"results": [{...}]}.
"""
import argparse, json, math, random, resource, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_sequences(path):
    users = []
    ids = {}
    with open(path) as f:
        for line in f:
            # Every token is an item (the line number is the user), as SwiftRec's ml-1m-seq importer reads it.
            parts = line.split()
            if not parts:
                continue
            users.append([ids.setdefault(tok, len(ids)) for tok in parts])
    return users, len(ids)


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.drop1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * d, d))
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x, causal, padding):
        h = self.norm1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal, key_padding_mask=padding, need_weights=False)
        x = x + self.drop1(a)
        return x + self.drop2(self.ff(self.norm2(x)))


class SASRec(nn.Module):
    def __init__(self, items, d, blocks, heads, max_len, dropout):
        super().__init__()
        self.items, self.d, self.max_len = items, d, max_len
        self.item = nn.Embedding(items + 1, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        nn.init.normal_(self.item.weight, std=0.05)
        nn.init.normal_(self.pos.weight, std=0.05)
        with torch.no_grad():
            self.item.weight[0].zero_()
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(d)

    def hidden(self, rows):
        b, length = rows.shape
        positions = torch.arange(self.max_len - length, self.max_len).unsqueeze(0).expand(b, length)
        x = self.drop(self.item(rows) * math.sqrt(self.d) + self.pos(positions))
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), 1)
        padding = rows == 0
        for block in self.blocks:
            x = block(x, causal, padding)
        return self.norm(x)

    def catalogue(self):
        return self.item.weight[1:]


def padded(histories, length):
    rows = np.zeros((len(histories), length), dtype=np.int64)
    for r, h in enumerate(histories):
        h = h[-length:]
        if h:
            rows[r, length - len(h):] = np.asarray(h) + 1
    return torch.from_numpy(rows)


def train_batch(model, windows):
    length = model.max_len
    inputs = padded([w[:-1] for w in windows], length)
    targets = torch.full((len(windows), length), -1, dtype=torch.long)
    for r, w in enumerate(windows):
        steps = len(w) - 1
        targets[r, length - steps:] = torch.tensor(w[1:])
    h = model.hidden(inputs)
    keep = targets >= 0
    logits = h[keep] @ model.catalogue().T
    return F.cross_entropy(logits, targets[keep]), int(keep.sum())


@torch.no_grad()
def ndcg_at_10(model, histories, targets, batch=256):
    model.eval()
    total, hits = 0.0, 0
    for s in range(0, len(histories), batch):
        hs = histories[s:s + batch]
        length = max(1, min(model.max_len, max(len(h) for h in hs)))
        h = model.hidden(padded(hs, length))[:, -1]
        scores = h @ model.catalogue().T
        for r, hist in enumerate(hs):
            row = scores[r]
            t = targets[s + r]
            target_score = row[t].item()
            row[list(set(hist))] = -float("inf")
            rank = int((row >= target_score).sum().item()) - 1
            if rank < 10:
                total += 1 / math.log2(rank + 2)
                hits += 1
    model.train()
    return total / len(histories), hits / len(histories)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=200)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--time-budget", type=float, default=None, help="seconds of training")
    ap.add_argument("--no-validate", action="store_true", help="time epochs only")
    ap.add_argument("--inference", action="store_true", help="time scoring after training")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)

    sequences, items = read_sequences(a.data)
    train = [s[:-2] for s in sequences]
    valid_targets = [s[-2] for s in sequences]
    test_hist = [s[:-1] for s in sequences]
    test_targets = [s[-1] for s in sequences]
    users = [u for u, s in enumerate(train) if len(s) >= 2]
    print(f"{len(sequences)} users, {items} items, {sum(map(len, train))} training events", file=sys.stderr)

    model = SASRec(items, a.dim, a.blocks, a.heads, a.max_len, a.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    epoch_seconds, valid_curve = [], []
    best, best_state, since_best, best_epoch = -1.0, None, 0, 0
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        random.shuffle(users)
        loss_sum, count = 0.0, 0
        out_of_time = False
        for s in range(0, len(users), a.batch):
            windows = [train[u][-(a.max_len + 1):] for u in users[s:s + a.batch]]
            opt.zero_grad()
            loss, n = train_batch(model, windows)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * n
            count += n
            if a.time_budget and time.perf_counter() - start > a.time_budget:
                out_of_time = True
                break
        epoch_seconds.append(time.perf_counter() - t0)
        line = f"epoch {epoch}: loss {loss_sum / max(count, 1):.4f}, {epoch_seconds[-1]:.1f} s"
        if not a.no_validate:
            ndcg, _ = ndcg_at_10(model, train, valid_targets)
            valid_curve.append(ndcg)
            line += f", valid NDCG@10 {ndcg:.4f}"
            if ndcg > best:
                best, best_epoch, since_best = ndcg, epoch, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        print(line, file=sys.stderr, flush=True)
        if out_of_time or (not a.no_validate and since_best > a.patience):
            break
    train_seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    row = {"name": "pytorch-sasrec", "threads": a.threads, "dim": a.dim, "blocks": a.blocks, "heads": a.heads,
           "max_len": a.max_len, "batch": a.batch, "epoch_seconds": epoch_seconds, "train_seconds": train_seconds,
           "best_epoch": best_epoch, "valid_ndcg": valid_curve}
    if not a.no_validate and a.epochs > 0:
        ndcg, hr = ndcg_at_10(model, test_hist, test_targets)
        row["test"] = {"NDCG@10": ndcg, "HR@10": hr}
        print(f"test NDCG@10 {ndcg:.4f} HR@10 {hr:.4f}", file=sys.stderr)
    if a.inference:
        model.eval()
        with torch.no_grad():
            torch.set_num_threads(1)
            one = padded([test_hist[0][-a.max_len:]], a.max_len)
            for _ in range(20):
                (model.hidden(one)[:, -1] @ model.catalogue().T)
            t0 = time.perf_counter()
            reps = 200
            for _ in range(reps):
                (model.hidden(one)[:, -1] @ model.catalogue().T)
            row["one_user_ms_1_thread"] = (time.perf_counter() - t0) / reps * 1e3
            torch.set_num_threads(a.threads)
            batch = padded([h[-a.max_len:] for h in test_hist[:256]], a.max_len)
            model.hidden(batch)
            t0 = time.perf_counter()
            for _ in range(5):
                (model.hidden(batch)[:, -1] @ model.catalogue().T)
            row["batch_256_ms"] = (time.perf_counter() - t0) / 5 * 1e3
        print(f"inference: one user {row['one_user_ms_1_thread']:.2f} ms (1 thread), "
              f"256 users {row['batch_256_ms']:.1f} ms ({a.threads} threads)", file=sys.stderr)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"results": [row]}))


if __name__ == "__main__":
    main()
