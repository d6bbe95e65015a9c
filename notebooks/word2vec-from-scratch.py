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
# # word2vec from scratch in numpy
#
# word2vec (Mikolov et al., 2013) learns a vector for every word from nothing but running text.
# The model is tiny: two tables of vectors, one for words as *inputs* ($v$) and one for words
# as *outputs* ($u$). Skip-gram with negative sampling (SGNS) trains them with a logistic
# regression: for a word and a neighbour from its window (a positive pair) it pushes $u_o \cdot v$
# up, and for $K$ random "noise" words it pushes $u_k \cdot v$ down:
#
# $$ L = -\log \sigma(u_o \cdot v) - \sum_{k=1}^{K} \log \sigma(-u_k \cdot v), \qquad
#    \sigma(x) = \frac{1}{1 + e^{-x}} $$
#
# Words that appear in similar contexts are pushed towards the same output vectors, so their
# input vectors end up close together. In this notebook we derive the gradient, write one SGD
# step in numpy, build the two sampling tables (noise words and the subsampling of frequent
# words), check every piece against `nanonlp.word2vec`, and then train on real text with the
# library's numba kernel, which makes the very same updates a few hundred times faster.
#
# Set `NANONLP_FAST=1` to run everything at a small size in a few seconds.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from nanonlp import datasets
from nanonlp.word2vec import Corpus, Word2Vec, Word2VecConfig, evaluate
from nanonlp.word2vec import reference as ref
from nanonlp.word2vec.plot import pca_2d
from nanonlp.word2vec.vocab import KEEP_ONE, keep_probability, noise_table

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
rng = np.random.default_rng(0)
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## The loss and its gradient
#
# Write $x_o = u_o \cdot v$ and $x_k = u_k \cdot v$. Since $\frac{d}{dx}\log\sigma(x) =
# 1 - \sigma(x)$, every term of the loss has the gradient "prediction minus label":
#
# $$ \frac{\partial L}{\partial x_o} = \sigma(x_o) - 1, \qquad
#    \frac{\partial L}{\partial x_k} = \sigma(x_k) - 0 $$
#
# and the chain rule through $x = u \cdot v$ gives
# $\partial L / \partial v = (\sigma(x_o) - 1)\,u_o + \sum_k \sigma(x_k)\,u_k$,
# $\partial L / \partial u_o = (\sigma(x_o) - 1)\,v$ and
# $\partial L / \partial u_k = \sigma(x_k)\,v$.

# %%
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def loss(v, u_pos, u_neg):
    """v (D,), u_pos (D,), u_neg (K, D) -> the SGNS loss of one example."""
    return -np.log(sigmoid(u_pos @ v)) - np.log(sigmoid(-(u_neg @ v))).sum()


def grads(v, u_pos, u_neg):
    e_pos = sigmoid(u_pos @ v) - 1.0  # scalar
    e_neg = sigmoid(u_neg @ v)  # (K,)
    return e_pos * u_pos + e_neg @ u_neg, e_pos * v, e_neg[:, None] * v[None, :]


D, K = 8, 5
v, u_pos, u_neg = rng.normal(size=D), rng.normal(size=D), rng.normal(size=(K, D))
g_v, g_pos, g_neg = grads(v, u_pos, u_neg)

# a finite-difference check of dL/dv, one coordinate at a time
eps = 1e-6
numeric = np.array([(loss(v + eps * e, u_pos, u_neg) - loss(v - eps * e, u_pos, u_neg)) / (2 * eps)
                    for e in np.eye(D)])
np.testing.assert_allclose(g_v, numeric, rtol=1e-5, atol=1e-7)

# and the library's versions of the same formulas
np.testing.assert_allclose(loss(v, u_pos, u_neg), ref.sgns_loss(v, u_pos, u_neg), rtol=1e-12)
for mine, theirs in zip((g_v, g_pos, g_neg), ref.sgns_grads(v, u_pos, u_neg)):
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)
print(f"loss {loss(v, u_pos, u_neg):.4f}; gradients match finite differences and the library")

