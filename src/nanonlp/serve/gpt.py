"""GPT endpoints: generation streamed token by token (server-sent events), with each token's
probability and the most likely alternatives, and the attention of one layer and head.

The tokens are :func:`nanonlp.gpt.sample.generate`'s own, drawn from a ``torch.Generator``
seeded per request, so a stream equals ``nanonlp gpt sample`` with the same seed. To read the
distribution each token came from without a second forward pass, generate runs on a
:class:`Probe`: a per-request stand-in that forwards every call to the shared model and keeps
the last logits. The KV cache lives inside that request's ``generate`` call; the shared model
is never written (the probe's ``eval()`` leaves it alone: it is in eval mode from loading).

Attention weights: ``F.scaled_dot_product_attention`` does not return them, so
:func:`attention_maps` runs the blocks below the chosen layer, then recomputes that layer's
``softmax(q k^T / sqrt(hs))`` under the causal mask from its own projections (the test checks
that these weights times v give the layer's output).
"""

from __future__ import annotations

import codecs
import math
import time
from collections.abc import Iterator
from typing import Any

import torch
from starlette.routing import Route

from nanonlp.gpt.model import GPT
from nanonlp.gpt.sample import filter_logits, generate, stop_ids_for
from nanonlp.layers import apply_rotary
from nanonlp.serve.api import (
    ApiError,
    Streams,
    endpoint,
    float_field,
    int_field,
    model_of,
    run_limited,
    text_field,
)
from nanonlp.serve.bpe import describe, token_bytes
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models

N_ALTERNATIVES = 5  # the most likely tokens shown beside each generated one


class Probe:
    """Stands in for a :class:`~nanonlp.gpt.model.GPT` inside ``generate``: forwards each
    call, keeps the logits of the last position (V,) that the next token is picked from."""

    def __init__(self, model: GPT):
        self.model, self.config = model, model.config
        self.last: torch.Tensor | None = None

    def eval(self) -> Probe:
        return self  # the shared model is already in eval mode: never write to it

    def parameters(self):
        return self.model.parameters()

    def forward_cached(self, idx, cache=None):
        logits, cache = self.model.forward_cached(idx, cache)
        self.last = logits[0, -1].float().cpu()
        return logits, cache

    def __call__(self, idx):
        logits, loss = self.model(idx)
        self.last = logits[0, -1].float().cpu()
        return logits, loss


def token_event(tok, logits: torch.Tensor, chosen: int, temperature: float,
                top_k: int | None, top_p: float | None) -> dict[str, Any]:
    """What the page shows for one generated token: its probability under the model
    (softmax of the logits), under the distribution it was sampled from (after temperature,
    top-k and top-p; 1 for greedy), and the most likely alternatives."""
    probs = logits.softmax(-1)
    if temperature == 0:
        sampled = 1.0
    else:
        sampled = float(filter_logits(logits / temperature, top_k, top_p).softmax(-1)[chosen])
    p, top = probs.topk(min(N_ALTERNATIVES, probs.numel()))
    alts = [{"id": int(i), "text": token_bytes(tok, int(i)).decode("utf-8", "replace"),
             "p": round(float(q), 5)} for q, i in zip(p, top, strict=True)]
    return {"id": chosen, "token": token_bytes(tok, chosen).decode("utf-8", "replace"),
            "p": round(float(probs[chosen]), 5), "p_sampled": round(sampled, 5),
            "alternatives": alts}


def stream_events(model: GPT, tok, prompt: str, max_new_tokens: int, *, temperature: float,
                  top_k: int | None, top_p: float | None, seed: int, deadline: float,
                  stop: str | None = "<|endoftext|>") -> Iterator[dict[str, Any]]:
    """The records of one generation: ``prompt`` (its tokens), one ``token`` per id
    (``text`` is the decoded piece to append: empty while a UTF-8 character is incomplete),
    then ``done`` (why it stopped: ``length``, ``stop`` or ``time``)."""
    ids = tok.encode(prompt, allowed_special="all")
    yield {"event": "prompt", "tokens": describe(tok, ids)}
    probe = Probe(model)
    gen = torch.Generator().manual_seed(seed)
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")  # as gpt.sample.stream_text
    n, reason = 0, "length"
    for nxt in generate(probe, ids, max_new_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, generator=gen, stop_ids=stop_ids_for(tok, stop)):
        n += 1
        event = token_event(tok, probe.last, nxt, temperature, top_k, top_p)
        event["text"] = dec.decode(token_bytes(tok, nxt))
        yield {"event": "token", **event}
        if time.monotonic() > deadline and n < max_new_tokens:
            reason = "time"
            break
    else:
        reason = "stop" if n < max_new_tokens else "length"
    yield {"event": "done", "reason": reason, "n_tokens": n, "tail": dec.decode(b"", final=True)}


