#!/usr/bin/env python3
"""implicit's ALS started from SwiftRec's exact initial factors, to compare the algorithms
without the noise of different random starts.

SwiftRec's `ImplicitALS` draws user then item factors as uniform [0, 1) × 0.01 from its
xoshiro256** generator (seeded through SplitMix64); this script reproduces that stream, hands
the factors to implicit (confidence alpha = 1 + SwiftRec's α), fits, re-solves test users from
train + validation with `recalculate_user`, and evaluates with the protocol of `ease_numpy.py`.
The last stdout line is JSON. Compare with
`swiftrec evaluate --data … --format ml-1m-seq --models ials --set seed=S --json`.

Usage: Benchmarks/peers/.venv/bin/python Benchmarks/peers/implicit_same_init.py --seed 0
"""
import argparse, json, os, sys

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from ease_numpy import binary_matrix, evaluate, load_split  # noqa: E402

MASK = (1 << 64) - 1


def swiftrec_uniform(seed, n):
    """The first n values of SwiftRec's SeededGenerator(seed: seed).nextUniform()."""
    x, state = seed, []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        state.append(z ^ (z >> 31))
    s0, s1, s2, s3 = state
    out = np.empty(n, dtype=np.float32)
    for k in range(n):
        a = (s1 * 5) & MASK
        r = ((((a << 7) | (a >> 57)) & MASK) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK
        out[k] = np.float32(r >> 40) * np.float32(1.0 / 16777216.0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "../../../shared/datasets/ml-1m-seq/train_input.txt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--regularization", type=float, default=0.1)
    ap.add_argument("--alpha", type=float, default=1.0, help="SwiftRec's α; implicit gets 1 + α")
    a = ap.parse_args()
    train, valid, test, n_items = load_split(a.data)
    users = len(train)
    f = a.factors
    start = swiftrec_uniform(a.seed, (users + n_items) * f) * np.float32(0.01)
    rows = [train[u] + [valid[u]] if u in valid else train[u] for u in range(users)]
    model = AlternatingLeastSquares(
        factors=f, regularization=a.regularization, alpha=1.0 + a.alpha, iterations=a.iterations, use_cg=True,
        use_gpu=False, num_threads=2, calculate_training_loss=False)
    model.user_factors = start[: users * f].reshape(users, f).copy()
    model.item_factors = start[users * f:].reshape(n_items, f).copy()
    model.fit(binary_matrix(train, n_items, np.float32), show_progress=False)
    tested = sorted(test)
    solved = np.asarray(model.recalculate_user(np.array(tested), binary_matrix(rows, n_items, np.float32)[tested]))
    factors = {u: solved[r] for r, u in enumerate(tested)}
    history = {u: sorted(set(rows[u])) for u in test}
    result = evaluate(lambda us: np.stack([factors[u] for u in us]) @ model.item_factors.T, history, test, n_items)
    print(json.dumps({"name": "implicit-als-swiftrec-init", "seed": a.seed, "NDCG@10": result["NDCG@10"],
                      "HR@10": result["HR@10"]}))


if __name__ == "__main__":
    main()
