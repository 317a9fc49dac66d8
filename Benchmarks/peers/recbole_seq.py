#!/usr/bin/env python3
"""RecBole 1.2.1 peer for SwiftRec's sequential models on ml-1m-seq (e.g. Caser).

Converts `train_input.txt` (one user per line: user id, then item ids oldest first) into RecBole
atomic files (`timestamp` = position), then trains a RecBole sequential model with leave-one-out
by time ('LS' valid_and_test: last item test, second last validation), full-catalogue ranking with
the training history masked, and full cross-entropy (RecBole's default for its sequential models),
as `swiftrec evaluate` does on the same file. Reports test NDCG@10 / HR@10, the best validation
NDCG@10, the epochs run and the mean wall time of a training epoch.

One difference in the model, not the protocol: RecBole's Caser adds a per-user embedding, which
SwiftRec's `caser` leaves out (it serves users from their items alone).

Comparison only: SwiftRec never imports or runs this. Needs the virtualenv of
Benchmarks/peers/README.md ("RecBole CTR peer"): torch CPU, recbole==1.2.1, numpy<2, pandas<3.
"""
import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/datasets/ml-1m-seq/train_input.txt")
    p.add_argument("--model", default="Caser")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-len", type=int, default=5, help="MAX_ITEM_LIST_LENGTH (Caser's L)")
    p.add_argument("--work-dir", default="/tmp/recbole-seq-work")
    p.add_argument("--patience", type=int, default=0,
                   help="stop after this many epochs without a better valid NDCG@10 (0: run every epoch)")
    p.add_argument("--time-budget", type=float, default=0,
                   help="stop starting epochs after this many seconds of training and validation (0: none)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    original_load = torch.load

    def load(*a, **k):  # RecBole's checkpoints pickle its Config (see recbole_ctr.py)
        k.setdefault("weights_only", False)
        return original_load(*a, **k)

    torch.load = load
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    name = "ml1mseq"
    folder = os.path.join(args.work_dir, name)
    os.makedirs(folder, exist_ok=True)
    with open(args.data) as source, open(os.path.join(folder, name + ".inter"), "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for line in source:
            ids = line.split()
            if len(ids) < 2:
                continue
            for position, item in enumerate(ids[1:]):
                out.write(f"{ids[0]}\t{item}\t{position}\n")
    config = Config(model=args.model, dataset=name, config_dict={
        "data_path": args.work_dir, "checkpoint_dir": os.path.join(args.work_dir, "saved"),
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": args.max_len, "loss_type": "CE", "train_neg_sample_args": None,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10",
        "epochs": args.epochs, "stopping_step": 1000, "train_batch_size": 2048, "eval_batch_size": 4096,
        "learning_rate": 0.001, "seed": 2020, "reproducibility": True, "show_progress": False,
        "device": "cpu", "use_gpu": False,
    })
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train.dataset).to("cpu")
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    epoch_seconds, best, since_best, began = [], -1.0, 0, time.time()
    for epoch in range(args.epochs):
        start = time.time()
        loss = trainer._train_epoch(train, epoch, show_progress=False)
        epoch_seconds.append(time.time() - start)
        score, result = trainer._valid_epoch(valid, show_progress=False)
        if score > best:
            best, since_best = score, 0
            trainer._save_checkpoint(epoch)
        else:
            since_best += 1
        print(f"{args.model}: epoch {epoch + 1}, loss {float(np.sum(loss)):.4f}, {epoch_seconds[-1]:.1f} s, "
              f"valid NDCG@10 {score:.4f}", file=sys.stderr, flush=True)
        if args.patience and since_best >= args.patience:
            break
        if args.time_budget and time.time() - began > args.time_budget:
            break
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    row = {"model": args.model, "test": {"NDCG@10": float(result["ndcg@10"]), "HR@10": float(result["hit@10"])},
           "best_valid_NDCG@10": best, "epochs": len(epoch_seconds),
           "epoch_seconds_mean": sum(epoch_seconds) / len(epoch_seconds), "threads": args.threads}
    print(f"{args.model}: test NDCG@10 {row['test']['NDCG@10']:.4f}, HR@10 {row['test']['HR@10']:.4f}, "
          f"best valid NDCG@10 {best:.4f}, {row['epoch_seconds_mean']:.1f} s per epoch")
    if args.json:
        print(json.dumps({"results": [row]}))


if __name__ == "__main__":
    main()