@torch.no_grad()
def attention_maps(model: GPT, ids: list[int], layer: int) -> torch.Tensor:
    """The attention weights of every head of block ``layer`` over ``ids``: (nh, T, T), each
    row a distribution over the positions at or before it."""
    c = model.config
    if not 0 <= layer < c.n_layer:
        raise ApiError(400, f"'layer' must be in 0..{c.n_layer - 1}, got {layer}")
    dev = next(model.parameters()).device
    idx = torch.tensor([ids[-c.block_size:]], device=dev)  # (1, T)
    x, rotary = model._embed(idx, 0)  # (1, T, C): the same embedding forward() starts from
    for block in model.transformer.h[:layer]:
        x, _ = block(x, rotary=rotary)
    block = model.transformer.h[layer]
    attn = block.attn
    h = block.ln_1(x)  # GPT blocks are pre-norm: attention reads the normed stream
    B, T, C = h.shape
    nh, hs = attn.n_head, C // attn.n_head
    q, k, _ = attn.c_attn(h).split(C, dim=2)  # each (1, T, C)
    q = q.view(B, T, nh, hs).transpose(1, 2)  # (1, nh, T, hs)
    k = k.view(B, T, nh, hs).transpose(1, 2)  # (1, nh, T, hs)
    if attn.q_norm is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    if rotary is not None:
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (1, nh, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=dev).tril()
    return scores.masked_fill(~causal, float("-inf")).softmax(-1)[0].float().cpu()


def attention(model: GPT, tok, ids: list[int], layer: int, head: int | None) -> dict[str, Any]:
    """The page's attention view: the tokens (the last ``block_size`` of ``ids``) and the
    (T, T) weights of one head, or their mean over heads when ``head`` is None."""
    ids = ids[-model.config.block_size:]
    if not ids:
        raise ApiError(400, "no tokens to attend over")
    bad = [i for i in ids if not 0 <= i < model.config.vocab_size]
    if bad:
        raise ApiError(400, f"token id {bad[0]} is outside the model's vocabulary "
                            f"(0..{model.config.vocab_size - 1})")
    maps = attention_maps(model, ids, layer)
    nh = maps.shape[0]
    if head is not None and not 0 <= head < nh:
        raise ApiError(400, f"'head' must be in 0..{nh - 1} (or null: the mean), got {head}")
    w = maps.mean(0) if head is None else maps[head]
    return {"tokens": describe(tok, ids), "layer": layer, "head": head,
            "weights": [[round(float(v), 4) for v in row] for row in w]}


def routes(models: Models, config: ServeConfig, streams: Streams | None = None
           ) -> list[Route]:
    streams = streams or Streams(config.max_streams)

    @endpoint(config)
    async def api_generate(request, body):
        entry = model_of(models, "gpt", body)
        prompt = text_field(body, "prompt", config.max_text_chars, allow_empty=True)
        if not prompt:
            raise ApiError(400, "'prompt' is empty: give at least one character")
        n = int_field(body, "max_new_tokens", min(100, config.max_new_tokens), 0,
                      config.max_new_tokens)
        temperature = float_field(body, "temperature", 0.8, 0.0, 5.0)
        top_k = int_field(body, "top_k", 200, 1, entry.obj.config.vocab_size, optional=True)
        top_p = float_field(body, "top_p", None, 0.0, 1.0, optional=True, open_low=True)
        seed = int_field(body, "seed", 1337, 0, 2 ** 63 - 1)
        streams.check()
        deadline = time.monotonic() + config.request_timeout_s
        events = stream_events(entry.obj, entry.tokenizer, prompt, n, temperature=temperature,
                               top_k=top_k, top_p=top_p, seed=seed, deadline=deadline)
        # the prompt is encoded before the status goes out: text the tokenizer refuses is a 400
        first = await run_limited(lambda: next(events), config.request_timeout_s)
        return streams.response("/api/gpt/generate", first, events)

    @endpoint(config)
    async def api_attention(request, body):
        entry = model_of(models, "gpt", body)
        layer = int_field(body, "layer", 0, 0, 10 ** 6)
        head = int_field(body, "head", None, 0, 10 ** 6, optional=True)
        tok = entry.tokenizer
        if "ids" in body:  # the page sends the ids it generated: text would re-tokenize them
            ids = body["ids"]
            if not isinstance(ids, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ApiError(400, "'ids' must be a list of integers")
            if len(ids) > config.max_text_chars:
                raise ApiError(413, f"{len(ids):,} ids, over the limit of "
                                    f"{config.max_text_chars:,}")
        else:
            text = text_field(body, "text", config.max_text_chars)
            ids = await run_limited(lambda: tok.encode(text, allowed_special="all"),
                                    config.request_timeout_s)
        return await run_limited(lambda: attention(entry.obj, tok, ids, layer, head),
                                 config.request_timeout_s)

    return [Route("/api/gpt/generate", api_generate, methods=["POST"]),
            Route("/api/gpt/attention", api_attention, methods=["POST"])]
