"""Transformer pieces shared by :mod:`nanonlp.gpt` and :mod:`nanonlp.bert`.

Here: multi-head self-attention on ``F.scaled_dot_product_attention`` (causal for GPT, or
bidirectional with a padding mask for BERT), an optional key/value cache for incremental
decoding, rotary position embeddings (Su et al. 2021, "RoFormer"), the position-wise MLP, a
norm factory (LayerNorm with optional bias, or RMSNorm, Zhang & Sennrich 2019) and the residual
block: pre-norm as in GPT-2 (Radford et al. 2019), or post-norm as in BERT (Devlin et al. 2019,
after Vaswani et al. 2017). The layout follows nanoGPT's ``model.py``. Their linear layers are
:class:`Linear`, an ``nn.Linear`` whose float32 inference on a CPU runs on oneDNN.

Notation: B batch, T query length, S key length (T + cached positions), C width (n_embd),
nh heads, hs head size (C // nh).

Deliberately left out: cross-attention (the GRU seq2seq of this project does not need it),
grouped-query attention, sliding windows.
"""

from __future__ import annotations

import math
import os
import platform

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from nanonlp.errors import DataError

KVCache = tuple[torch.Tensor, torch.Tensor]  # (k, v), each (B, nh, S, hs)
#: rows up to this long train through the math attention on a CPU in bfloat16 (see
#: :func:`attention`)
CPU_MATH_ATTENTION_T = 128
#: float32 inference on a CPU multiplies through oneDNN (see :class:`Linear`); False (or
#: ``NANONLP_ONEDNN=0`` in the environment): always ``F.linear``
#: (x86-64 only: the CPUs it was measured on)
ONEDNN = (os.environ.get("NANONLP_ONEDNN", "1").strip() != "0"
          and platform.machine().lower() in ("x86_64", "amd64")
          and torch.backends.mkldnn.is_available()
          and hasattr(torch.ops.mkldnn, "_linear_pointwise"))
#: products of fewer multiply-adds (rows x in x out) stay with ``F.linear``: a oneDNN call
#: costs about 11 us more (an AMD EPYC, torch 2.13), which one row of 128 x 512 does not
#: repay and one row of 768 x 2,304 does
ONEDNN_MIN_MACS = 1 << 20


