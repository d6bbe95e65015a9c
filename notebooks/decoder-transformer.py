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
# # A decoder-only transformer from scratch
#
# A language model assigns a probability to the next token given the ones before it. Trained
# on enough text to make that guess well, it can write: sample a token, append it, repeat. GPT
# (Radford et al., 2018, 2019) does this with a **decoder-only transformer** (Vaswani et al.,
# 2017): a stack of blocks in which every position looks at the positions before it through
# *causal self-attention*, then thinks on its own through a small MLP.
#
# We build the pieces by hand in PyTorch: attention as a weighted average, the causal mask,
# several heads, a residual block and the whole forward pass. Each piece is checked against
# `nanonlp.layers` and `nanonlp.gpt`, using the library's own weights, so "the same" means the
# same numbers. Then the library trains a character-level GPT on Shakespeare and we read what it
# writes. The structure follows nanoGPT and Karpathy's "Let's build GPT" lecture.
#
# Set `NANONLP_FAST=1` to run everything at a small size in under a minute.

# %%
import json
import math
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nanonlp import datasets
from nanonlp.gpt import GPT, GPTConfig
from nanonlp.gpt.data import PrepareConfig, load_tokenizer, prepare
from nanonlp.gpt.sample import generate
from nanonlp.gpt.train import evaluate, make_trainer
from nanonlp.layers import Block, SelfAttention

FAST = os.environ.get("NANONLP_FAST", "") not in ("", "0")
torch.manual_seed(0)
# a model this small gains nothing from a second thread, and on a busy machine loses a lot
torch.set_num_threads(1 if FAST else (os.cpu_count() or 1))
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## Attention is a weighted average
#
# Take a sequence of $T$ vectors, one per position. The simplest way to let position $t$ know
# about earlier positions is to average the vectors $1..t$. A lower-triangular matrix of weights,
# each row summing to one, does that for all positions at once with one matrix product.
# Writing the weights as a softmax over scores, with $-\infty$ above the diagonal, gives the same
# matrix, and that form lets the scores be *learned* instead of uniform.

# %%
T, C = 5, 4
x = torch.randn(T, C)

avg_loop = torch.stack([x[: t + 1].mean(0) for t in range(T)])  # (T, C): the slow way
W = torch.tril(torch.ones(T, T))
W = W / W.sum(1, keepdim=True)  # each row sums to one
scores = torch.zeros(T, T).masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
torch.testing.assert_close(W @ x, avg_loop)
torch.testing.assert_close(scores.softmax(-1) @ x, avg_loop)
print(scores.softmax(-1))

# %% [markdown]
# ## Self-attention
#
# In self-attention each position emits three vectors: a **query** (what am I looking for?), a
# **key** (what do I contain?) and a **value** (what do I pass on?). The score of position $t$
# for position $s$ is $q_t \cdot k_s / \sqrt{d}$ (the scaling keeps the softmax from saturating
# as the head size $d$ grows), the mask hides the future, and the output is the softmax-weighted
# sum of values:
#
# $$ \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d}} + M\right) V $$
#
# With several heads the width is split into $n_h$ slices that attend independently, and a
# final linear layer mixes them. The library's `SelfAttention` computes q, k and v with one
# linear layer (`c_attn`) and mixes the heads with `c_proj`; we reuse those weights.

# %%
def attention_by_hand(x, attn, n_head, causal=True):
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = (x @ attn.c_attn.weight.T + attn.c_attn.bias).split(C, dim=-1)  # each (B, T, C)
    q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    if causal:
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    weights = scores.softmax(dim=-1)  # each row sums to one over the visible positions
    y = weights @ v  # (B, nh, T, hs)
    y = y.transpose(1, 2).reshape(B, T, C)  # heads side by side again
    return y @ attn.c_proj.weight.T + attn.c_proj.bias, weights


B, T, C, n_head = 2, 8, 32, 4
attn = SelfAttention(C, n_head, causal=True).eval()
x = torch.randn(B, T, C)
mine, weights = attention_by_hand(x, attn, n_head)
theirs, _ = attn(x)
torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)

