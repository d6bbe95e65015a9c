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
# # Training named-entity recognizers with spaCy
#
# A named-entity recognizer finds the names in a text and says what they name: a person, a
# place, an organisation. spaCy ships pretrained recognizers, but someone trained them on
# annotated text, and when your texts or your entity types differ from theirs you will want to
# train your own. This notebook shows how, with spaCy's own model and training loop driven by
# `nanonlp.ner`.
#
# Before the training we do two things by hand, because every NER project depends on them:
# turning per-token **BIO tags** into entity spans, and scoring predicted spans against gold
# ones with **exact-match precision, recall and F1** (the CoNLL-2003 measure). Both are
# checked against the library, which itself checks spaCy's scorer against seqeval.
#
# Data: the English CoNLL-2003 shared task (Reuters news with PER, LOC, ORG and MISC entities;
# Tjong Kim Sang & De Meulder, 2003) when `NANONLP_DATA` is set. CoNLL-2003 cannot be shipped,
# so without it the notebook falls back to a small **synthetic** set of templated sentences, and
# its scores mean only that the pipeline works.
#
# Set `NANONLP_FAST=1` to run everything at a small size in under a minute.

# %%
import os
import random
import tempfile
from itertools import islice
from pathlib import Path

import matplotlib.pyplot as plt
import spacy
from IPython.display import HTML, display
from spacy import displacy

from nanonlp import datasets
from nanonlp.ner.convert import bio_spans, save_docbin, sentences_to_docs
from nanonlp.ner.evaluate import predict, score
from nanonlp.ner.tour import synthetic_sentences
from nanonlp.ner.train import NERTrainConfig, train

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## BIO tags
#
# Annotated corpora mark entities token by token: `B-X` begins an entity of type X, `I-X`
# continues it, `O` is outside any entity. Two entities of the same type side by side are told
# apart by the second one's `B-`.

# %%
if datasets.available("conll2003", "train") and datasets.available("conll2003", "dev"):
    n_train, n_dev = (600, 200) if FAST else (14_041, 3_250)  # full size: all of CoNLL
    train_sents = list(islice(datasets.load("conll2003", "train"), n_train))
    dev_sents = list(islice(datasets.load("conll2003", "dev"), n_dev))
    data = "CoNLL-2003 English (eng.train, eng.testa)"
else:
    rng = random.Random(0)
    n_train, n_dev = (300, 100) if FAST else (2_000, 400)
    train_sents = synthetic_sentences(n_train, rng)
    dev_sents = synthetic_sentences(n_dev, rng, held_out=True)
    data = "SYNTHETIC templated sentences (set NANONLP_DATA for CoNLL-2003)"
print(f"{data}: {len(train_sents):,} training and {len(dev_sents):,} dev sentences")
example = next(s for s in train_sents if sum(t != "O" for t in s.tags) >= 3)
for token, tag in zip(example.tokens, example.tags):
    print(f"{token:15} {tag}")

# %% [markdown]
# Reading the entities off the tags is a small state machine. A stray `I-X` with no entity of
# type X before it (it happens in real data) starts a new entity, as the CoNLL evaluation
# script treats it.

# %%
def spans_from_bio(tags):
    """[(start, end, type)] with end exclusive: ['B-PER', 'I-PER', 'O'] -> [(0, 2, 'PER')]."""
    spans = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, label = tag.split("-", 1)
        continues = prefix == "I" and spans and spans[-1][1] == i and spans[-1][2] == label
        if continues:
            spans[-1] = (spans[-1][0], i + 1, label)
        else:
            spans.append((i, i + 1, label))
    return spans


print(spans_from_bio(example.tags))
assert spans_from_bio(["I-LOC", "I-LOC", "B-LOC", "O", "I-PER"]) == [(0, 2, "LOC"), (2, 3, "LOC"), (4, 5, "PER")]
for s in train_sents + dev_sents:
    assert spans_from_bio(s.tags) == bio_spans(s.tags)
print("spans_from_bio == nanonlp.ner.convert.bio_spans on every sentence")

# %% [markdown]
# ## Scoring by exact match
#
# An entity counts as found only if its start, end *and* type all match a gold entity. Then
# precision is the share of predicted entities that are right, recall the share of gold entities
# found, and F1 their harmonic mean. Partial matches earn nothing, which makes this measure
# strict about boundaries.

# %%
def prf(gold_spans, pred_spans):
    """Micro-averaged exact-match P, R, F1 over lists of span sets (one per document)."""
    tp = sum(len(set(g) & set(p)) for g, p in zip(gold_spans, pred_spans))
    n_pred = sum(len(p) for p in pred_spans)
    n_gold = sum(len(g) for g in gold_spans)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# %% [markdown]
