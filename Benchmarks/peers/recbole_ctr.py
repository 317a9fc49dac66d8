#!/usr/bin/env python3
"""RecBole 1.2.1 peer for SwiftRec's CTR protocol (`swiftrec evaluate --protocol ctr`).

Trains RecBole's context-aware models (FM, DeepFM, WideDeep, DCNV2) and DIN on exactly the
split SwiftRec exported with `--export-split` (RecBole atomic files NAME.train/valid/test.inter,
NAME.user, NAME.item), through RecBole's `benchmark_filename`, and reports test AUC, LogLoss and
GAUC, the best validation AUC, the epochs run and the mean wall time of a training epoch
(evaluation excluded).

Comparison only: SwiftRec never imports or runs this. Needs the virtualenv described in
Benchmarks/peers/README.md ("RecBole CTR peer"): torch CPU, recbole==1.2.1, numpy<2, pandas<3.

Human-readable progress (and RecBole's own log) goes to stderr; a table and, with --json, one JSON
object as the last line go to stdout.
"""
import argparse
import bisect
import json
import os
import sys
import time
from collections import defaultdict

DEFAULT_MODELS = "FM,DeepFM,WideDeep,DCNV2,DIN"
CONTEXT_MODELS = {"FM", "DeepFM", "WideDeep", "DCNV2"}
SEQUENTIAL_MODELS = {"DIN"}
SUFFIXES = ("train", "valid", "test")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="/tmp/peer/ml-1m-ctr",
                   help="folder holding NAME.{train,valid,test}.inter, NAME.user, NAME.item")
    p.add_argument("--dataset-name", default="ml-1m-ctr", help="NAME of the atomic files")
    p.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated RecBole model names")
    p.add_argument("--epochs", type=int, default=30, help="most training epochs (early stopping may end sooner)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (and OMP/MKL)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    p.add_argument("--work-dir", default="/tmp/recbole-ctr-work",
                   help="scratch folder: dataset links, DIN history files, checkpoints, RecBole logs")
    p.add_argument("--history", type=int, default=50,
                   help="DIN: most recent training items per example (RecBole's MAX_ITEM_LIST_LENGTH)")
    p.add_argument("--set", action="append", default=[], metavar="[MODEL:]KEY=YAML",
                   help="override a RecBole setting, for all models or one, e.g. "
                        "--set 'DeepFM:mlp_hidden_size=[256,256,256]' (repeatable)")
    p.add_argument("--seed", type=int, default=2020)
    return p.parse_args()


# --------------------------------------------------------------------------------------------
# Compatibility shims (process-local; nothing in site-packages is modified).
# --------------------------------------------------------------------------------------------
def apply_shims(torch, np):
    """RecBole 1.2.1 predates torch 2.6 and numpy 2.

    * torch >= 2.6 defaults `torch.load(weights_only=True)`. RecBole's checkpoints pickle the
      Config object and numpy state, which that refuses, so `Trainer.evaluate(load_best_model=True)`
      fails. We restore the old default (weights_only=False) when the caller does not pass it.
      Only files this script itself wrote are loaded.
    * numpy: RecBole's `Config.compatibility_settings` assigns `np.float = np.float_` etc.; numpy 2
      removed `np.float_`/`np.complex_`/`np.unicode_`, so Config() raises. We require numpy<2
      (tested with 1.26.4) rather than shim further, since other numpy-2 breakage is untested.
    * ray: `recbole.quick_start` imports ray 2.6.3, which needs `pkg_resources` (setuptools).
      This script does not use quick_start (it calls Config/create_dataset/data_preparation/
      get_model/get_trainer directly), so ray is never imported.
    """
    if int(np.__version__.split(".")[0]) >= 2:
        sys.exit(f"recbole_ctr: numpy {np.__version__} found; RecBole 1.2.1 needs numpy<2 "
                 "(pip install 'numpy<2')")
    original_load = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original_load(*args, **kwargs)

    torch.load = load


# --------------------------------------------------------------------------------------------
# Dataset folders in the work dir.
# --------------------------------------------------------------------------------------------
def link(src, dst):
    if os.path.lexists(dst):
        os.remove(dst)
    os.symlink(os.path.abspath(src), dst)