# causality: changing the last position must not change any earlier output
x2 = x.clone()
x2[:, -1] = torch.randn(C)
torch.testing.assert_close(attn(x2)[0][:, :-1], theirs[:, :-1])

# without the mask (an encoder, as in BERT) every position sees every other
bidir = SelfAttention(C, n_head, causal=False).eval()
bidir.load_state_dict(attn.state_dict())
torch.testing.assert_close(attention_by_hand(x, bidir, n_head, causal=False)[0], bidir(x)[0],
                           rtol=1e-5, atol=1e-5)
print("hand-written attention == nanonlp.layers.SelfAttention (causal and bidirectional)")

fig, axes = plt.subplots(1, n_head, figsize=(10, 2.6))
for h, ax in enumerate(axes):
    ax.imshow(weights[0, h].detach(), cmap="viridis")
    ax.set_title(f"head {h}")
    ax.set_xlabel("key position")
axes[0].set_ylabel("query position")
fig.suptitle("Attention weights of an untrained layer: nothing above the diagonal")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The block and the model
#
# A transformer block adds two sub-layers to a running "residual stream": attention, in which
# positions exchange information, and an MLP applied to each position alone (widen 4x, GELU,
# narrow). GPT-2 normalises the input of each sub-layer ("pre-norm") rather than its output,
# which keeps deep stacks trainable:
#
# $$ x \leftarrow x + \mathrm{Attn}(\mathrm{LN}_1(x)), \qquad x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x)) $$
#
# The model embeds tokens and positions, runs the blocks, normalises once more, and maps each
# position to one score per vocabulary entry with the token embedding matrix reused as the
# output layer (weight tying).

# %%
def block_by_hand(x, block, n_head):
    x = x + attention_by_hand(block.ln_1(x), block.attn, n_head)[0]
    mlp = block.mlp
    h = F.gelu(block.ln_2(x) @ mlp.c_fc.weight.T + mlp.c_fc.bias, approximate="tanh")
    return x + h @ mlp.c_proj.weight.T + mlp.c_proj.bias


block = Block(C, n_head).eval()
torch.testing.assert_close(block_by_hand(x, block, n_head), block(x)[0], rtol=1e-5, atol=1e-5)

config = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=n_head, n_embd=C, bias=True)
gpt = GPT(config).eval()


def gpt_by_hand(idx, model):
    tr = model.transformer
    pos = torch.arange(idx.shape[1])
    x = tr.wte.weight[idx] + tr.wpe.weight[pos]  # (B, T, C): token + position
    for blk in tr.h:
        x = block_by_hand(x, blk, model.config.n_head)
    return tr.ln_f(x) @ tr.wte.weight.T  # (B, T, vocab): tied output layer


idx = torch.randint(0, 65, (2, 16))
torch.testing.assert_close(gpt_by_hand(idx, gpt), gpt(idx)[0], rtol=1e-4, atol=1e-4)
print(f"hand-written block and GPT forward == nanonlp ({gpt.num_params():,} parameters)")

# %% [markdown]
# ## The training objective, and a cache for generating
#
# Every position predicts the token after it, so one sequence of $T + 1$ tokens gives $T$
# training examples at once; the loss is the mean cross-entropy. Before training, the model
# should be about as unsure as a uniform guess, $\ln V$ nats per token.
#
# Generating one token at a time would recompute every earlier position at each step. Because
# of the mask, earlier keys and values never change, so the library keeps them in a
# **KV cache** and runs only the new position. Greedy decoding with and without the cache
# must pick the same tokens.

# %%
targets = torch.randint(0, 65, (2, 16))
logits, loss = gpt(idx, targets)
torch.testing.assert_close(loss, F.cross_entropy(gpt_by_hand(idx, gpt).reshape(-1, 65), targets.reshape(-1)),
                           rtol=1e-4, atol=1e-4)
print(f"initial loss {loss.item():.3f} vs ln(65) = {math.log(65):.3f}")