# %% [markdown]
# ## One SGD step, the way word2vec.c takes it
#
# The original C tool does not compute the whole gradient first. It goes through the targets
# (the positive word, then each noise word) one at a time: it computes the error for that
# target, adds its share of the step for $v$ into a buffer, and *immediately* updates that
# target's output vector. Only at the end does $v$ move. (A noise word that happens to equal
# the positive word is skipped.) The learning rate $\eta$ scales everything.

# %%
def sgns_step(W_in, W_out, context, word, negatives, lr):
    """Update W_in[context] and the rows W_out[word], W_out[negatives] in place; return the loss."""
    h = W_in[context].copy()
    step_h = np.zeros_like(h)
    total = 0.0
    for target, label in [(word, 1.0)] + [(n, 0.0) for n in negatives if n != word]:
        x = float(W_out[target] @ h)
        total += -np.log(sigmoid(x)) if label else -np.log(sigmoid(-x))
        g = np.float32(lr * (label - sigmoid(x)))  # minus the learning rate times dL/dx
        step_h += g * W_out[target]  # uses u before its own update
        W_out[target] += g * h
    W_in[context] += step_h
    return total


V = 20
W_in = ((rng.random((V, D)) - 0.5) / D).astype(np.float32)
W_out = rng.normal(scale=0.1, size=(V, D)).astype(np.float32)
A_in, A_out = W_in.copy(), W_out.copy()
for _ in range(50):  # fifty random steps, ours on (W_in, W_out), the library's on copies
    context, word = rng.integers(V, size=2)
    negatives = rng.integers(V, size=K).tolist()
    mine = sgns_step(W_in, W_out, context, word, negatives, 0.05)
    theirs = ref.sgns_step(A_in, A_out, context, word, negatives, 0.05)
    assert abs(mine - theirs) < 1e-5
np.testing.assert_allclose(W_in, A_in, atol=1e-6)
np.testing.assert_allclose(W_out, A_out, atol=1e-6)
print("hand-written SGD step == nanonlp.word2vec.reference.sgns_step over 50 steps")

# %% [markdown]
# ## Where the noise words and the pairs come from
#
# Two tables come from the word counts.
#
# * **Noise words** are drawn from the unigram distribution raised to the power 3/4, which gives
#   rare words more chances than their frequency alone. The C tool (and gensim, and we) store
#   it as a cumulative table of integers and find a draw with a binary search.
# * **Subsampling**: very frequent words ("the", "of") carry little information and dominate
#   the pairs. Each occurrence of a word with corpus share $f$ is kept with probability
#   $(\sqrt{f/t} + 1)\,t/f$ (capped at 1), with $t$ = `sample` = $10^{-3}$ by default.

# %%
counts = np.array([5000, 1200, 300, 40, 7, 1])

weights = counts ** 0.75
table = np.round(np.cumsum(weights) / weights.sum() * (2**31 - 1)).astype(np.int64)
assert (table == noise_table(counts)).all()

t = 1e-3 * counts.sum()
keep = np.floor(np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1.0) * KEEP_ONE)
assert (keep.astype(np.uint64) == keep_probability(counts, 1e-3)).all()

print("noise probability vs unigram:", np.round(weights / weights.sum(), 3), np.round(counts / counts.sum(), 3))
print("chance of keeping an occurrence:", np.round(keep / KEEP_ONE, 3))

# %% [markdown]
# ## The slow path and the fast path
#
# `nanonlp.word2vec.reference.train_sentence` strings these pieces together for one sentence:
# subsample, draw a window radius for each position (nearer words count more), and take one
# SGNS step per (context, centre) pair. It is plain Python and slow. The library's default
# kernel (`nanonlp.word2vec.fast`) is the same loop compiled with numba, with the same random
# number generator (the C tool's 48-bit LCG) consumed in the same order: with one thread, the two
# must produce the same vectors. Let us check that on a small corpus.

