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
# # The byte-pair encoding algorithm
#
# A language model reads numbers, not text, so something has to cut text into pieces and give
# each piece an id. Characters make sequences long; whole words leave every unseen word out.
# **Byte-pair encoding** (BPE) sits between the two. It began as a compression scheme (Gage,
# 1994), was brought to neural translation by Sennrich, Haddow and Birch (2016), and, run on
# UTF-8 bytes, is how GPT-2, GPT-4 and most open models tokenize today.
#
# Training is one loop:
#
# 1. start from the 256 byte values, so any text at all can be written down;
# 2. count every pair of neighbouring tokens in the training text;
# 3. give the most frequent pair a new id and replace each of its occurrences by that id;
# 4. repeat until the vocabulary has the size you asked for.
#
# Encoding new text replays the merges in the order they were learned. In this notebook we
# write both by hand, check them against `nanonlp.bpe`, and then let the library learn a real
# vocabulary and see what it found.
#
# Set `NANONLP_FAST=1` to run everything at a small size in a few seconds.

# %%
import os
import time
from itertools import pairwise

import matplotlib.pyplot as plt

from nanonlp import datasets
from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe import reference as ref
from nanonlp.bpe.patterns import GPT4_PATTERN, compile_pattern
from nanonlp.bpe.tokenizer import render_token

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## Counting pairs and merging one
#
# Text becomes bytes with UTF-8; a byte is already a token id between 0 and 255. Two small
# functions do all the work: one counts adjacent pairs, the other rewrites a sequence with one
# pair replaced by a new id.

# %%
def pair_counts(ids):
    """How often each adjacent pair occurs: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}."""
    counts = {}
    for a, b in pairwise(ids):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts


