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
# # A machine translator in PyTorch
#
# A translator reads a sentence in one language and writes it in another. The neural recipe
# that made this work is the **encoder-decoder** (Sutskever et al., 2014; Cho et al., 2014): a
# recurrent network, the *encoder*, reads the source word by word into a sequence of state
# vectors, and a second recurrent network, the *decoder*, writes the translation one word at a
# time, each word conditioned on the words it has written so far.
#
# Squeezing a whole sentence into one fixed vector loses detail on long sentences. Bahdanau,
# Cho and Bengio (2015) let the decoder look back at *every* encoder state at each step and
# take a weighted average of them, with weights it computes itself: **attention**. The weights
# also tell us which source words the model was reading when it wrote each target word.
#
# This notebook follows the task of the PyTorch tutorial "NLP From Scratch: Translation with a
# Sequence to Sequence Network and Attention" (Sean Robertson): French to English on short
# Tatoeba sentences starting "I am", "he is", "they are"... We build the GRU step, one
# attention step and one decoder step by hand and check each against `nanonlp.seq2seq`, show
# how padding is kept out of attention, then train the library's translator, compare greedy
# and beam search with sacreBLEU and look at where it attends.
#
# Set `NANONLP_FAST=1` to run everything at a small size in under a minute.

# %%
import math
import os
import random
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from nanonlp import datasets
from nanonlp.seq2seq import Seq2Seq, Seq2SeqConfig, Translator, beam_search, greedy
from nanonlp.seq2seq.data import collate, reversal_pairs
from nanonlp.seq2seq.train import configs, evaluate, make_trainer, prepare
from nanonlp.seq2seq.vocab import EOS, PAD

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
torch.manual_seed(0)
# a recurrent net this small steps one word at a time: a second thread buys little, and on a
# busy machine costs a lot
torch.set_num_threads(1 if FAST else (os.cpu_count() or 1))
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## The GRU step
#
# Both networks are built from **gated recurrent units** (Cho et al., 2014). A GRU keeps a
# state $h$ and, given the next input $x$, decides how much of the state to overwrite. Two
# gates, each a logistic regression on $x$ and $h$, do the deciding: the *reset* gate $r$
# chooses how much of the old state feeds the candidate $n$, and the *update* gate $z$ mixes
# the old state and the candidate:
#
# $$
# \begin{aligned}
# r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
# z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
# n &= \tanh\big(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})\big) \\
# h' &= (1 - z) \odot n + z \odot h
# \end{aligned}
# $$
#
# When $z$ is near 1 the state is carried through unchanged, which lets information (and
# gradients) travel over many steps. PyTorch stores the three input matrices stacked as one
# `weight_ih` (in the order r, z, n) and the three recurrent ones as `weight_hh`. We write the
# step with those tensors and run it against the library's model: a small translator with
# random weights, built from the same `Seq2SeqConfig` the real one uses.

# %%
def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """x (B, I), h (B, H) -> the next state (B, H)."""
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=-1)  # input's share of each gate, (B, H)
    hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=-1)  # the state's share
    r = torch.sigmoid(xr + hr)  # reset gate
    z = torch.sigmoid(xz + hz)  # update gate
    n = torch.tanh(xn + r * hn)  # candidate state
    return (1 - z) * n + z * h


cfg = Seq2SeqConfig(src_vocab=12, tgt_vocab=10, emb_dim=6, hidden=8, attn_dim=5, dropout=0.0)
net = Seq2Seq(cfg, torch.Generator().manual_seed(0)).eval()
cell = net.cell  # the decoder's nn.GRUCell: input [word embedding; context], state H
x, h = torch.randn(3, cell.input_size), torch.randn(3, cfg.hidden)
mine = gru_step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
torch.testing.assert_close(mine, cell(x, h))
print("hand-written GRU step == the decoder's GRU cell")

# %% [markdown]
# ## The encoder: a GRU read both ways
#
# The encoder embeds each source word and runs a GRU over the sentence, left to right, and a
# second GRU right to left. Position $j$'s *annotation* is the two states side by side,
# $h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j]$, so it summarises the words on both sides
# of word $j$. The decoder's first state is a squashed linear map of the two final states
# (the left-to-right one after the last word, the right-to-left one after the first). Every
# source ends with `<eos>`, so the decoder can tell where the sentence stops.
#
# Running our step in a loop, forwards and then backwards, must give the library's annotations.

