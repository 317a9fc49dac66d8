"""Writes the tiny randomly initialised BERT sentence encoder the Swift tests load, with
sentence-transformers' token ids and embeddings for a few sentences.

    Benchmarks/peers/.venv/bin/python Benchmarks/peers/make_tiny_bert.py \
        Tests/SwiftRecModelsTests/Fixtures/tiny-bert

The folder has the layout of a sentence-transformers model (config.json, vocab.txt,
model.safetensors, modules.json, 1_Pooling/config.json, ...) plus expected.json.
"""
import json
import os
import shutil
import sys
import tempfile

import torch
from sentence_transformers import SentenceTransformer, models
from transformers import BertConfig, BertModel, BertTokenizer

SENTENCES = [
    "Hello, world!",
    "The café's crème brûlée costs $4.50 — naïve pricing?",
    "Digital multimeter with auto-ranging, 6000 counts",
    "数字万用表 自动量程",
    "UNSEEN zzqx tokens become unknown",
    " ".join(["long"] * 80),
    "",
]


def vocabulary():
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += list("abcdefghijklmnopqrstuvwxyz0123456789")
    tokens += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    tokens += list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~—")
    tokens += ["hello", "world", "cafe", "creme", "brulee", "costs", "naive", "pricing", "digital",
               "multi", "##meter", "with", "auto", "ranging", "##ing", "counts", "the", "long", "tokens",
               "become", "unknown", "##s", "un", "##seen"]
    tokens += list("数字万用表自动量程")
    return tokens


def main(out):
    torch.manual_seed(7)
    work = tempfile.mkdtemp()
    with open(os.path.join(work, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary()) + "\n")
    config = BertConfig(vocab_size=len(vocabulary()), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu")
    model = BertModel(config)
    with torch.no_grad():  # random but not tiny, so the test sees real signal through every layer
        for p in model.parameters():
            p.normal_(0, 0.2)
    model.save_pretrained(work, safe_serialization=True)
    BertTokenizer(os.path.join(work, "vocab.txt"), do_lower_case=True).save_pretrained(work)
    transformer = models.Transformer(work, max_seq_length=48)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    if os.path.exists(out):
        shutil.rmtree(out)
    st.save(out, safe_serialization=True)
    # Newer sentence-transformers keep only tokenizer.json; the Swift encoder reads vocab.txt.
    shutil.copy(os.path.join(work, "vocab.txt"), os.path.join(out, "vocab.txt"))
    for extra in ["README.md", "config_sentence_transformers.json", "tokenizer.json", "special_tokens_map.json"]:
        if os.path.exists(os.path.join(out, extra)):
            os.remove(os.path.join(out, extra))
    ids = [st.tokenizer(s, truncation=True, max_length=48)["input_ids"] for s in SENTENCES]
    embeddings = st.encode(SENTENCES, convert_to_numpy=True, batch_size=3)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"sentences": SENTENCES, "ids": ids, "embeddings": embeddings.tolist()}, f)
    shutil.rmtree(work)
    print(f"wrote {out}: {len(SENTENCES)} sentences, dim {embeddings.shape[1]}")


if __name__ == "__main__":
    main(sys.argv[1])