# %%
small = [line for line in Corpus.from_datasets(["lee_corpus"])][:20 if FAST else 60]
results = {}
for kernel in ("reference", "fast"):
    config = Word2VecConfig(dim=32, epochs=1, min_count=2, workers=1, kernel=kernel, seed=3)
    trainer = Word2Vec(config)
    start = time.perf_counter()
    records = list(trainer.train(small))
    results[kernel] = (trainer.W_in.copy(), records[-1], time.perf_counter() - start)
(ref_w, ref_rec, ref_s), (fast_w, fast_rec, fast_s) = results["reference"], results["fast"]
np.testing.assert_allclose(fast_w, ref_w, atol=1e-5)
print(f"same vectors; reference {ref_rec.words / ref_s:,.0f} words/s, "
      f"fast {fast_rec.words / fast_s:,.0f} words/s (the first call includes numba's compilation)")

# %% [markdown]
# ## Training on real text
#
# Now the real thing: the first 1.2 million words of Wikipedia in `text8` when `NANONLP_DATA`
# is set, otherwise the Wikipedia sample and Lee corpus that ship inside gensim. The fast kernel
# runs on all cores with lock-free ("Hogwild") updates, as the C tool does.

# %%
if FAST:
    corpus, epochs, dim = Corpus.from_datasets(["lee_corpus"]), 15, 50
elif datasets.available("text8", "head"):
    corpus, epochs, dim = Corpus.from_datasets(["text8/head"]), 5, 100
else:
    corpus, epochs, dim = Corpus.from_datasets(["enwiki_sample", "lee_corpus"]), 10, 100
sentences = list(corpus)
print(f"{corpus.description}: {sum(map(len, sentences)):,} words")

config = Word2VecConfig(model="sg", dim=dim, epochs=epochs, workers=os.cpu_count() or 1,
                        report_every=20_000 if FAST else 200_000)
trainer = Word2Vec(config)
records = []
for record in trainer.train(sentences):
    records.append(record)
print(records[-1])
wv = trainer.vectors()

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot([r.words / 1e6 for r in records], [r.loss for r in records], "o-")
ax.set_xlabel("words trained (millions)")
ax.set_ylabel("loss per pair")
ax.set_title("Skip-gram training loss")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What did it learn?
#
# Nearest neighbours by cosine similarity, and the standard benchmarks: the Google analogy
# questions ("man is to king as woman is to ?") and the Spearman correlation between the
# model's similarities and human judgements on WordSim-353 and SimLex-999.

# %%
for word in [w for w in ("king", "france", "police", "government", "three") if w in wv][:4]:
    print(f"{word:>10}:", ", ".join(f"{w} ({s:.2f})" for w, s in wv.most_similar(word, topn=6)))

report = evaluate(wv, "words", ("wordsim353", "simlex999"))
analogy = report["analogy"]
print(f"analogies: {analogy['total']['accuracy']:.1%} of {analogy['total']['attempted']:,} "
      f"answered questions (semantic {analogy['semantic']['accuracy']:.1%}, "
      f"syntactic {analogy['syntactic']['accuracy']:.1%})")
for name, r in report["similarity"].items():
    print(f"{name}: Spearman {r['spearman']:.3f} on {r['pairs']} pairs")

# %% [markdown]
# A picture of a few words, projected from their vectors to two dimensions with PCA:

# %%
words = [w for w in ("king", "queen", "man", "woman", "paris", "france", "berlin", "germany",
                     "london", "england", "one", "two", "three", "four", "red", "blue", "green",
                     "police", "army", "government", "court", "children", "people")
         if w in wv]
xy = pca_2d(np.stack([wv.unit(w) for w in words]))
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(xy[:, 0], xy[:, 1], s=12)
for (x, y), w in zip(xy, words):
    ax.annotate(w, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
ax.set_title("Word vectors, first two principal components")
plt.show()

# %% [markdown]
# The same training from the shell is `nanonlp word2vec train`; `--backend gensim` runs the
# same configuration through gensim (the previous notebook), whose Cython loop is what ours is
# measured against in `BENCHMARKS.md`.