# %%
def encode_by_hand(src_ids, enc):
    """One unpadded sentence (S,) -> annotations (S, 2H), the decoder's first state (H,)."""
    rnn = enc.rnn
    x = enc.embed(src_ids)  # (S, E)
    H = rnn.hidden_size
    fwd, bwd = [], []
    h = torch.zeros(1, H)
    for t in range(len(x)):  # left to right
        h = gru_step(x[t:t + 1], h, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
                     rnn.bias_hh_l0)
        fwd.append(h[0])
    h = torch.zeros(1, H)
    for t in reversed(range(len(x))):  # right to left
        h = gru_step(x[t:t + 1], h, rnn.weight_ih_l0_reverse, rnn.weight_hh_l0_reverse,
                     rnn.bias_ih_l0_reverse, rnn.bias_hh_l0_reverse)
        bwd.insert(0, h[0])
    keys = torch.cat([torch.stack(fwd), torch.stack(bwd)], dim=-1)  # (S, 2H)
    start = torch.tanh(enc.bridge(torch.cat([fwd[-1], bwd[0]])))  # (H,)
    return keys, start


src = torch.tensor([[5, 7, 4, 9, EOS]])  # one sentence of four words and <eos>
with torch.no_grad():
    enc = net.encode(src)
    keys, start = encode_by_hand(src[0], net.encoder)
torch.testing.assert_close(keys, enc.keys[0])
torch.testing.assert_close(start, enc.hidden[0])
print(f"annotations {tuple(enc.keys.shape)} and the decoder's first state match the library")

# %% [markdown]
# ## Additive attention
#
# At each output step the decoder, in state $s_{t-1}$, scores every annotation with a small
# one-hidden-layer network, turns the scores into weights with a softmax, and reads the
# weighted average, the *context* $c_t$:
#
# $$ e_{tj} = v^\top \tanh(W_q s_{t-1} + W_k h_j), \qquad
#    \alpha_{tj} = \frac{\exp e_{tj}}{\sum_k \exp e_{tk}}, \qquad
#    c_t = \sum_j \alpha_{tj} h_j $$
#
# This is Bahdanau's *additive* attention (query and key are added inside a $\tanh$), as
# opposed to the dot-product attention of transformers. $W_k h_j$ does not depend on $t$, so
# the library computes it once per sentence (`enc.proj`).
#
# Sentences in a batch have different lengths and are padded with `<pad>` to the longest.
# Padding must never receive attention: its score is set to $-\infty$ before the softmax, so
# its weight is exactly 0 and the weights over the real tokens still sum to 1. The encoder
# also *packs* the batch, so a padded sentence's annotations are the same as when it is
# encoded alone.

# %%
def attend_by_hand(s, keys, mask, attn):
    """s (B, H), keys (B, S, K), mask (B, S) -> context (B, K), weights (B, S)."""
    e = attn.v(torch.tanh(attn.W_q(s)[:, None] + attn.W_k(keys))).squeeze(-1)  # (B, S)
    e = e.masked_fill(~mask, float("-inf"))  # padding can never win any weight
    alpha = e.softmax(dim=-1)
    return (alpha[:, :, None] * keys).sum(1), alpha


# a batch of three sentences of different lengths, padded with <pad> (id 0)
batch = [[5, 7, 4, 9, EOS], [6, 8, EOS], [4, EOS]]
src = torch.full((3, 5), PAD)
for b, ids in enumerate(batch):
    src[b, :len(ids)] = torch.tensor(ids)
print(src)

with torch.no_grad():
    enc = net.encode(src)
    s = torch.randn(3, cfg.hidden)  # any decoder state
    context, weights = net.attention(s, enc)
    mine_c, mine_w = attend_by_hand(s, enc.keys, src != PAD, net.attention)
torch.testing.assert_close(mine_c, context)
torch.testing.assert_close(mine_w, weights)

# padding gets exactly zero weight, and the real tokens' weights sum to one
assert (weights[src == PAD] == 0).all()
torch.testing.assert_close(weights.sum(-1), torch.ones(3))
# a padded sentence is encoded as if it were alone
with torch.no_grad():
    alone = net.encode(torch.tensor([batch[1]]))
torch.testing.assert_close(enc.keys[1, :3], alone.keys[0])
torch.testing.assert_close(enc.hidden[1], alone.hidden[0])
print("attention by hand == nanonlp; weights per sentence:")
print(weights.numpy().round(3))

# %% [markdown]
# ## One decoder step, and teacher forcing
#
# A decoder step takes the previous output word $y_{t-1}$ and the state $s_{t-1}$:
#
# 1. attend with $s_{t-1}$ to get the context $c_t$;
# 2. run the GRU on $[\mathrm{emb}(y_{t-1}); c_t]$ to get $s_t$;
# 3. score every target word: a *readout* layer $r_t = \tanh(W_r [s_t; c_t; \mathrm{emb}(y_{t-1})])$
#    (Bahdanau's "deep output", with $\tanh$ in place of its maxout), then logits
#    $E\, r_t + b$, where $E$ is the target embedding matrix reused as the output layer
#    (Press & Wolf, 2017).
#
# The first input word is `<bos>`. In training the decoder is fed the *reference* translation
# (teacher forcing), so all steps can be scored in one pass; the library's `forward` does the
# loop over steps and one output matrix product for all of them. Running our step in a loop on
# the same reference must give the same logits.