prompt = [1, 2, 3]
with_cache = list(generate(gpt, prompt, 12, temperature=0))
without = list(generate(gpt, prompt, 12, temperature=0, use_cache=False))
assert with_cache == without
print("KV-cache decoding == full recomputation:", with_cache)

# %% [markdown]
# ## Training on Shakespeare
#
# Now the library does the work. `prepare` turns a text into token ids with a character
# vocabulary (the last tenth held out for validation); `make_trainer` builds a GPT from a preset
# and hands it to the shared training loop (AdamW, warmup then cosine decay, gradient clipping,
# checkpoints), which yields one record per step. Full size is nanoGPT's CPU recipe: 4 layers,
# 4 heads, 128 wide, 64 characters of context, 2,000 steps. The data is `tinyshakespeare` when
# `NANONLP_DATA` has it, otherwise the Wikipedia sample that ships with gensim.

# %%
work = Path(tempfile.mkdtemp(prefix="nanonlp-gpt-"))
source = "tinyshakespeare" if datasets.available("tinyshakespeare") else "enwiki_sample"
meta = prepare(PrepareConfig(source=source, out=str(work / "data"),
                             max_chars=200_000 if FAST else None))
print(f"{source}: {meta['characters']:,} characters, {meta['vocab_size']} distinct, "
      f"{meta['tokens']['train']:,} train / {meta['tokens']['val']:,} val tokens")

preset = "tiny" if FAST else "nanogpt-cpu"
steps = 300 if FAST else 2000
trainer = make_trainer(work / "data", preset, train=dict(
    max_steps=steps, decay_steps=steps, eval_interval=steps // 4 if FAST else 250,
    eval_steps=4 if FAST else 20, device="cpu", out=str(work / "run")))
print(f"{trainer.model.num_params():,} parameters, preset {preset!r}")
records = []
for r in trainer.run():
    records.append(r)
    if r.eval:
        print(f"step {r.step:5d}  train {r.eval['train']:.3f}  val {r.eval['val']:.3f}  "
              f"({r.seconds:.0f} s)")

# %%
evals = [r for r in records if r.eval]
fig, ax = plt.subplots(figsize=(7, 3.5))
logged = [r for r in records if r.loss is not None]  # the loss is read every log_interval steps
ax.plot([r.step for r in logged], [r.loss for r in logged], lw=0.8, alpha=0.6, label="train (step)")
ax.plot([r.step for r in evals], [r.eval["val"] for r in evals], "o-", label="validation")
ax.axhline(math.log(meta["vocab_size"]), color="grey", ls="--", label="uniform guess")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats per character)")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The loss on the validation text, measured over every window of it rather than random
# batches, and a sample. Temperature below one and top-k sampling trade variety for
# coherence.

# %%
report = evaluate(work / "run" / "best", work / "data", max_windows=50 if FAST else None)
print(f"validation: {report.loss:.3f} nats/char, perplexity {report.perplexity:.2f} "
      f"({report.windows} windows of {trainer.model.config.block_size})")

tok = load_tokenizer(work / "data" / "tokenizer.model")
model = trainer.model.eval()
gen = torch.Generator().manual_seed(1)
ids = generate(model, tok.encode("\n"), 300 if FAST else 600, temperature=0.8, top_k=40, generator=gen)
print(tok.decode(list(ids)))

# %% [markdown]
# At this size the model has learned spelling, line lengths, speaker names and some grammar,
# not meaning. From the shell the same run is `nanonlp gpt prepare`, `nanonlp gpt train
# --preset nanogpt-cpu` and `nanonlp gpt sample`; `nanonlp gpt export` writes a checkpoint as a
# `transformers` GPT-2 model.
#
# `--preset cpu-modern` keeps this budget and changes the model: rotary positions, queries and
# keys normalised per head (QK-norm, here with LayerNorm: `qk_norm_kind`), exact GELU, a 6x
# higher learning rate that QK-norm tolerates, and bfloat16 autocast on CPUs that compute in
# it. In nanoGPT's wall-clock it reached 1.696 validation loss on a 2-core AMD EPYC on
# 2026-12-02 (BENCHMARKS.md, `gpt`); bfloat16 only pays on CPUs that compute it natively.

