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
# # Word vectors with gensim
#
# "You shall know a word by the company it keeps" (Firth, 1957). Words that occur in the same
# contexts tend to mean related things, so if we give each word a vector and train the vectors
# to predict their neighbours, related words get similar vectors. word2vec (Mikolov et al., 2013)
# made this fast enough to run on billions of words, and its vectors were the input layer of
# most neural NLP until contextual models took over; the token embeddings at the bottom of a
# transformer are the same idea, learned along with everything else.
#
# This notebook is about *using* word vectors. We train them with gensim (Řehůřek & Sojka,
# 2010), the standard Python implementation, through `nanonlp.word2vec`'s gensim backend, and
# then do by hand what every word-vector library does: cosine similarity, nearest neighbours,
# analogies by vector arithmetic, and evaluation against human similarity judgements. Each
# hand-written piece is checked against the library and against gensim itself. The next
# notebook opens up the training.
#
# Set `NANONLP_FAST=1` to run everything at a small size in a few seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from nanonlp import datasets
from nanonlp.word2vec import Corpus, Word2VecConfig, evaluate, make_trainer, spearman
from nanonlp.word2vec.plot import pca_2d

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## A corpus
#
# word2vec needs sentences as lists of tokens. `Corpus.from_datasets` reads named data sets and
# tokenizes them plainly (lower case, runs of letters and digits): the first 1.2 million words
# of Wikipedia in `text8` when `NANONLP_DATA` is set, otherwise the Wikipedia sample and the
# Lee news corpus that ship inside gensim itself.

# %%
if FAST:
    corpus, epochs = Corpus.from_datasets(["lee_corpus"]), 15
elif datasets.available("text8", "head"):
    corpus, epochs = Corpus.from_datasets(["text8/head"]), 5
else:
    corpus, epochs = Corpus.from_datasets(["enwiki_sample", "lee_corpus"]), 10
sentences = list(corpus)
print(f"{corpus.description}: {len(sentences):,} sentences, {sum(map(len, sentences)):,} words")
print(sentences[0][:20])

# %% [markdown]
# ## Training with gensim
#
# One config describes the run for both backends; `backend="gensim"` hands it to gensim's
# `Word2Vec` (skip-gram, negative sampling, the C tool's defaults) and gives back our
# `WordVectors`. gensim reports once per epoch.

# %%
config = Word2VecConfig(backend="gensim", model="sg", dim=50 if FAST else 100, epochs=epochs,
                        workers=os.cpu_count() or 1)
trainer = make_trainer(config)
records = list(trainer.train(sentences))
for r in records:
    print(r)
wv = trainer.vectors()
kv = trainer.model.wv  # gensim's own KeyedVectors, to compare against
print(wv)

# %% [markdown]
# ## Similarity by hand
#
# The similarity of two words is the cosine of the angle between their vectors: the dot
# product of the vectors scaled to unit length. Nearest neighbours are the words with the
# highest cosine to a query word (the word itself excluded).

# %%
words = wv.words
M = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)  # (V, D) unit rows
index = {w: i for i, w in enumerate(words)}


def cosine(a, b):
    return float(M[index[a]] @ M[index[b]])


def nearest(query_vec, exclude, topn=5):
    scores = M @ (query_vec / np.linalg.norm(query_vec))
    scores[[index[w] for w in exclude]] = -np.inf
    best = np.argsort(-scores)[:topn]
    return [(words[i], float(scores[i])) for i in best]


probe = next(w for w in ("police", "king", "government", "people") if w in index)
other = wv.most_similar(probe, topn=1)[0][0]
print(f"cos({probe}, {other}) = {cosine(probe, other):.4f}")
print(nearest(M[index[probe]], [probe]))

# the library and gensim agree with our arithmetic
assert abs(cosine(probe, other) - wv.similarity(probe, other)) < 1e-5
assert abs(cosine(probe, other) - float(kv.similarity(probe, other))) < 1e-5
mine = nearest(M[index[probe]], [probe])
assert [w for w, _ in mine] == [w for w, _ in wv.most_similar(probe, topn=5)]
assert [w for w, _ in mine] == [w for w, _ in kv.most_similar(probe, topn=5)]