class RMSNorm(nn.Module):
    """Root-mean-square norm: ``x / rms(x) * weight`` (no centring, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def make_norm(kind: str, dim: int, bias: bool = True, eps: float = 1e-5) -> nn.Module:
    """``"layernorm"`` (GPT-2, BERT) or ``"rmsnorm"`` (LLaMA and most models since)."""
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(dim, eps=eps)
    raise ValueError(f"unknown norm {kind!r}; choose layernorm or rmsnorm")


def rotary_tables(head_size: int, length: int, base: float = 10000.0,
                  device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, each (length, head_size), for :func:`apply_rotary`.

    Frequency i is ``base ** (-2i / head_size)`` (RoFormer eq. 15). Each table holds the
    ``head_size // 2`` angles twice, once per half of the head dimension, and the sin table's
    first half is negated, so that applying them is two multiplications and an addition.

    >>> cos, sin = rotary_tables(4, 3)
    >>> cos.shape, cos[1].tolist() == cos[1, :2].tolist() * 2
    (torch.Size([3, 4]), True)
    >>> round(float(sin[1, 0]), 4), round(float(sin[1, 2]), 4)
    (-0.8415, 0.8415)
    """
    inv_freq = base ** (-torch.arange(0, head_size, 2, device=device).float() / head_size)
    angles = torch.outer(torch.arange(length, device=device).float(), inv_freq)  # (T, hs/2)
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([cos, cos], dim=-1), torch.cat([-sin, sin], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the head dimension of x (B, nh, T, hs).

    The half-split pairing (GPT-NeoX, LLaMA in HF) instead of RoFormer's interleaving: the same
    rotation up to a fixed permutation of the head dimension, and slices instead of strides.
    Pair (x1, x2) becomes (x1 cos - x2 sin, x2 cos + x1 sin): ``x * cos + swap(x) * sin``
    with :func:`rotary_tables`' signed tables: four tensor operations where the two halves
    written out take nine, and bit for bit the same numbers (a - b is a + (-b) in floating
    point).

    >>> cos, sin = rotary_tables(2, 2)  # position 1 turns the pair by 1 radian
    >>> y = apply_rotary(torch.tensor([[1.0, 0.0]]), cos[1:], sin[1:])
    >>> [round(v, 4) for v in y[0].tolist()]
    [0.5403, 0.8415]
    """
    h = x.shape[-1] // 2
    swapped = torch.cat([x[..., h:], x[..., :h]], dim=-1)  # (x2, x1)
    return x * cos.to(x.dtype) + swapped * sin.to(x.dtype)


def onednn_ok(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
              ) -> bool:
    """Whether ``x @ weight.T + bias`` may go through oneDNN: float32 on a CPU, under
    ``no_grad`` or ``inference_mode`` (the oneDNN op has no backward, and with gradients on,
    a frozen weight may still have a trainable bias; nor has it a forward-mode derivative:
    ``torch.func.jvp`` wants gradients on), no autocast, oneDNN not switched off
    (``torch.backends.mkldnn.flags``), not inside ``torch.compile`` (which picks its own
    kernels), shapes that fit (a mistake gets ``F.linear``'s error), at least
    :data:`ONEDNN_MIN_MACS` multiply-adds, and a weight stored in (out, in) rows (the
    weights :func:`nanonlp.gpt.sample.decoding_layout_` transposes for the BLAS stay with
    it)."""
    return (ONEDNN and not torch.is_grad_enabled() and x.device.type == "cpu"
            and x.dtype == weight.dtype == torch.float32 and weight.is_contiguous()
            and x.dim() >= 1 and x.shape[-1] == weight.shape[-1]
            and x.numel() * weight.shape[0] >= ONEDNN_MIN_MACS
            and (bias is None or bias.dtype == torch.float32)
            and torch.backends.mkldnn.enabled
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same checkpoints) whose float32 inference on a CPU runs
    on oneDNN's matrix product, the kernel PyTorch's compiler picks for CPU inference, instead
    of ``F.linear``'s BLAS call. The results are float32 products either way (they differ in
    the order of the sums, about 1e-6 relative); the speed is not. On an AMD EPYC (AVX-512,
    torch 2.13 with MKL 2024.2) MKL's sgemm ran about 210 GFLOP/s on two threads at this
    project's shapes and oneDNN about 470, and a sentence-transformers model embedded 1.6-2.1x
    as fast (benchmarks/bert_pretrained.py). Training, autocast and other devices take
    ``F.linear``. ``gelu`` ("none": erf, or "tanh") fuses a GELU into the product."""

    def forward(self, x: torch.Tensor, gelu: str | None = None) -> torch.Tensor:
        return linear(x, self.weight, self.bias, gelu)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           gelu: str | None = None) -> torch.Tensor:
    """``F.linear`` (then ``F.gelu`` with ``approximate=gelu`` if given), through oneDNN where
    :func:`onednn_ok` allows: :class:`Linear`'s product, for a weight it does not own (a
    tied output layer)."""
    if onednn_ok(x, weight, bias):
        return torch.ops.mkldnn._linear_pointwise(
            x, weight, bias, "none" if gelu is None else "gelu", [], gelu or "")
    y = F.linear(x, weight, bias)
    return y if gelu is None else F.gelu(y, approximate=gelu)


class SelfAttention(nn.Module):
    """Multi-head self-attention, causal or bidirectional, with an optional KV cache.

    ``forward(x, cache=None, pad_mask=None, rotary=None)`` returns ``(y, new_cache)``. With a
    cache, x holds only the new positions and attends to the cached keys and values too.
    ``pad_mask`` (B, S) is True for real tokens and False for padding (BERT batches).
    """

    def __init__(self, n_embd: int, n_head: int, *, causal: bool = True, bias: bool = True,
                 dropout: float = 0.0, qk_norm: bool = False, qk_norm_kind: str = "rmsnorm"):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd {n_embd} is not a multiple of n_head {n_head}")
        self.n_head, self.causal, self.dropout = n_head, causal, dropout
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)  # q, k, v in one matmul
        self.c_proj = Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        # QK-norm (Dehghani et al. 2023): normalising q and k per head bounds the logits,
        # which lets a higher learning rate train stably. ``qk_norm_kind``: RMSNorm, or the
        # paper's LayerNorm (no bias), which has a fused backward on the CPU and RMSNorm not.
        hs = n_embd // n_head
        self.q_norm = make_norm(qk_norm_kind, hs, False, 1e-6) if qk_norm else None
        self.k_norm = make_norm(qk_norm_kind, hs, False, 1e-6) if qk_norm else None

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                pad_mask: torch.Tensor | None = None,
                rotary: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, KVCache]:
        B, T, C = x.shape
        nh = self.n_head
        hs = C // nh
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rotary is not None:
            # rotary tables are already sliced to the positions of x (past + T)
            cos, sin = rotary
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, nh, S, hs)
            v = torch.cat([cache[1], v], dim=2)  # (B, nh, S, hs)
        S = k.shape[2]
        mask = None
        is_causal = False
        if self.causal and pad_mask is None and S == T:
            is_causal = True  # the fused kernel's own triangle: the common training case
        elif self.causal and pad_mask is None and T == 1:
            pass  # one new position after a cache (decoding) sees every key: no mask at all
        elif self.causal or pad_mask is not None:
            # query t (absolute position S - T + t) sees keys 0..S-T+t; pad keys are hidden
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device)  # (T, S)
            if self.causal:
                mask = mask.tril(S - T)
            if pad_mask is not None:
                mask = mask[None, None] & pad_mask[:, None, None, :]  # (B, 1, T, S)
        y = attention(q, k, v, mask, is_causal,
                      self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble heads: (B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
              is_causal: bool, dropout_p: float) -> torch.Tensor:
    """``F.scaled_dot_product_attention``, which picks its kernel, except in one case: training
    on a CPU in a 16-bit dtype with rows of at most :data:`CPU_MATH_ATTENTION_T` positions.
    There PyTorch's fused (flash) CPU kernel is slow in the backward pass: q, k, v of (32, 4,
    24, 44) in bfloat16 took 7.7 ms forward and backward against 1.9 ms for the math kernel
    (softmax(q k^T) v written as matrix products; 1.6x faster at T 128, slower from about T 192
    on; measured on an AMD EPYC, torch 2.13), a quarter of a chat fine-tuning step. In float32,
    and in the forward pass alone, the fused kernel is as fast or faster."""
    if (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16)
            and q.shape[-2] <= CPU_MATH_ATTENTION_T and torch.is_grad_enabled()):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                                  dropout_p=dropout_p)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                          dropout_p=dropout_p)


