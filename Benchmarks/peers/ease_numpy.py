"""numpy EASE (Steck 2019) on the leave-one-out split of a sequence file — the peer for SwiftRec's `EASE`.

Split (as `Split.leaveOneOut`): one user per line, items in time order; a user with at least 3
events has the last item as test and the second last as validation, the rest is train; shorter
users are train only. EASE fits on train. Test: full ranking over all items for each held-out
user, the user's history (train + validation) excluded, ties counted against the target
(pessimistic). Prints HR@10, NDCG@10, MRR@10 and the fit seconds as JSON on the last line.

The fit is Steck's reference code: G = XᵀX (scipy sparse), G += λI, P = inv(G), B = P / -diag(P),
diag(B) = 0, in float64 unless --dtype float32.
"""

import argparse
import json
import os
import sys
import time


def load_split(path):
    users = []
    with open(path) as f:
        for line in f:
            tokens = line.split()
            if tokens:
                users.append([int(t) for t in tokens])
    ids = {}
    seqs = [[ids.setdefault(t, len(ids)) for t in seq] for seq in users]
    train, valid, test = [], {}, {}
    for u, seq in enumerate(seqs):
        if len(seq) >= 3:
            train.append(seq[:-2])
            valid[u] = seq[-2]
            test[u] = seq[-1]
        else:
            train.append(seq)
    return train, valid, test, len(ids)


def binary_matrix(rows, n_items, dtype):
    import numpy as np
    import scipy.sparse as sp

    indptr, indices = [0], []
    for items in rows:
        distinct = sorted(set(items))
        indices.extend(distinct)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=dtype)
    return sp.csr_matrix((data, np.array(indices), np.array(indptr)), shape=(len(rows), n_items))


def evaluate(score_rows, history, targets, n_items, k=10, batch=512):
    """score_rows(users) -> dense [len(users), n_items] scores."""
    import numpy as np

    users = sorted(targets)
    hr = ndcg = mrr = 0.0
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = np.asarray(score_rows(chunk), dtype=np.float64)
        for row, u in enumerate(chunk):
            s = scores[row]
            t = targets[u]
            ts = s[t]
            s[history[u]] = -np.inf
            s[t] = ts
            rank = int((s >= ts).sum()) - 1  # ties against the target
            if rank < k:
                hr += 1
                ndcg += 1 / np.log2(rank + 2)
                mrr += 1 / (rank + 1)
    n = len(users)
    return {"HR@10": hr / n, "NDCG@10": ndcg / n, "MRR@10": mrr / n, "users": n}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/datasets/ml-1m-seq/train_input.txt")
    p.add_argument("--lambda", dest="lam", type=float, default=500.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--repeat", type=int, default=1, help="fits to time (the minimum is reported too)")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    train, valid, test, n_items = load_split(args.data)
    dtype = np.float64 if args.dtype == "float64" else np.float32
    X = binary_matrix(train, n_items, dtype)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        G = (X.T @ X).toarray()
        G[np.diag_indices(n_items)] += args.lam
        P = np.linalg.inv(G)
        B = P / (-np.diag(P))
        B[np.diag_indices(n_items)] = 0
        times.append(time.perf_counter() - start)
        print(f"ease_numpy: fit {times[-1]:.3f} s", file=sys.stderr)
    history = {u: sorted(set(train[u]) | {valid[u]}) for u in test}
    Xh = binary_matrix([train[u] + [valid[u]] if u in valid else train[u] for u in range(len(train))], n_items, np.float32)
    B32 = B.astype(np.float32)
    result = evaluate(lambda us: (Xh[us] @ B32), history, test, n_items)
    result.update(
        name="ease-numpy", **{"lambda": args.lam}, dtype=args.dtype, threads=args.threads, items=n_items,
        fit_seconds=times[0], fit_seconds_min=min(times), numpy_version=np.__version__,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