# %%
def decoder_step_by_hand(y_prev, s, enc, model):
    emb = model.embed(y_prev)  # (B, E)
    c, alpha = attend_by_hand(s, enc.keys, enc.mask, model.attention)
    cell = model.cell
    s = gru_step(torch.cat([emb, c], -1), s, cell.weight_ih, cell.weight_hh, cell.bias_ih,
                 cell.bias_hh)
    r = torch.tanh(model.readout(torch.cat([s, c, emb], -1)))  # (B, E)
    return r @ model.embed.weight.T + model.out_bias, s, alpha  # tied output layer


(src_b, tgt_in), tgt_out = collate([([5, 7, 4, 9, EOS], [4, 6, 8]), ([6, 8, EOS], [5, 9])])
with torch.no_grad():
    logits, loss = net(src_b, tgt_in, targets=tgt_out)  # (B, T, V), teacher forcing
    enc = net.encode(src_b)
    s = s_lib = enc.hidden
    steps = []
    for t in range(tgt_in.size(1)):
        lg, s, alpha = decoder_step_by_hand(tgt_in[:, t], s, enc, net)
        lib_lg, s_lib, lib_alpha = net.step(tgt_in[:, t], s_lib, enc)  # the library's step
        torch.testing.assert_close(lg, lib_lg, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(alpha, lib_alpha)
        steps.append(lg)
mine = torch.stack(steps, 1)
torch.testing.assert_close(mine, logits, rtol=1e-5, atol=1e-5)
# the loss is the cross-entropy of the reference words; padding positions are ignored
per_token = torch.nn.functional.cross_entropy(mine.flatten(0, 1), tgt_out.flatten(),
                                              ignore_index=PAD)
torch.testing.assert_close(per_token, loss)
print(f"hand-written decoder == Seq2Seq.forward; loss {loss.item():.3f} "
      f"vs ln(V) = {math.log(cfg.tgt_vocab):.3f} for a uniform guess")

# %% [markdown]
# ## The data: short French sentences and their English translations
#
# The pairs come from Tatoeba (the `eng-fra` data set, the tutorial's `eng-fra.txt`). The
# library's `tutorial` preset applies the tutorial's preparation: lowercase, accents stripped,
# punctuation split off; only pairs under ten words whose English side starts with "i am",
# "he is", "you are" and so on. Unlike the tutorial, it holds out 5% of the *source sentences*
# for validation and 5% for test (by a hash of the sentence, so every translation of a test
# sentence stays out of training, and BLEU can use all of them as references).
#
# Without `NANONLP_DATA` there is no parallel text offline, so the notebook falls back to a
# **synthetic task**, reversing strings of letters (Sutskever et al. used such toy tasks as a
# sanity check). The results below say which one ran.

# %%
work = Path(tempfile.mkdtemp(prefix="nanonlp-translate-"))
REAL = datasets.available("eng-fra")
if REAL:
    data = {}  # the preset's: eng-fra, French -> English, the tutorial's filter
    examples = ["je suis tres fatigue .", "elle est plus grande que moi .",
                "nous sommes en retard .", "il est en train de lire un livre ."]
    print("data: eng-fra (Tatoeba), French -> English, the PyTorch tutorial's filter")
else:
    rows = reversal_pairs(3000, random.Random(0))
    (work / "reverse.tsv").write_text("".join(f"{p.source}\t{p.target}\n" for p in rows),
                                      encoding="utf-8")
    data = dict(source=str(work / "reverse.tsv"), src_lang="x", tgt_lang="y", filter="none",
                normalizer="none")
    examples = ["a b c d", "h h a b c g", "e f g"]
    print("data: SYNTHETIC reversal task (eng-fra needs NANONLP_DATA)")

if FAST:  # a small network for a few hundred steps: it learns something, not much
    model = dict(emb_dim=64, hidden=64, attn_dim=64, dropout=0.1)
    train = dict(max_steps=100, eval_interval=50, eval_steps=1)
else:  # the preset's network (bidirectional GRU 192) for up to 6,000 steps
    model = {}
    train = dict(max_steps=6000, eval_interval=500, eval_steps=10)
train.update(device="cpu", out=str(work / "run"), seed=0)
if not REAL:
    train.update(batch_size=32, lr=1e-2)

dcfg, mcfg, tcfg = configs(data, "tutorial", model, train)
prep = prepare(dcfg, tcfg.seed)
st = prep.stats
print(f"{st['pairs']['train']:,} train / {st['pairs']['val']:,} val / {st['pairs']['test']:,} "
      f"test pairs; vocabularies: {st['src_vocab']:,} source, {st['tgt_vocab']:,} target words")
for p in prep.pairs["train"][:5]:
    print(f"  {p.source:40s} -> {p.target}")

# %% [markdown]
# ## Training
#
# `make_trainer` sizes the model to the vocabularies and hands it, with length-bucketed
# batches (neighbours in length order, so little padding), to the shared training loop: AdamW,
# warmup then cosine decay, gradient clipping, and a checkpoint of the best validation loss.
# The preset also smooths the labels (10% of each target's probability spread over the
# vocabulary), so its loss cannot reach zero. `run(budget_min=...)` holds the run to a budget
# (8 minutes at full size), re-aiming the learning-rate schedule at the budget's end.

# %%
trainer = make_trainer(model=mcfg, train=tcfg, prepared=prep)
print(f"{trainer.model.num_params():,} parameters")
budget = None if FAST else 8.0  # minutes
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
ax.axhline(math.log(st["tgt_vocab"]), color="grey", ls="--", label="uniform guess")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats per word)")
ax.set_title("eng-fra, French -> English" if REAL else "SYNTHETIC: reversing strings")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Greedy search and beam search
#
# To translate, the decoder feeds each output word back in as the next input. **Greedy search**
# takes the single most likely word at every step. It cannot take a step back: a good first
# word that makes the rest awkward is never reconsidered. **Beam search** keeps the $k$ best
# partial translations, extends each by every word, and keeps the $k$ best of the results;
# finished hypotheses are ranked by log-probability divided by GNMT's length penalty
# $((5 + |y|)/6)^\alpha$ (Wu et al., 2016), since raw log-probabilities favour short outputs.
# With $k = 1$ beam search *is* greedy search, which we check on the trained model.
#
# We score both on the held-out test sentences with sacreBLEU: **BLEU** (n-gram precision
# against the references, with a brevity penalty) and **chrF** (an F-score on character
# n-grams, kinder to near-misses in spelling).