def read_inter(path):
    """Rows of an exported .inter file as (user, item, label, timestamp-string, timestamp-float)."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        expected = ["user_id:token", "item_id:token", "label:float", "timestamp:float"]
        if header != expected:
            sys.exit(f"recbole_ctr: {path}: header {header}, expected {expected}")
        rows = []
        for line in f:
            if not line.strip():
                continue
            u, i, y, t = line.rstrip("\n").split("\t")
            rows.append((u, i, y, t, float(t)))
    return rows


def prepare_context_dataset(args):
    """<work>/<name>/ with symlinks to the exported files (RecBole reads data_path/name/name.*)."""
    folder = os.path.join(args.work_dir, "data", args.dataset_name)
    os.makedirs(folder, exist_ok=True)
    for suffix in [f"{s}.inter" for s in SUFFIXES] + ["user", "item"]:
        src = os.path.join(args.data_dir, f"{args.dataset_name}.{suffix}")
        if not os.path.exists(src):
            sys.exit(f"recbole_ctr: missing {src}; export the split first (see README)")
        link(src, os.path.join(folder, f"{args.dataset_name}.{suffix}"))
    return args.dataset_name


def prepare_din_dataset(args):
    """<work>/<name>-din/: the same examples, in the same order, plus `item_id_list:token_seq`.

    RecBole's SequentialDataset does not build histories for benchmark files (it expects them
    precomputed), so we write them: for every train, valid and test example, the user's
    *training* items (either label) with a timestamp strictly before the example's, oldest
    first, the last `--history` of them. This is SwiftRec's CTRExperiment/FeatureRanker rule
    (history = the training events before the pair's time), so no valid/test event is ever
    part of a history.
    """
    name = f"{args.dataset_name}-din"
    folder = os.path.join(args.work_dir, "data", name)
    os.makedirs(folder, exist_ok=True)
    parts = {s: read_inter(os.path.join(args.data_dir, f"{args.dataset_name}.{s}.inter")) for s in SUFFIXES}
    by_user = defaultdict(list)
    for position, (u, i, _, _, t) in enumerate(parts["train"]):
        by_user[u].append((t, position, i))
    times, items = {}, {}
    for u, events in by_user.items():
        events.sort()  # by time, then by file order
        times[u] = [e[0] for e in events]
        items[u] = [e[2] for e in events]
    lengths = []
    for suffix, rows in parts.items():
        out = [
            "user_id:token\titem_id:token\tlabel:float\ttimestamp:float\titem_id_list:token_seq"
        ]
        for u, i, y, ts, t in rows:
            end = bisect.bisect_left(times.get(u, []), t)
            history = items[u][max(0, end - args.history):end] if end else []
            lengths.append(len(history))
            out.append(f"{u}\t{i}\t{y}\t{ts}\t{' '.join(history)}")
        with open(os.path.join(folder, f"{name}.{suffix}.inter"), "w") as f:
            f.write("\n".join(out) + "\n")
    for suffix in ("user", "item"):
        link(os.path.join(args.data_dir, f"{args.dataset_name}.{suffix}"), os.path.join(folder, f"{name}.{suffix}"))
    empty = sum(1 for n in lengths if n == 0)
    log(f"DIN histories: {len(lengths)} examples, mean length {sum(lengths) / len(lengths):.1f}, "
        f"{empty} empty")
    return name


# --------------------------------------------------------------------------------------------
# Metrics from the recorded predictions.
# --------------------------------------------------------------------------------------------
def auc(scores, labels):
    """ROC AUC with tied scores counted half (rank-sum form); None if one class is missing."""
    import numpy as np
    from scipy.stats import rankdata

    labels = np.asarray(labels)
    pos = int((labels == 1).sum())
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def group_auc(users, scores, labels):
    """(GAUC weighted by each user's example count — SwiftRec's BinaryClassification.groupAUC —,
    GAUC weighted by each user's positives — RecBole's GAUC metric's formula); users with only one
    class are skipped in both."""
    import numpy as np

    users, scores, labels = np.asarray(users), np.asarray(scores), np.asarray(labels)
    order = np.argsort(users, kind="stable")
    users, scores, labels = users[order], scores[order], labels[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    by_examples = [0.0, 0.0]
    by_positives = [0.0, 0.0]
    for s, e in zip(starts, ends):
        a = auc(scores[s:e], labels[s:e])
        if a is None:
            continue
        by_examples[0] += a * (e - s)
        by_examples[1] += e - s
        p = float(labels[s:e].sum())
        by_positives[0] += a * p
        by_positives[1] += p
    return (by_examples[0] / by_examples[1] if by_examples[1] else None,
            by_positives[0] / by_positives[1] if by_positives[1] else None)


def log_loss(probabilities, labels):
    """Mean binary cross-entropy, probabilities clamped to [1e-7, 1 - 1e-7] as in SwiftRec."""
    import numpy as np

    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


# --------------------------------------------------------------------------------------------
def log(message):
    print(f"[recbole_ctr] {message}", file=sys.stderr, flush=True)


def parse_overrides(items):
    import yaml

    out = defaultdict(dict)
    for item in items:
        target, sep, rest = item.partition(":") if ":" in item.split("=", 1)[0] else ("*", "", item)
        key, eq, value = rest.partition("=")
        if not eq or not key:
            sys.exit(f"recbole_ctr: --set {item!r}: expected [MODEL:]KEY=YAML")
        out[target][key.strip()] = yaml.safe_load(value)
    return out


def run_model(model_name, dataset_name, args, overrides):
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    sequential = model_name in SEQUENTIAL_MODELS
    inter_cols = ["user_id", "item_id", "label", "timestamp"] + (["item_id_list"] if sequential else [])
    settings = {
        "data_path": os.path.join(args.work_dir, "data"),
        "checkpoint_dir": os.path.join(args.work_dir, "saved"),
        "benchmark_filename": list(SUFFIXES),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "LABEL_FIELD": "label",
        "TIME_FIELD": "timestamp",
        "load_col": {
            "inter": inter_cols,
            "user": ["user_id", "age", "gender", "occupation", "zip"],
            "item": ["item_id", "year", "genre"],
        },
        "numerical_features": [],  # timestamp (float) is therefore not a model feature
        "filter_inter_by_user_or_item": True,
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "train_neg_sample_args": None,
        # `split` and `order` are ignored with benchmark_filename (RecBole keeps the three files
        # as they are); SequentialDataset still insists on order TO.
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "group_by": None,
                      "order": "TO" if sequential else "RO", "mode": "labeled"},
        # GAUC is a RANKING-type metric in RecBole 1.2.1 and cannot be combined with the VALUE
        # metrics AUC/LogLoss ("Ranking metrics and value metrics can not be used at the same
        # time"), so GAUC is computed here from the recorded test predictions.
        "metrics": ["AUC", "LogLoss"],
        "valid_metric": "AUC",
        "valid_metric_bigger": True,
        "eval_step": 1,
        "stopping_step": 3,
        "epochs": args.epochs,
        "embedding_size": 16,
        "train_batch_size": 2048,
        "eval_batch_size": 4096,
        "learning_rate": 0.001,
        "learner": "adam",
        "weight_decay": 0.0,
        "seed": args.seed,
        "reproducibility": True,
        "use_gpu": False,
        "gpu_id": "",
        "device": "cpu",
        "worker": 0,
        "show_progress": False,
        "state": "INFO",
        "log_wandb": False,
        "save_dataset": False,
        "save_dataloaders": False,
    }
    if sequential:
        settings["alias_of_item_id"] = ["item_id_list"]
        settings["MAX_ITEM_LIST_LENGTH"] = args.history
    settings.update(overrides.get("*", {}))
    settings.update(overrides.get(model_name, {}))

    config = Config(model=model_name, dataset=dataset_name, config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    torch.set_num_threads(args.threads)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    log(f"{model_name}: {len(train_data._dataset)} train, {len(valid_data._dataset)} valid, "
        f"{len(test_data._dataset)} test examples; users {dataset.user_num - 1}, items {dataset.item_num - 1}")

    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    hyper = {k: config[k] for k in ("embedding_size", "mlp_hidden_size", "dropout_prob", "cross_layer_num",
                                     "low_rank", "reg_weight", "structure", "mixed", "pooling_mode")
             if config[k] is not None}
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"{model_name}: {hyper}, {n_params} parameters")

    # Training-epoch wall time, evaluation excluded.
    epoch_seconds = []
    train_epoch = trainer._train_epoch

    def timed_train_epoch(*a, **kw):
        start = time.perf_counter()
        try:
            return train_epoch(*a, **kw)
        finally:
            epoch_seconds.append(time.perf_counter() - start)
            log(f"{model_name}: epoch {len(epoch_seconds)} trained in {epoch_seconds[-1]:.2f} s")

    trainer._train_epoch = timed_train_epoch

    # Record (user, label, score) of every evaluated example, for GAUC.
    recorded = None
    batch_eval = trainer._neg_sample_batch_eval

    def recording_batch_eval(batched_data):
        out = batch_eval(batched_data)
        if recorded is not None:
            interaction, scores = out[0], out[1]
            recorded["user"].append(interaction[config["USER_ID_FIELD"]].cpu())
            recorded["label"].append(interaction[config["LABEL_FIELD"]].cpu())
            recorded["score"].append(scores.detach().float().cpu())
        return out

    trainer._neg_sample_batch_eval = recording_batch_eval

    fit_start = time.perf_counter()
    best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    fit_seconds = time.perf_counter() - fit_start

    recorded = {"user": [], "label": [], "score": []}
    test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    users = torch.cat(recorded["user"]).numpy()
    labels = torch.cat(recorded["label"]).numpy()
    scores = torch.cat(recorded["score"]).numpy()
    if len(labels) != len(test_data._dataset):
        log(f"WARNING: {len(labels)} predictions recorded for {len(test_data._dataset)} test examples")
    gauc, gauc_pos = group_auc(users, scores, labels)
    result = {
        "model": model_name,
        "test_AUC": float(test_result["auc"]),
        "test_LogLoss": float(test_result["logloss"]),
        "test_GAUC": gauc,
        "valid_AUC": float(best_valid_result["auc"]) if best_valid_result else None,
        "epochs_run": len(epoch_seconds),
        "seconds_per_epoch": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None,
        "fit_seconds": fit_seconds,
        # Cross-checks and extras: our own AUC/LogLoss from the same predictions (unrounded;
        # RecBole rounds to 4 places), RecBole's positive-weighted GAUC formula, epoch times.
        "test_AUC_check": auc(scores, labels),
        "test_LogLoss_check": log_loss(scores, labels),
        "test_GAUC_pos_weighted": gauc_pos,
        "test_examples": int(len(labels)),
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "parameters": int(n_params),
        "threads": args.threads,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in hyper.items()},
    }
    log(f"{model_name}: test {test_result}, GAUC {gauc}, best valid AUC {result['valid_AUC']}, "
        f"{result['epochs_run']} epochs, {result['seconds_per_epoch']:.2f} s/epoch, fit {fit_seconds:.1f} s")
    return result


def main():
    args = parse_args()
    # RecBole's Config also reads `--key=value` words from sys.argv as settings of the highest
    # priority (and warns about the others); keep our flags away from it.
    sys.argv = sys.argv[:1]
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np
    import torch

    apply_shims(torch, np)
    torch.set_num_threads(args.threads)
    import recbole

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in CONTEXT_MODELS | SEQUENTIAL_MODELS]
    if unknown:
        log(f"note: {unknown} are not among the models this peer was checked with")
    overrides = parse_overrides(args.set)
    args.data_dir = os.path.abspath(args.data_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    # RecBole writes ./log and ./log_tensorboard relative to the working directory.
    os.chdir(args.work_dir)
    log(f"recbole {recbole.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"threads {args.threads}, data {args.data_dir}")

    context_name = prepare_context_dataset(args)
    din_name = prepare_din_dataset(args) if any(m in SEQUENTIAL_MODELS for m in models) else None

    results = []
    for name in models:
        results.append(run_model(name, din_name if name in SEQUENTIAL_MODELS else context_name, args, overrides))

    header = ["model", "test AUC", "test GAUC", "test LogLoss", "valid AUC", "epochs", "s/epoch", "fit s"]
    rows = [[r["model"], f"{r['test_AUC']:.4f}", f"{r['test_GAUC']:.4f}" if r["test_GAUC"] is not None else "-",
             f"{r['test_LogLoss']:.4f}", f"{r['valid_AUC']:.4f}" if r["valid_AUC"] is not None else "-",
             str(r["epochs_run"]), f"{r['seconds_per_epoch']:.2f}", f"{r['fit_seconds']:.1f}"] for r in results]
    widths = [max(len(h), *(len(row[k]) for row in rows)) for k, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    sys.stdout.flush()
    if args.json:
        meta = {"recbole": recbole.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "threads": args.threads, "data_dir": args.data_dir, "dataset": args.dataset_name}
        print(json.dumps({"results": results, "meta": meta}))


if __name__ == "__main__":
    main()