# %% [markdown]
# ## The modern decoder: what each piece buys at equal wall-clock
#
# The field moved past this recipe. The modded-nanogpt speedrun trains GPT-2 small many times
# faster than nanoGPT, and among its pieces some are teachable at any size. Here each recipe
# gets the same wall-clock budget on this machine (`run(budget_min=...)` fits the step count
# and the schedule to it), one piece added at a time:
#
# - **nanoGPT's recipe** (`nanogpt-cpu`): learned positions, AdamW, float32.
# - **+ rotary positions and QK-norm** (`cpu-modern`): rotating queries and keys by their
#   position lets attention see offsets instead of places, and normalising them per head keeps
#   the attention logits bounded, which tolerates a 6x higher learning rate (and bfloat16
#   where this CPU measures it faster).
# - **+ Muon** (Jordan et al. 2024, `nanonlp.training.muon`): each hidden weight matrix's update
#   is orthogonalised by a few Newton-Schulz iterations, so all of its directions learn at one
#   rate instead of the few that dominate the gradient; embeddings, head and gains stay on
#   AdamW.
# - **+ batch 24**: the Newton-Schulz iterations cost the same whatever the batch, so twice the
#   tokens per step share that cost.
# - **3 layers instead of 4** (`cpu-muon`): in a couple of minutes, a shallower model that
#   takes a third more steps learns more than a deeper one that takes fewer.

# %%
from nanonlp.gpt.config import MUON as muon  # Muon for the hidden matrices, AdamW for the rest

recipes = {  # name: (preset, model fields, train fields) on top of the preset
    "nanoGPT (nanogpt-cpu)": ("nanogpt-cpu", {}, {}),
    "+ rotary, QK-norm (cpu-modern)": ("cpu-modern", {}, {}),
    "+ Muon": ("cpu-modern", {}, muon),
    "+ batch 24": ("cpu-modern", {}, dict(muon, batch_size=24)),
    "+ 3 layers (cpu-muon)": ("cpu-muon", {}, {}),
}
budget_min = 0.1 if FAST else 2.5
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, (preset_name, model_fields, train_fields) in recipes.items():
    t = make_trainer(work / "data", preset_name, model=model_fields, train=dict(
        train_fields, eval_steps=4 if FAST else 20, device="cpu", out=str(work / "ablation")))
    curve = [(r.seconds, r.eval["val"]) for r in t.run(budget_min=budget_min) if r.eval]
    final = evaluate(t.model, work / "data", max_windows=50 if FAST else None)
    print(f"{name:32} {t.step:5d} steps  val {final.loss:.3f}")
    ax.plot(*zip(*curve), "o-", label=name)
