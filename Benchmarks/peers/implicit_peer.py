"""The `implicit` package's ALS (conjugate gradient) and BPR on the leave-one-out split of a
sequence file — the peers for SwiftRec's `ImplicitALS` and `BPR`.

Same split and protocol as ease_numpy.py: fit on train; test = last item, full ranking over all
items, history (train + validation) excluded, ties pessimistic.

Confidence: implicit uses c = alpha·r for a positive (and 1 for the rest); SwiftRec's
`ImplicitALS` uses c = 1 + α·r. So SwiftRec's α corresponds to implicit's alpha − 1; pass
SwiftRec's α with --alpha and this script gives implicit alpha = 1 + α.

ALS test users are re-solved from train + validation (`recalculate_user`, an exact solve), as
SwiftRec solves a user from the state's items; BPR users keep their trained factors (implicit
has no fold-in for BPR). Seconds per iteration are the median of implicit's per-iteration
callback times. Prints one JSON object per model on the last line.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/datasets/ml-1m-seq/train_input.txt")
    p.add_argument("--models", default="als,bpr")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--regularization", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=1.0, help="SwiftRec's α (implicit alpha = 1 + α)")
    p.add_argument("--cg-steps", type=int, default=3)
    p.add_argument("--bpr-iterations", type=int, default=100)
    p.add_argument("--bpr-lr", type=float, default=0.01)
    p.add_argument("--bpr-regularization", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # implicit threads itself; BLAS inside it must not
    import numpy as np
    import implicit
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    from ease_numpy import binary_matrix, evaluate, load_split

    train, valid, test, n_items = load_split(args.data)
    X = binary_matrix(train, n_items, np.float32)
    rows = [train[u] + [valid[u]] if u in valid else train[u] for u in range(len(train))]
    Xh = binary_matrix(rows, n_items, np.float32)
    history = {u: sorted(set(rows[u])) for u in test}
    users = sorted(test)
    results = []
    for name in args.models.split(","):
        times = []
        callback = lambda it, elapsed, *rest: times.append(elapsed)
        if name == "als":
            model = AlternatingLeastSquares(
                factors=args.factors, regularization=args.regularization, alpha=1.0 + args.alpha,
                iterations=args.iterations, use_cg=True, use_gpu=False, num_threads=args.threads,
                random_state=args.seed, calculate_training_loss=False,
            )
            model.cg_steps = args.cg_steps
        else:
            model = BayesianPersonalizedRanking(
                factors=args.factors, learning_rate=args.bpr_lr, regularization=args.bpr_regularization,
                iterations=args.bpr_iterations, use_gpu=False, num_threads=args.threads, random_state=args.seed,
            )
        start = time.perf_counter()
        model.fit(X, show_progress=False, callback=callback)
        fit = time.perf_counter() - start
        if name == "als":
            U = np.asarray(model.recalculate_user(np.array(users), Xh[users]))
            factors = {u: U[row] for row, u in enumerate(users)}
            score = lambda us: np.stack([factors[u] for u in us]) @ model.item_factors.T
        else:
            score = lambda us: model.user_factors[us] @ model.item_factors.T
        result = evaluate(score, history, test, n_items)
        result.update(
            name=f"implicit-{name}", factors=args.factors, iterations=len(times), threads=args.threads,
            fit_seconds=fit, iteration_seconds=statistics.median(times), iteration_seconds_min=min(times),
            implicit_version=implicit.__version__,
        )
        if name == "als":
            result.update(regularization=args.regularization, alpha_swiftrec=args.alpha, implicit_alpha=1 + args.alpha,
                          cg_steps=args.cg_steps)
        else:
            result.update(learning_rate=args.bpr_lr, regularization=args.bpr_regularization)
        print(f"{name}: NDCG@10 {result['NDCG@10']:.4f}, {result['iteration_seconds']:.3f} s/iteration, fit {fit:.2f} s",
              file=sys.stderr)
        results.append(result)
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