# %%
translator = Translator.load(work / "run" / "best")
test = prep.pairs["test"]
src_ids = [translator.encode_source(p.source) for p in test[:32]]
(src_t, _), _ = collate([(s, []) for s in src_ids])
g = greedy(translator.model, src_t)
b1 = beam_search(translator.model, src_t, beam=1)
assert [h.tokens for h in g] == [h.tokens for h in b1]
print("beam search with a beam of 1 == greedy search")

limit = 150 if FAST else None  # test sentences scored
scores = {}
for beam in (1, 5):
    rep = evaluate(translator, test, "test", beam=beam, max_sentences=limit)
    scores[beam] = rep
    print(f"{'greedy' if beam == 1 else f'beam {beam}':>7}: BLEU {rep.bleu:5.1f}  "
          f"chrF {rep.chrf:5.1f}  ({rep.sentences} sentences, up to {rep.references} "
          f"references each, {rep.seconds:.1f} s)")
assert 0.0 <= scores[5].bleu <= 100.0 and 0.0 <= scores[5].chrf <= 100.0

for sample in scores[5].samples:
    print(f"\n  source     {sample['source']}\n  reference  {sample['reference']}\n"
          f"  model      {sample['translation']}")

# %% [markdown]
# ## Where the decoder looks
#
# Each row of an attention map is one output word; the columns are the source words, and a
# bright cell means the decoder leaned on that source word when it wrote that output word.
# French and English share most of their word order here, so a trained model's maps run
# roughly down the diagonal, with departures where the languages differ.

# %%
shown = translator.translate(examples, beam=5)
for t in shown:
    print(f"{t.source:38s} -> {t.text}")
    # every row of the map is a distribution over the source tokens
    torch.testing.assert_close(t.attention.sum(-1), torch.ones(len(t.target_pieces)))

fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.6))
for ax, t in zip(axes, shown):
    ax.imshow(t.attention.numpy(), cmap="bone", vmin=0, vmax=1)
    ax.set_xticks(range(len(t.source_pieces)), t.source_pieces, rotation=90, fontsize=8)
    ax.set_yticks(range(len(t.target_pieces)), t.target_pieces, fontsize=8)
    ax.set_title(t.text[:30], fontsize=9)
fig.suptitle("Attention of the decoder over the source, one row per output word")
fig.tight_layout()
plt.show()

# %% [markdown]
# With `NANONLP_FAST=1` the model has seen a few thousand pairs once and has mostly learned
# the commonest openings ("i m ...", "you re ..."), so its BLEU is near zero; the full-size run
# (the preset's network, up to eight minutes on two CPU cores) is the one to judge. Compare
# greedy and beam scores from the same run only. From the shell the same run is
# `nanonlp translate train --preset tutorial`, then `nanonlp translate evaluate` and
# `nanonlp translate run CHECKPOINT "je suis content ."`. The `multi30k` preset trains
# the same model on German -> English image captions.