ax.set_xlabel("seconds of training")
ax.set_ylabel("validation loss (sampled batches)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The printed losses are over the whole validation text (fast mode: a few windows of a
# shortened text, and seconds of training, so the order can differ). At full size, with the
# budget of nanoGPT's 2,000 steps (about two minutes), `benchmarks/gpt_modern.py` measured on a
# 2-core AMD EPYC (BENCHMARKS.md, `gpt-modern-recipe`): nanoGPT's recipe 1.909, `cpu-muon`
# 1.549 (the mean of three seeds). Taking one piece back out of `cpu-muon` gave: AdamW instead
# of Muon 1.701, batch 12 1.617, 4 layers 1.618, against 1.597 for `cpu-muon` in the same
# runs. Those runs came before a faster bfloat16 attention backward, which brought it from
# 1.597 to 1.549. The real nanoGPT's run of the same 2,000 steps reached 1.886.

# %% [markdown]
# ## From language model to assistant
#
# A language model continues text. An assistant answers: it knows where a user's message ends
# and where its own answer starts, and it stops when it has answered. The step between the two
# (Ouyang et al. 2022's supervised fine-tuning, nanochat's SFT) is ordinary training on
# **conversations** written in a **template**: special tokens mark where each turn starts and
# ends, and the loss counts only the tokens the assistant says, so the model learns to answer,
# not to predict what users type.
#
# Here the conversations are a toy skill the model cannot have from Shakespeare, adding two
# digits, so that a minute of fine-tuning visibly teaches it. A byte-level BPE is needed (the
# character tokenizer above knows only Shakespeare's characters); `nanonlp.gpt.chat` adds the
# template's six tokens to it.

# %%
import random

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.gpt import chat as C
from nanonlp.gpt.model import save_gpt

rng = random.Random(0)


def sums(n):
    """n conversations of one or two questions, each answered."""
    out = []
    for _ in range(n):
        talk = []
        for _ in range(rng.randint(1, 2)):
            a, b = rng.randint(0, 9), rng.randint(0, 9)
            talk += [{"role": "user", "content": f"What is {a} plus {b}?"},
                     {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]
        out.append(talk)
    return out


talks = sums(2000)
bpe = Tokenizer.train([m["content"] for t in talks for m in t], BPEConfig(vocab_size=300))
chat_tok = C.with_chat_tokens(bpe)
ids, mask = C.render(chat_tok, talks[0])
print("token                 loss counts it")
for i, m in zip(ids, mask):
    print(f"{chat_tok.decode([i])!r:22} {'yes' if m else ''}")

# %% [markdown]
# The mask is 1 on the assistant's words and on its end token, which is how the model learns to
# stop. A template token typed inside a message is encoded as ordinary text, never as the
# control token, so a user cannot forge a turn. Fine-tuning goes through the same trainer as
# pretraining (`gpt finetune --chat` on the command line); here the starting point is a small
# GPT with this tokenizer, and the data is a JSONL file of `{"messages": [...]}` lines, the
# format OpenAI's fine-tuning files and HF chat data sets use.

# %%
bpe.save(work / "bpe")
save_gpt(GPT(GPTConfig(vocab_size=bpe.vocab_size, block_size=96, n_layer=2, n_head=4,
                       n_embd=64)), work / "base", work / "bpe.model")
with open(work / "sums.jsonl", "w") as f:
    for t in talks:
        f.write(json.dumps({"messages": t}) + "\n")
sft = C.make_trainer(work / "base", work / "sums.jsonl",
                     train=dict(max_steps=200 if FAST else 800, batch_size=32, lr=3e-3,
                                min_lr=3e-4, warmup_steps=20, eval_interval=50 if FAST else 200,
                                eval_steps=2, device="cpu", out=str(work / "sft")))
for r in sft.run():
    if r.eval:
        print(f"step {r.step}: val loss on the assistant's tokens {r.eval['val']:.3f}")

# %% [markdown]
# A chat keeps the KV cache of the whole conversation from turn to turn, so each new message
# runs only its own tokens through the model. (In fast mode the model has had too few steps to
# get every sum right.)

# %%
bot = C.Chat(sft.model, chat_tok, C.ChatConfig(temperature=0, max_new_tokens=20))
for question in ("What is 3 plus 4?", "What is 9 plus 8?"):  # two turns, as in its training
    print(f"user: {question}\nassistant: {''.join(bot.say(question))}")
print(f"({len(bot.ids)} tokens of conversation in the cache)")

# %% [markdown]
# Everything a large assistant adds is more of the same: a pretrained model that already knows
# language, many real conversations instead of one toy skill, and then preference training.
# On real data, the same recipe makes a translator. BENCHMARKS.md (chat) trains a 1.9M-parameter
# GPT from scratch on part 4's English-French pairs, written as conversations ("Translate to
# French: ..."), with Muon and dropout 0.2. In the same 10 CPU-minutes it gets within 1.6 BLEU
# of part 4's GRU encoder-decoder greedy (mean of three seeds), and within about 3 with beam
# search.
# From the shell: `nanonlp gpt finetune CKPT --chat train.jsonl` and `nanonlp gpt chat
# OUT/best` (a multi-turn chat that streams its answers; `--jsonl` for scripts); an imported
# GPT-2 (`nanonlp gpt import`) fine-tunes the same way.
