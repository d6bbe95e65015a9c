"""Text generation from a GPT: temperature, top-k, top-p (nucleus, Holtzman et al. 2020), a KV
cache, streaming, and a stop token.

:func:`generate` yields token ids one at a time, so the CLI can print while the model thinks.
With the cache, each new token costs one position of attention against cached keys and
values instead of a forward pass over the whole context; past ``block_size`` tokens the
context slides (learned positions cannot go further) and the cache is rebuilt from the last
``block_size`` tokens, which is exactly what full recomputation sees.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from nanonlp import layers
from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.model import GPT
from nanonlp.layers import check_ids


@dataclass
class SampleConfig:
    prompt: str = "\n"  # text the samples continue
    max_new_tokens: int = 500  # tokens to generate per sample
    temperature: float = 0.8  # <1 sharper, >1 flatter; 0 is greedy (argmax)
    top_k: int | None = 200  # sample among the k most likely tokens only (None: all)
    top_p: float | None = None  # sample among the smallest set with this much probability
    num_samples: int = 1  # independent samples
    seed: int = 1337  # seeds the sampler
    stop: str | None = "<|endoftext|>"  # stop at this special token (ignored if not in vocab)
    kv_cache: bool = True  # reuse keys/values of earlier positions (same ids, faster)
    device: str = "auto"  # auto, cpu, cuda, mps

    def __post_init__(self):
        if self.max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens must be >= 0, got {self.max_new_tokens}")
        # NaN passes a `< 0` test, and softmax(logits / nan) then fails deep in torch
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise ConfigError(f"temperature must be a finite number >= 0 (0: greedy), got "
                              f"{self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1 (or None), got {self.top_k}")
        if self.top_p is not None and not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            raise ConfigError(f"num_samples must be >= 1, got {self.num_samples}")


def filter_logits(logits: torch.Tensor, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Set logits outside the top-k / the top-p nucleus to -inf (logits: (V,)).

    >>> filter_logits(torch.tensor([1.0, 3.0, 2.0, 0.0]), top_k=2).tolist()
    [-inf, 3.0, 2.0, -inf]
    >>> filter_logits(torch.tensor([0.0, 10.0, 0.0]), top_p=0.9).tolist()
    [-inf, 10.0, -inf]
    """
    logits = logits.clone()
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits[logits < kth] = -float("inf")
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        # drop a token when the tokens ranked before it already hold top_p of the mass
        drop = probs.cumsum(-1) - probs >= top_p
        logits[order[drop]] = -float("inf")
    return logits


@torch.no_grad()
def generate(model: GPT, prompt: list[int], max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, stop_ids: Iterable[int] = (),
             use_cache: bool = True) -> Iterator[int]:
    """Yield up to ``max_new_tokens`` ids continuing ``prompt``; stops after a stop id (which
    is not yielded). ``temperature=0`` is greedy decoding."""
    if not prompt:
        raise ConfigError("the prompt is empty: give at least one token")
    if not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"temperature must be a finite number >= 0, got {temperature}")
    check_ids(prompt, model.config.vocab_size, "prompt")
    model.eval()
    device = next(model.parameters()).device
    if device.type == "cpu" and isinstance(model, torch.nn.Module):  # (not a wrapper)
        decoding_layout_(model)
    block = model.config.block_size
    stop = set(stop_ids)
    ids = list(prompt)
    cache = None
    for _ in range(max_new_tokens):
        if use_cache:
            if cache is None or cache[0][0].shape[2] >= block:
                # first step, or the window is full and slides: fill from the last block
                ctx = torch.tensor([ids[-block:]], device=device)
                logits, cache = model.forward_cached(ctx)
            else:
                logits, cache = model.forward_cached(torch.tensor([ids[-1:]], device=device),
                                                     cache)
        else:
            logits, _ = model(torch.tensor([ids[-block:]], device=device))
        nxt = pick(logits[0, -1].float().cpu(), temperature, top_k, top_p, generator)
        if nxt in stop:
            return
        ids.append(nxt)
        yield nxt


@torch.no_grad()
def decoding_layout_(model: torch.nn.Module) -> None:
    """Store each Linear weight (out, in) transposed in memory, for one-token-at-a-time decoding
    on the CPU. Values, shapes and names stay as they are; only the strides change.

    With the KV cache each new token multiplies one row vector by every weight matrix, and
    that product reads the whole matrix. The CPU BLAS reads a matrix laid out (in, out) about
    twice as fast for this as the (out, in) rows ``nn.Linear`` keeps, which is why HF's GPT-2
    (its ``Conv1D`` stores (in, out)) led ours: at the 124M shape, one thread, greedy decoding
    went from 0.98x to 1.12x HF's ``generate`` (benchmarks/gpt_import.py, BENCHMARKS.md); the
    50,257 x 768 output layer alone went from 15 to 7 ms per token. Checkpoints and exports
    copy the weights back to contiguous rows when they write. Weights whose one-row products
    go through oneDNN (:func:`onednn_decodes`) keep their rows: oneDNN is faster on them.

    >>> lin = torch.nn.Linear(3, 2)
    >>> w = lin.weight.clone()
    >>> decoding_layout_(lin)
    >>> lin.weight.shape, lin.weight.stride(), bool((lin.weight == w).all())
    (torch.Size([2, 3]), (1, 2), True)
    """
    for module in model.modules():
        if (isinstance(module, torch.nn.Linear) and module.weight.is_contiguous()
                and not onednn_decodes(module.weight)):
            # .t().contiguous() lays the (in, out) rows out; the outer .t() keeps the shape.
            # A tied weight (the output layer and the token embedding) moves once, for both.
            module.weight.data = module.weight.data.t().contiguous().t()


def onednn_decodes(weight: torch.Tensor) -> bool:
    """Whether a one-row product with ``weight`` goes through oneDNN
    (:func:`nanonlp.layers.onednn_ok`), which reads the (out, in) rows as they are: at the
    124M shape, greedy decoding took 1.12 s on one thread and 0.78 s on two, against 1.32 s
    and 1.31 s for MKL on the transposed layout (AMD EPYC, torch 2.13). Small matrices stay
    with the BLAS and its layout."""
    with torch.no_grad():  # as decoding runs: the question is onednn_ok's, for one row
        return layers.onednn_ok(weight.new_empty(1, weight.shape[-1]), weight)


def pick(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None,
         generator: torch.Generator | None) -> int:
    """Choose the next id from logits (V,): argmax at temperature 0, else a filtered sample."""
    if torch.isnan(logits).any():
        raise DataError("the model's next-token logits are NaN (damaged weights, or an "
                        "overflow in float16)")
    if temperature == 0:
        return int(logits.argmax())
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def stream_text(tokenizer, ids: Iterable[int]) -> Iterator[str]:
    """Decode ids as they come: pieces of text, never half a UTF-8 character (a BPE token may
    end inside one; its bytes wait for the next token)."""
    if not hasattr(tokenizer, "decode_bytes"):
        for i in ids:
            yield tokenizer.decode([i])
        return
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for i in ids:
        piece = dec.decode(tokenizer.decode_bytes([i]))
        if piece:
            yield piece
    tail = dec.decode(b"", final=True)
    if tail:
        yield tail


def stop_ids_for(tokenizer, stop: str | None) -> list[int]:
    """The id of the special token ``stop`` in the tokenizer's vocabulary, if it has one."""
    if stop is None or tokenizer is None:
        return []
    special = getattr(tokenizer, "special_tokens", {})
    return [special[stop]] if stop in special else []
