#!/usr/bin/env python3
"""PyTorch CPU eager reference for one SwiftRec transformer training step.

Model (written out op for op, no nn.TransformerEncoderLayer):
  x = item_emb(ids) + pos_emb            item_emb: (items+1) x d, padding_idx=0
  h = x + Dropout(MHA(LayerNorm(x)))     pre-norm, causal mask, q/k/v/out Linear w/ bias
  h = h + Dropout(FFN(LayerNorm(h)))     FFN = Linear(d,4d) -> GELU -> Linear(4d,d)
  h = LayerNorm(h)
  logits = h @ item_emb.weight[1:].T     full-catalogue head, [batch*len, items]
  loss = cross_entropy(logits, targets); loss.backward(); Adam(lr=1e-3).step()

Attention is explicit matmul + masked_fill + softmax ("pytorch-eager"), or
F.scaled_dot_product_attention(is_causal=True) with --sdpa ("pytorch-sdpa").
Times --steps steps after 2 warm-up steps; prints human info to stderr and a
JSON result object as the last stdout line. Comparison peer only.
"""
import argparse, json, math, os, resource, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, length, p, sdpa):
        super().__init__()
        self.heads, self.dh, self.sdpa = heads, d // heads, sdpa
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(p)
        mask = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", mask, persistent=False)

    def mha(self, x):
        B, L, D = x.shape
        split = lambda t: t.view(B, L, self.heads, self.dh).transpose(1, 2)  # B,H,L,dh
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.sdpa:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-2, -1)) / math.sqrt(self.dh)
            s = s.masked_fill(self.causal[:L, :L], float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
        return self.o(a.transpose(1, 2).reshape(B, L, D))

    def forward(self, x):
        h = x + self.drop(self.mha(self.ln1(x)))
        return h + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(h)))))


class Model(nn.Module):
    def __init__(self, items, length, d, heads, p, sdpa):
        super().__init__()
        self.item_emb = nn.Embedding(items + 1, d, padding_idx=0)
        self.pos_emb = nn.Parameter(torch.randn(length, d) * 0.02)
        self.block = Block(d, heads, length, p, sdpa)
        self.ln_f = nn.LayerNorm(d)

    def forward(self, ids, targets):
        h = self.ln_f(self.block(self.item_emb(ids) + self.pos_emb[: ids.shape[1]]))
        logits = h.reshape(-1, h.shape[-1]) @ self.item_emb.weight[1:].T
        return F.cross_entropy(logits, targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--len", type=int, default=200)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--items", type=int, default=3416)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sdpa", action="store_true", help="use F.scaled_dot_product_attention")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Model(a.items, a.len, a.dim, a.heads, a.dropout, a.sdpa).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(1, a.items + 1, (a.batch, a.len))
    targets = torch.randint(0, a.items, (a.batch, a.len))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(ids, targets)
        loss.backward()
        opt.step()
        return loss.item()

    impl = "pytorch-sdpa" if a.sdpa else "pytorch-eager"
    print(f"torch {torch.__version__}, {impl}, threads={torch.get_num_threads()}, "
          f"loadavg(1m)={os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus", file=sys.stderr)
    for i in range(a.warmup):
        print(f"warmup {i}: loss={step():.4f}", file=sys.stderr)
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        print(f"step {i}: {times[-1]:.4f}s loss={loss:.4f}", file=sys.stderr)
    med = statistics.median(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    print(f"median {med:.4f}s/step, peak RSS {rss_mb:.1f} MB", file=sys.stderr)
    print(json.dumps({"results": [{
        "name": "pytorch-transformer-step", "impl": impl,
        "batch": a.batch, "len": a.len, "d": a.dim, "heads": a.heads, "items": a.items,
        "threads": a.threads, "step_seconds": round(med, 6),
        "peak_rss_mb": round(rss_mb, 1), "torch_version": torch.__version__}]}))


if __name__ == "__main__":
    main()
