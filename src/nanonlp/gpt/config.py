"""The GPT model configuration and the named presets (model shape + training recipe).

Presets: ``shakespeare-char`` (nanoGPT's ``train_shakespeare_char.py``: 6x6x384, block 256,
dropout 0.2), ``nanogpt-cpu`` (the CPU variant of that recipe from nanoGPT's README: 4 layers,
4 heads, 128 wide, block 64, batch 12, 2,000 iterations, no dropout), ``cpu-modern`` (the same
size with what the field has adopted since: rotary positions, QK-norm, bfloat16 autocast where
it measures faster), ``cpu-muon`` (cpu-modern with 3 layers, trained with the Muon optimizer
on twice the batch: what paid of the modded-nanogpt speedrun's pieces on a CPU), ``tiny``
(for tests and smoke runs), ``gpt2`` (the 124M shape of Radford et al. 2019), and two GPU
presets that carry cpu-muon's pieces to those shapes, not yet measured on a GPU:
``shakespeare-char-muon`` (shakespeare-char in fewer steps) and ``gpt2-muon``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nanonlp.configs import ModelConfig, check_transformer_size
from nanonlp.errors import ConfigError
from nanonlp.training.config import pick_preset

#: activation -> the ``gelu`` argument of ``layers.MLP`` (GELU's ``approximate``, or relu2)
ACTIVATIONS = {"gelu_tanh": "tanh", "gelu": "none", "relu2": "relu2"}
NORMS = ("layernorm", "rmsnorm")  # the kinds layers.make_norm builds (norm and qk_norm_kind)


@dataclass
class GPTConfig(ModelConfig):
    what = "GPT"  # (not a field: no annotation) names the model in errors

    vocab_size: int = 65  # tokens in the vocabulary (set from the data when training)
    block_size: int = 256  # longest context the model attends over
    n_layer: int = 6  # transformer blocks
    n_head: int = 6  # attention heads per block
    n_embd: int = 384  # residual stream width
    dropout: float = 0.0  # 0 for pretraining; ~0.1-0.2 when the data is small
    bias: bool = False  # biases in Linear and LayerNorm (GPT-2 had them; nanoGPT drops them)
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"  # rmsnorm: LLaMA-style, no mean or bias
    pos: Literal["learned", "rotary"] = "learned"  # learned absolute positions (GPT-2) or RoPE
    qk_norm: bool = False  # normalise queries and keys per head (stabler at high lr)
    qk_norm_kind: Literal["rmsnorm", "layernorm"] = "rmsnorm"  # the norm qk_norm applies
    tie_weights: bool = True  # share the token embedding with the output layer (GPT-2)
    activation: Literal["gelu_tanh", "gelu", "relu2"] = "gelu_tanh"  # GELU's tanh form (GPT-2),
    # erf form, or relu2: relu(x)**2 (Primer), sparse and cheaper than GELU (modded-nanogpt)
    norm_eps: float = 1e-5  # epsilon of every norm (GPT-2's layer_norm_epsilon)
    n_inner: int | None = None  # MLP hidden width (None: 4 * n_embd, as GPT-2)
    zero_init_proj: bool = False  # output projections start at 0: each block the identity
    logit_softcap: float | None = None  # cap * tanh(logits / cap): bounded logits (Gemma 2)
    label_smoothing: float = 0.0  # training loss only: this much target mass spread uniformly

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")
        if self.pos == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ConfigError(f"rotary positions need an even head size, got "
                              f"{self.n_embd // self.n_head}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("norm", "qk_norm_kind"):
            if getattr(self, name) not in NORMS:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; choose "
                                  f"{' or '.join(NORMS)}")
        if self.pos not in ("learned", "rotary"):
            raise ConfigError(f"unknown pos {self.pos!r}; choose learned or rotary")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose "
                              f"{' or '.join(ACTIVATIONS)}")
        if not 0 < self.norm_eps < 1:
            raise ConfigError(f"norm_eps must be in (0, 1), got {self.norm_eps}")
        if self.n_inner is not None and (not isinstance(self.n_inner, int) or self.n_inner < 1):
            raise ConfigError(f"n_inner must be a positive integer or None, got {self.n_inner!r}")
        if self.logit_softcap is not None and not (
                isinstance(self.logit_softcap, (int, float)) and self.logit_softcap > 0):
            raise ConfigError(f"logit_softcap must be > 0 (or None: no cap), got "
                              f"{self.logit_softcap!r}")
        check_transformer_size("GPT", self.vocab_size, self.block_size, self.n_layer,
                               self.n_embd, self.n_inner)

    @property
    def gpt2_incompatible(self) -> list[str]:
        """The options ``transformers.GPT2LMHeadModel`` cannot hold, as ``field=value``.

        >>> GPTConfig(pos="rotary", logit_softcap=30.0).gpt2_incompatible
        ['pos=rotary', 'logit_softcap=30.0']
        """
        bad = {"norm": self.norm != "layernorm", "pos": self.pos != "learned",
               "qk_norm": self.qk_norm, "logit_softcap": self.logit_softcap is not None}
        return [f"{k}={getattr(self, k)}" for k, v in bad.items() if v]

    @property
    def gpt2_compatible(self) -> bool:
        """Whether ``transformers.GPT2LMHeadModel`` can hold exactly this model (ReLU^2 and
        an untied head it can: ``activation_function="relu2"``, ``tie_word_embeddings``)."""
        return not self.gpt2_incompatible


#: the model pieces cpu-modern added to nanoGPT's block, which every later preset keeps:
#: rotary positions, QK-norm and block norms as LayerNorm (no bias), the exact GELU
MODERN = dict(norm="layernorm", pos="rotary", qk_norm=True, qk_norm_kind="layernorm",
              activation="gelu")
#: the optimizer cpu-muon measured best: Muon for the hidden matrices (AdamW for the rest)
MUON = dict(optimizer="muon", muon_lr=0.02)

#: name -> {"model": GPTConfig fields, "train": TrainConfig fields}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "model": dict(block_size=32, n_layer=2, n_head=2, n_embd=32),
        "train": dict(max_steps=200, batch_size=16, lr=3e-3, min_lr=3e-4, warmup_steps=10,
                      eval_interval=50, eval_steps=5),
    },
    "shakespeare-char": {
        # nanoGPT config/train_shakespeare_char.py (nanoGPT's MLP uses nn.GELU(): the erf form)
        "model": dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2,
                      activation="gelu"),
        "train": dict(max_steps=5000, batch_size=64, lr=1e-3, min_lr=1e-4, warmup_steps=100,
                      beta2=0.99, eval_interval=250, eval_steps=200),
    },
    "nanogpt-cpu": {
        # nanoGPT README, "I only have a macbook": train_shakespeare_char.py with
        # --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        # --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0 --eval_iters=20. Its GELU is
        # the erf form (nn.GELU()), which on the CPU also costs a third of the tanh form's time
        # (0.45 against 1.3 ms a layer, forward and backward, at this size). float32, as
        # nanoGPT runs on a CPU (no autocast), whatever dtype auto would measure
        "model": dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
                      activation="gelu"),
        "train": dict(max_steps=2000, decay_steps=2000, batch_size=12, lr=1e-3, min_lr=1e-4,
                      warmup_steps=100, beta2=0.99, weight_decay=0.1, grad_clip=1.0,
                      eval_interval=250, eval_steps=20, dtype="float32"),
    },
    "cpu-modern": {
        # the nanogpt-cpu budget with rotary positions and QK-norm, which tolerates a 6x higher
        # learning rate than nanogpt-cpu's, and bfloat16 autocast. Issue #21 sweep at 1,650
        # steps, full-validation loss: lr 2e-3 1.748, 3e-3 1.738, 4e-3 1.734, 6e-3 1.722, 1e-2
        # 1.747; at 6e-3 none of min_lr 0, beta2 0.95, warmup 30, weight decay 0 or 0.2,
        # ReLU^2, untied embeddings or zero-initialised output projections beat it
        # (1.726-1.741). Then the step got cheaper, which is what paid: LayerNorm (no bias)
        # instead of RMSNorm, for the block norms and QK-norm alike (the paper's choice; the
        # CPU has a fused LayerNorm backward, and RMSNorm's is a chain of small ops): 0.92x
        # the step time, val 1.7246 against 1.7253 at 1,650 steps; bfloat16 autocast on a CPU
        # with native bfloat16: 0.83x again, val 1.6799 against 1.6785 at 2,200 steps. But on
        # an Intel Xeon with avx512_bf16 bfloat16 took 1.6x float32's time (issue #32): dtype
        # auto, which measures it at start-up (training.device.cpu_bf16_probe)
        "model": dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
                      **MODERN),
        "train": dict(max_steps=2000, batch_size=12, lr=6e-3, min_lr=1e-4, warmup_steps=100,
                      beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
                      eval_steps=20, dtype="auto"),
    },
    "cpu-muon": {
        # cpu-modern trained with Muon (training/muon.py) on twice the batch, one layer
        # shallower: the pieces of the modded-nanogpt speedrun that paid on a 2-core CPU at
        # nanoGPT's wall-clock (benchmarks/gpt_modern.py, issue #32). At an 800-step anchor
        # budget, one seed, full validation: cpu-modern 1.902, + Muon 1.797 (Newton-Schulz
        # makes a step 1.4x longer, and it still wins), + batch 24 1.782 (the step's fixed
        # Newton-Schulz cost shared by twice the tokens); muon_lr 0.05 1.794, batch 32 1.790;
        # ReLU^2 1.889 against 1.902 with AdamW; all pieces at once (ReLU^2, zero-init
        # projections, untied head, soft-cap 30) 1.812, worse than Muon alone: not kept. At the
        # full budget (2,000 anchor steps, ~2.5 min), seed 1 then seed 2, 4 layers 1.620 /
        # 1.621; 3 layers 1.590 / 1.597 (a third more steps), 2 layers - / 1.607, 3 layers at
        # batch 32 - / 1.604, width 96 1.621, width 160 1.651, no QK-norm 1.634, ReLU^2 1.621,
        # AdamW lr 1e-2 1.612, linear decay to 0 1.615 (4 layers) and 1.597 (3 layers). This
        # preset, 3 seeds on a quiet machine: 1.5967 (1.5865-1.6031) against nanogpt-cpu's
        # 1.909; without Muon 1.701, batch 12 1.617, 4 layers 1.618 (one seed). With the math
        # attention for short bfloat16 rows (layers.attention, 74 -> 58 ms a step): 1.549
        # (1.5460-1.5545)
        "model": dict(block_size=64, n_layer=3, n_head=4, n_embd=128, dropout=0.0,
                      **MODERN),
        # (max_steps: nanogpt-cpu's tokens; gpt train --budget_min fits it to a wall-clock)
        "train": dict(max_steps=1000, batch_size=24, lr=6e-3, min_lr=1e-4, warmup_steps=50,
                      beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
                      eval_steps=20, dtype="auto", **MUON),
    },
    "gpt2": {
        # GPT-2 small (124M with the 50,257-token vocabulary); nanoGPT train_gpt2.py recipe
        "model": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                      bias=True),
        "train": dict(max_steps=600000, batch_size=12, grad_accum=40, lr=6e-4, min_lr=6e-5,
                      warmup_steps=2000, beta2=0.95, eval_interval=1000, eval_steps=200),
    },
    "shakespeare-char-muon": {
        # Not measured on a GPU yet (benchmarks/gpu.py part b is prepared for it; issue #32's
        # target: val 1.47 in <= 0.5x the time nanoGPT's train.py takes on the same card).
        # shakespeare-char's shape and data recipe (6x6x384, block 256, dropout 0.2: the data
        # is 1M characters, and this model overfits it without dropout; batch 64) with
        # cpu-muon's pieces, the best measured on the CPU: rotary positions, QK-norm and block
        # norms as LayerNorm, exact GELU, Muon at muon_lr 0.02 for the hidden matrices, AdamW
        # at 6e-3 (beta2 0.99, decay 0.1) for the embedding (the tied head) and the norm gains.
        # Those learning rates are carried over unmeasured at 3x the width: Muon's update is
        # orthogonal, scaled by shape only, and Adam's is per element, so neither step grows
        # with the width as SGD's would. 2,000 steps, not 5,000: the target is reaching 1.47
        # in under half nanoGPT's time, and 1.47 is about nanoGPT's best (its README: 1.4697;
        # its config saves only when val improves, expecting the model to overfit), so the
        # cosine ends inside that budget, with the low-lr steps that bring val down; warmup
        # 100 is nanoGPT's, 5% of the steps as cpu-muon's 50 of 1,000. Evaluation as
        # nanoGPT's (every 250 steps, 200 batches), so the crossing of 1.47 is looked for on
        # the same grid and measured the same way. dtype auto: bfloat16 autocast on CUDA;
        # --train.compile true on a GPU, as nanoGPT compiles
        "model": dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2,
                      **MODERN),
        "train": dict(max_steps=2000, batch_size=64, lr=6e-3, min_lr=1e-4, warmup_steps=100,
                      beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
                      eval_steps=200, dtype="auto", **MUON),
    },
    "gpt2-muon": {
        # Not measured on a GPU yet (benchmarks/gpu.py part a times its step against nanoGPT's
        # bench.py, issue #32). gpt2's 124M shape (12x12x768, block 1024) and batch recipe
        # (12 sequences x 40 accumulated: ~0.5M tokens a step, nanoGPT's train_gpt2.py) with
        # cpu-muon's pieces: rotary positions (no position table), QK-norm and block norms as
        # LayerNorm, exact GELU, and Muon at muon_lr 0.02 for the hidden matrices (the paper's
        # default and cpu-muon's: the update is orthogonal and shape-scaled, so it carries
        # across widths). No biases, as the cpu presets (nanoGPT's model.py: "a bit better and
        # faster" than GPT-2's). AdamW keeps gpt2's lr 6e-4, min_lr 6e-5 and beta2 0.95 for
        # what it still trains, the tied embedding and head over 50,257 tokens: the rate
        # nanoGPT uses for that matrix at this size. max_steps, warmup and evaluation are
        # gpt2's (no run of this size to a loss is planned; what is measured is the step's
        # cost). dtype auto: bfloat16 autocast on CUDA
        "model": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                      bias=False, **MODERN),
        "train": dict(max_steps=600000, batch_size=12, grad_accum=40, lr=6e-4, min_lr=6e-5,
                      warmup_steps=2000, beta2=0.95, eval_interval=1000, eval_steps=200,
                      dtype="auto", **MUON),
    },
}


def presets(name: str | None = None) -> dict[str, Any]:
    """Preset ``name`` ({"model": ..., "train": ...}), or all of them: copies, safe to modify."""
    return pick_preset(PRESETS, name)