# ## Training spaCy's recognizer
#
# spaCy learns from `Doc` objects with the gold entities set, stored in a binary `DocBin` file.
# `sentences_to_docs` groups sentences into documents (ten per `Doc`, never across an article
# boundary) and `train` runs spaCy's own training loop on a config built from `spacy init
# config` (a transition-based NER on top of a convolutional token encoder with hashed
# embeddings), yielding one record per update so that we can plot progress. Full size trains
# for ten minutes of wall-clock time; fast mode takes a fixed 40 steps of a narrower network.

# %%
work = Path(tempfile.mkdtemp(prefix="nanonlp-ner-"))
nlp = spacy.blank("en")
save_docbin(sentences_to_docs(train_sents, nlp.vocab, n_sents=10), work / "train.spacy")
dev_docs = list(sentences_to_docs(dev_sents, nlp.vocab, n_sents=10))
save_docbin(dev_docs, work / "dev.spacy")

narrow = ("components.tok2vec.model.encode.width=64", "components.tok2vec.model.encode.depth=2",
          "training.optimizer.learn_rate=0.005")
config = NERTrainConfig(train=str(work / "train.spacy"), dev=str(work / "dev.spacy"),
                     out=str(work / "model"), seed=0,
                     max_steps=40 if FAST else 20_000, budget_min=None if FAST else 10,
                     eval_frequency=10 if FAST else 200, overrides=narrow if FAST else ())
steps = []
for step in train(config):
    steps.append(step)
    if step.dev_f1 is not None:
        print(f"step {step.step:5d}  loss {step.loss:9.2f}  dev F1 {100 * step.dev_f1:5.1f}"
              f"{'  (best)' if step.best else ''}")
print(steps[-1].stopped)

# %%
evals = [s for s in steps if s.dev_f1 is not None]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot([s.step for s in evals], [100 * s.dev_f1 for s in evals], "o-")
ax.set_xlabel("update")
ax.set_ylabel("dev F1 (%)")
ax.set_title("spaCy NER: F1 on the dev set during training")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Scoring the best model, by hand and by the library
#
# We load the saved `model-best` pipeline, run it over the dev documents, and score it three
# ways: our `prf`, spaCy's `Scorer` (inside `nanonlp.ner.evaluate.score`) and seqeval, the
# standard Python port of the CoNLL script. All three must agree.

# %%
best = spacy.load(work / "model" / "model-best")
pred_docs = predict(best, dev_docs)
gold_spans = [[(e.start, e.end, e.label_) for e in d.ents] for d in dev_docs]
pred_spans = [[(e.start, e.end, e.label_) for e in d.ents] for d in pred_docs]
p, r, f = prf(gold_spans, pred_spans)
report = score(pred_docs, dev_docs)
assert abs(p - report.precision) < 1e-9 and abs(r - report.recall) < 1e-9 and abs(f - report.f1) < 1e-9
assert report.seqeval_agrees
for label in report.per_type:
    mine = prf([[s for s in g if s[2] == label] for g in gold_spans],
               [[s for s in q if s[2] == label] for q in pred_spans])
    assert abs(mine[2] - report.per_type[label].f1) < 1e-9
print(f"by hand: P {100 * p:.2f}  R {100 * r:.2f}  F1 {100 * f:.2f}  (== spaCy Scorer == seqeval)\n")
print(report.table())
print()
print(report.confusion_table())

# %% [markdown]
# The confusion table shows, for each gold entity type, what the model predicted on exactly
# those tokens; `(none)` in a row means a missed or mis-bounded entity, in the last row a
# prediction where there was no gold entity.
#
# ## Predictions on new text
#
# displaCy draws the entities the model finds in sentences it has never seen.

# %%
texts = ["Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the European Union budget.",
         "Shares in Toyota rose after the company said it would open a plant in Texas.",
         "Grace Hopper joined the Navy and later worked for Remington Rand in Philadelphia ."]
docs = list(best.pipe(texts))
for doc in docs:
    print([(e.text, e.label_) for e in doc.ents])
display(HTML(displacy.render(docs, style="ent", jupyter=False)))

# %% [markdown]
# From the shell the same pipeline is `nanonlp ner convert conll2003:train train.spacy`,
# `nanonlp ner train train.spacy dev.spacy --budget_min 10`, `nanonlp ner evaluate` and
# `nanonlp ner tag`. `--vectors` adds static word vectors trained with `nanonlp word2vec` as
# extra input features, which the next two notebooks are about.