class ReLUSquared(nn.Module):
    """``relu(x) ** 2`` (So et al. 2021, "Primer"): as smooth at 0 as a square, sparse like
    ReLU, and cheaper than GELU's erf or tanh; the modded-nanogpt speedrun's MLP activation.

    >>> ReLUSquared()(torch.tensor([-2.0, 0.5, 3.0])).tolist()
    [0.0, 0.25, 9.0]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).square()


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C) -> GELU -> Linear(4C, C) -> dropout.

    ``gelu``: ``"tanh"`` (GPT-2's approximation) or ``"none"`` (the erf form) pick the GELU;
    ``"relu2"`` replaces it with :class:`ReLUSquared`.
    """

    def __init__(self, n_embd: int, *, bias: bool = True, dropout: float = 0.0,
                 hidden: int | None = None, gelu: str = "tanh"):
        super().__init__()
        hidden = hidden or 4 * n_embd
        self.c_fc = Linear(n_embd, hidden, bias=bias)
        # GPT-2 used the tanh approximation of GELU; keeping it makes HF logits equal ours
        self.gelu = ReLUSquared() if gelu == "relu2" else nn.GELU(approximate=gelu)
        self.c_proj = Linear(hidden, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the GELU handed to the product (one pass where oneDNN computes it), unless a hook
        # wants to see the two steps apart
        if (isinstance(self.gelu, nn.GELU) and isinstance(self.c_fc, Linear)
                and not (self.c_fc._forward_hooks or self.gelu._forward_hooks)):
            h = self.c_fc(x, gelu=self.gelu.approximate)
        else:
            h = self.gelu(self.c_fc(x))
        return self.dropout(self.c_proj(h))


class Block(nn.Module):
    """Residual block. Pre-norm (GPT-2): ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.
    Post-norm (BERT, ``prenorm=False``): ``norm(x + attn(x))``, then ``norm(x + mlp(x))``.

    ``gelu`` is the MLP's GELU (``"tanh"``: GPT-2's approximation, ``"none"``: the exact erf
    form BERT uses) or ``"relu2"`` (:class:`ReLUSquared`); ``norm_eps`` the norms' epsilon
    (BERT: 1e-12).
    """

    def __init__(self, n_embd: int, n_head: int, *, causal: bool = True, bias: bool = True,
                 dropout: float = 0.0, norm: str = "layernorm", qk_norm: bool = False,
                 prenorm: bool = True, gelu: str = "tanh", norm_eps: float = 1e-5,
                 mlp_hidden: int | None = None, qk_norm_kind: str = "rmsnorm"):
        super().__init__()
        self.prenorm = prenorm
        self.ln_1 = make_norm(norm, n_embd, bias, norm_eps)
        self.attn = SelfAttention(n_embd, n_head, causal=causal, bias=bias, dropout=dropout,
                                  qk_norm=qk_norm, qk_norm_kind=qk_norm_kind)
        self.ln_2 = make_norm(norm, n_embd, bias, norm_eps)
        self.mlp = MLP(n_embd, bias=bias, dropout=dropout, hidden=mlp_hidden, gelu=gelu)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                pad_mask: torch.Tensor | None = None,
                rotary: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, KVCache]:
        if not self.prenorm:
            a, new_cache = self.attn(x, cache, pad_mask, rotary)
            x = self.ln_1(x + a)
            return self.ln_2(x + self.mlp(x)), new_cache
        a, new_cache = self.attn(self.ln_1(x), cache, pad_mask, rotary)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, new_cache