def replace_pair(ids, pair, new_id):
    """Replace each occurrence of `pair`, scanning left to right (so 'aaa' merges 'aa' once)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


ids = list("aaabdaaabac".encode("utf-8"))  # noqa: UP012 (text -> bytes is the point)
print(ids)
print(pair_counts(ids))
print(replace_pair(ids, (97, 97), 256))

# %% [markdown]
# The training loop repeats these two steps. When two pairs are equally frequent we need a rule
# so that training is deterministic; ours (the library's too) takes the pair with the smallest
# ids.

# %%
def train_by_hand(chunks, num_merges):
    """Learn `num_merges` merges over a list of byte strings; merge i creates id 256 + i."""
    seqs = [list(c) for c in chunks]
    merges = []
    for i in range(num_merges):
        counts = {}
        for s in seqs:
            for pair, n in pair_counts(s).items():
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break  # every chunk is a single token: nothing left to merge
        best = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        seqs = [replace_pair(s, best, 256 + i) for s in seqs]
        merges.append(best)
    return merges


merges = train_by_hand([b"aaabdaaabac"], 3)
print(merges)  # aa -> 256, ab -> 257, then (aa)(ab) -> 258

# %% [markdown]
# That is the example from the Wikipedia article on BPE: `aaabdaaabac` becomes
# `XdXac` with `X = ZY`, `Y = ab`, `Z = aa`. Now the same thing with the library, which must
# agree exactly: the helpers of its plain reference trainer, and the fast trainer behind
# `Tokenizer.train` (it counts pairs incrementally instead of rescanning the text).

# %%
assert pair_counts(ids) == ref.get_stats(ids)
assert replace_pair(ids, (97, 97), 256) == ref.merge(ids, (97, 97), 256)
assert merges == ref.train_reference([b"aaabdaaabac"], 3)

tok = Tokenizer.train("aaabdaaabac", BPEConfig(vocab_size=259, pattern="none", special=()))
assert tok.merges == merges
assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
print("hand-written trainer == nanonlp.bpe (reference and fast trainers)")

# %% [markdown]
# ## Encoding: replaying the merges
#
# To encode new text we start from its bytes and apply learned merges, always the one learned
# *earliest* among the pairs present, until no learned pair is left. The order matters: a merge
# learned later may be built from tokens that earlier merges create.

# %%
def encode_by_hand(text, merges):
    rank = {pair: 256 + i for i, pair in enumerate(merges)}  # the new id doubles as priority
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pair = min(pairwise(ids), key=lambda p: rank.get(p, float("inf")))
        if pair not in rank:
            break
        ids = replace_pair(ids, pair, rank[pair])
    return ids


def decode_by_hand(ids, merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for i, (a, b) in enumerate(merges):
        vocab[256 + i] = vocab[a] + vocab[b]
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


print(encode_by_hand("aaabdaaabac", merges))
assert encode_by_hand("aaabdaaabac", merges) == tok.encode("aaabdaaabac")
assert decode_by_hand(tok.encode("abracadabra"), merges) == "abracadabra"

# %% [markdown]
# ## Splitting before merging
#
# Trained on raw text, BPE happily learns tokens such as `"dog."` or `"e t"` that glue a word to
# punctuation or to the next word. GPT-2 introduced a fix: first split the text with a regular
# expression into chunks (words with their leading space, numbers, punctuation runs, spaces),
# and only merge inside a chunk. GPT-4's pattern also caps digit runs at three and handles
# contractions case-insensitively. Here is what it does to a sentence:

# %%
split = compile_pattern(GPT4_PATTERN)
print(split.findall("Hello world, it's 2024: don't split 123456 digits!"))

# %% [markdown]
# ## A real corpus
#
# Now a real training text: Shakespeare's plays (`tinyshakespeare`) when `NANONLP_DATA` points
# at the data sets, otherwise the Lee news corpus that ships inside gensim. We keep the last
# tenth aside to measure how well the tokenizer compresses text it has never seen.

# %%
if datasets.available("tinyshakespeare"):
    name = "tinyshakespeare"
    train_text = "\n".join(datasets.text(name, "train"))
    held_out = "\n".join(datasets.text(name, "val"))
else:
    name = "lee_corpus"
    docs = list(datasets.text(name))
    cut = len(docs) * 9 // 10
    train_text, held_out = "\n".join(docs[:cut]), "\n".join(docs[cut:])
if FAST:
    train_text, held_out = train_text[:60_000], held_out[:20_000]
vocab_size = 512 if FAST else 4096
print(f"{name}: {len(train_text):,} training characters, {len(held_out):,} held out")

# %% [markdown]
# First a check at a size the hand-written loop can manage: on the GPT-4 chunks of the first
# few thousand characters, our loop and the library's fast trainer must learn the same merges.

# %%
sample = train_text[:5_000 if FAST else 20_000]
chunks = [c.encode("utf-8") for c in split.findall(sample)]
n_check = 40 if FAST else 100
start = time.perf_counter()
hand = train_by_hand(chunks, n_check)
t_hand = time.perf_counter() - start
start = time.perf_counter()
lib = Tokenizer.train(sample, BPEConfig(vocab_size=256 + n_check, pattern="gpt4", special=()))
t_lib = time.perf_counter() - start
assert hand == lib.merges
print(f"{n_check} merges agree; by hand {t_hand:.2f} s, library {t_lib:.2f} s")

# %% [markdown]
# The library's trainer counts each distinct chunk once and updates pair counts only where a
# merge happened, so it scales to the whole corpus:

# %%
start = time.perf_counter()
tok = Tokenizer.train(train_text, BPEConfig(vocab_size=vocab_size, pattern="gpt4"))
print(f"{len(tok.merges):,} merges in {time.perf_counter() - start:.1f} s; {tok!r}")
print("first merges:", [render_token(tok.vocab[256 + i]) for i in range(12)])
longest = sorted(range(256, len(tok.vocab)), key=lambda i: -len(tok.vocab[i]))[:10]
print("longest tokens:", [render_token(tok.vocab[i]) for i in longest])

# %% [markdown]
# Encoding and decoding are exact inverses, and the hand-written encoder (without the regex
# split, applied to one chunk at a time) gives the same ids:

# %%
ids = tok.encode(held_out)
assert tok.decode(ids) == held_out
line = next(x for x in held_out.splitlines() if len(x) > 40)[:200]
by_hand = [i for c in split.findall(line) for i in encode_by_hand(c, tok.merges)]
assert by_hand == tok.encode(line)
print(" | ".join(render_token(tok.vocab[i]) for i in tok.encode(line)))

# %% [markdown]
# ## How much does a bigger vocabulary buy?
#
# BPE is greedy, so the first *k* merges of this tokenizer are exactly the tokenizer trained to
# 256 + *k* tokens. That lets us measure the compression of every smaller vocabulary from one
# training run: bytes of held-out text per token.

# %%
sizes = [s for s in (256, 320, 384, 512, 768, 1024, 1536, 2048, 3072) if s < len(tok.vocab)]
sizes.append(len(tok.vocab))  # every merge (the special token aside)
n_bytes = len(held_out.encode("utf-8"))
ratio = [n_bytes / len(Tokenizer(tok.merges[: s - 256], tok.pattern).encode(held_out)) for s in sizes]
lengths = [len(tok.vocab[i]) for i in ids]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
ax1.plot(sizes, ratio, "o-")
ax1.set_xscale("log", base=2)
ax1.set_xlabel("vocabulary size")
ax1.set_ylabel("held-out bytes per token")
ax1.set_title("Compression grows with the vocabulary")
ax2.hist(lengths, bins=range(1, max(lengths) + 2), align="left")
ax2.set_xlabel("token length in bytes")
ax2.set_ylabel("tokens in the held-out text")
ax2.set_title(f"Token lengths at {len(tok.vocab):,} tokens")
fig.tight_layout()
plt.show()
print({s: round(r, 2) for s, r in zip(sizes, ratio)})

# %% [markdown]
# Each doubling of the vocabulary buys less than the one before: the common words are merged
# first, and later merges serve rarer and rarer strings. A language model pays for every token
# in its embedding table and its output layer, which is why vocabularies stop somewhere between
# thirty thousand and a few hundred thousand tokens.
#
# The trained tokenizer saves to a text file (`tok.save(prefix)`) and exports to tiktoken and to
# HF `tokenizers` (`nanonlp.bpe.export`); from the shell, `nanonlp bpe train` does all of this.

# %% [markdown]
# ## WordPiece: BERT's tokenizer
#
# BERT does not use BPE. Its tokenizer, **WordPiece** (Wu et al. 2016; Devlin et al. 2019),
# first cuts the text into words: it cleans it, lower-cases it and strips accents for an
# uncased model, and splits at spaces and around punctuation. Then each word is cut into
# pieces from a fixed vocabulary, **greedily, longest match first**. The first piece is the
# longest vocabulary entry that starts the word. Every later piece carries a `##` prefix,
# which marks it as the continuation of a word. A word that no sequence of pieces spells out
# becomes `[UNK]` whole.
#
# There are no merges to replay here: the vocabulary alone decides the cut, so a BERT
# `vocab.txt` (one token per line, the line number is the id) is the whole model. The
# algorithm fits in a few lines:

# %%
def wordpiece_by_hand(word, vocab, max_chars=100):
    """'unaffable' -> ['un', '##aff', '##able'] given those pieces; ['[UNK]'] if none fit."""
    if len(word) > max_chars:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        # try the longest candidate first, then shorten it from the right
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            return ["[UNK]"]  # nothing in the vocabulary starts this part of the word
    return pieces


toy = {"un", "##aff", "##able", "##a", "a", "aff"}
print(wordpiece_by_hand("unaffable", toy), wordpiece_by_hand("unable", toy),
      wordpiece_by_hand("unzip", toy))
print(wordpiece_by_hand("unable", toy | {"una"}))  # the longest first piece is a dead end

# %% [markdown]
# Greedy never looks back. `unable` comes out as `un ##able`; add `una` to the vocabulary and
# the longest first piece leaves `ble`, which no `##` piece spells, so the whole word becomes
# `[UNK]` although `un ##able` still exists. BERT accepts that for speed: one pass per word,
# no search.
#
# `nanonlp` does not train WordPiece vocabularies (its BERT reads the `vocab.txt` of a
# checkpoint you bring), so we let HF `tokenizers` learn one on the same training text. The
# library's `WordPiece` reads the folder, and on the held-out text three things must agree:
# our hand-written function, the library, and HF's own tokenizer.

# %%
import tempfile
from pathlib import Path

import tokenizers

from nanonlp.bpe.wordpiece import WordPiece, normalize, split_words

wp_dir = Path(tempfile.mkdtemp(prefix="wordpiece-"))
trainer = tokenizers.BertWordPieceTokenizer(lowercase=True)
trainer.train_from_iterator(train_text.splitlines(), vocab_size=vocab_size, show_progress=False)
trainer.save_model(str(wp_dir))  # writes vocab.txt
wp = WordPiece.from_hf(wp_dir)
print(wp)

words = split_words(normalize(held_out, lowercase=True))
by_hand = [wp.ids[p] for w in words for p in wordpiece_by_hand(w, wp.ids)]
assert by_hand == wp.encode(held_out)
assert wp.encode(held_out) == trainer.encode(held_out, add_special_tokens=False).ids
line = next(x for x in held_out.splitlines() if len(x) > 40)[:200]
print(" ".join(wp.vocab[i] for i in wp.encode(line)))
n_unk = sum(i == wp.unk_id for i in by_hand)
print(f"held out: {len(words):,} words -> {len(by_hand):,} pieces "
      f"({len(by_hand) / len(words):.2f} per word), {n_unk} [UNK]")

# %% [markdown]
# Two differences from byte-level BPE show in that line. WordPiece throws away information:
# case, accents and the exact spaces are gone, so `decode` gives back a normalized text, not
# the original (which is fine for an encoder that classifies, and not for a model that must
# write text). And a character outside the vocabulary makes its whole word `[UNK]`, where
# byte-level BPE can always fall back to single bytes.