# %% [markdown]
# ## Analogies by vector arithmetic
#
# Mikolov et al. noticed that differences between vectors carry relations: the vector
# $v_{king} - v_{man} + v_{woman}$ lies near $v_{queen}$. To answer "a is to b as c is to ?",
# add the unit vectors of b and c, subtract that of a, and take the nearest word that is none
# of the three ("3CosAdd"; Levy & Goldberg, 2014, name it and its variants).

# %%
def analogy(a, b, c, topn=3):
    query = M[index[b]] + M[index[c]] - M[index[a]]
    return nearest(query, [a, b, c], topn)


questions = [("man", "king", "woman"), ("france", "paris", "germany"), ("big", "bigger", "small"),
             ("australia", "australian", "france"), ("good", "better", "bad")]
for a, b, c in questions:
    if all(w in index for w in (a, b, c)):
        got = analogy(a, b, c)
        assert [w for w, _ in got] == [w for w, _ in wv.analogy(a, b, c, topn=3)]
        assert [w for w, _ in got] == [w for w, _ in kv.most_similar([b, c], [a], topn=3)]
        print(f"{a} : {b} :: {c} : {', '.join(f'{w} ({s:.2f})' for w, s in got)}")

# %% [markdown]
# ## Evaluating against people
#
# Word-similarity data sets ask people to rate word pairs (WordSim-353: *tiger*-*cat* 7.35,
# *stock*-*jaguar* 0.92). A model is scored by the **Spearman** rank correlation between its
# cosines and the human ratings: the Pearson correlation of the two lists' ranks, ties sharing
# their mean rank. Here it is by hand, next to the library's and scipy's.

# %%
def ranks(x):
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):  # ties: everyone gets the mean of their ranks
        same = x == value
        r[same] = r[same].mean()
    return r


def spearman_by_hand(x, y):
    rx, ry = ranks(x) - ranks(x).mean(), ranks(y) - ranks(y).mean()
    return float(rx @ ry / np.sqrt((rx @ rx) * (ry @ ry)))


pairs = [p for p in datasets.load("word_similarity", "wordsim353")
         if p.word1.lower() in index and p.word2.lower() in index]
human = [p.score for p in pairs]
model = [cosine(p.word1.lower(), p.word2.lower()) for p in pairs]
rho = spearman_by_hand(human, model)
assert abs(rho - spearman(human, model)) < 1e-12
assert abs(rho - spearmanr(human, model).statistic) < 1e-12
print(f"WordSim-353: Spearman {rho:.3f} on the {len(pairs)} pairs whose words the model knows")

# %% [markdown]
# The library's `evaluate` runs the whole battery: the Google analogy questions (about 19,500,
# semantic and syntactic, counted as gensim counts them) and each similarity set that can be
# read here.

# %%
report = evaluate(wv, "words", ("wordsim353", "simlex999"))
a = report["analogy"]
print(f"analogies: {a['total']['accuracy']:.1%} correct of {a['total']['attempted']:,} "
      f"attempted ({a['oov_ratio']:.0f}% of questions have a word the model lacks)")
for name, r in report["similarity"].items():
    print(f"{name}: Spearman {r['spearman']:.3f} ({r['pairs']} pairs)")

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(human, model, s=8, alpha=0.6)
ax.set_xlabel("human rating (WordSim-353)")
ax.set_ylabel("cosine similarity")
ax.set_title(f"Spearman {rho:.2f}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## A map of some words
#
# Vectors have 50 to 100 dimensions; PCA finds the two directions along which a chosen set of
# words varies most. With enough text, countries, capitals and numbers form their own groups.

# %%
chosen = [w for w in ("king", "queen", "man", "woman", "paris", "france", "berlin", "germany",
                      "london", "england", "one", "two", "three", "four", "red", "blue", "green",
                      "police", "army", "government", "court", "children", "people")
          if w in index]
xy = pca_2d(M[[index[w] for w in chosen]])
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(xy[:, 0], xy[:, 1], s=12)
for (x, y), w in zip(xy, chosen):
    ax.annotate(w, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
ax.set_title("Word vectors from gensim, first two principal components")
plt.show()

# %% [markdown]
# From the shell, the same run is
# `nanonlp word2vec train --data text8/head --backend gensim --out vectors.bin`, then
# `nanonlp word2vec eval vectors.bin`. The vectors are written in the word2vec C format, which
# gensim, spaCy (`nanonlp ner train --vectors`) and most other tools read.