def init_gpt2_(module: nn.Module, n_layer: int, std: float = 0.02,
               generator: torch.Generator | None = None) -> None:
    """GPT-2 initialisation: N(0, 0.02) weights, zero biases, and residual projections scaled
    by ``1 / sqrt(2 * n_layer)`` so the residual stream's variance does not grow with depth."""
    for name, p in module.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, 0.0, std / math.sqrt(2 * n_layer), generator=generator)
        elif p.dim() >= 2:
            nn.init.normal_(p, 0.0, std, generator=generator)
        elif name.endswith(".bias"):
            nn.init.zeros_(p)


def check_ids(ids, vocab_size: int, what: str = "input") -> None:
    """Raise a :class:`DataError` naming the first token id outside ``0..vocab_size-1``.

    Without this, an out-of-range id surfaces as an opaque indexing error inside the embedding.
    A tensor on an accelerator is left unchecked: reading its min and max back would stall the
    device on every forward pass, and the data readers check ids when they load them.

    >>> check_ids([0, 5, 9], 10)
    >>> check_ids([0, 12], 10, "prompt")
    Traceback (most recent call last):
    nanonlp.errors.DataError: prompt: token id 12 is outside the model's vocabulary (0..9)
    """
    t = torch.as_tensor(ids)
    if t.numel() == 0 or t.device.type != "cpu":
        return
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise DataError(f"{what}: token id {bad} is outside the model's vocabulary "
                        f"(0..{vocab_size - 1})")
