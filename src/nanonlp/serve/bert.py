"""BERT endpoints: fill-mask top-k with probabilities (a pretrained MLM), the label of a
sentence with every label's probability (a fine-tuned sequence classifier) or the tag of
each word (a token classifier), and the cosine of two texts (a checkpoint with
``embedding.json``: a sentence encoder; one imported from a sentence-transformers folder
without an MLM head offers no fill-mask).

Fill-mask is :func:`nanonlp.bert.predict.fill_mask`. A classifier's label is the argmax of
the probabilities computed here from the same encoding that
:func:`~nanonlp.bert.predict.predict_labels` uses (the test checks the two agree); tags are
:func:`~nanonlp.bert.predict.predict_tags`.

Search over an index of sentence vectors is :mod:`nanonlp.serve.search`.
"""

from __future__ import annotations

from typing import Any

import torch
from starlette.routing import Route

from nanonlp.bert.data import special_ids
from nanonlp.bert.encode import collate, encode_text
from nanonlp.bert.predict import fill_mask, predict_tags
from nanonlp.serve.api import ApiError, endpoint, int_field, model_of, run_limited, text_field
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.encoders import similarity
from nanonlp.serve.models import Loaded, Models


@torch.no_grad()
def label_probabilities(model, tok, text: str) -> dict[str, Any]:
    """A sequence classifier's label for ``text`` and the probability of every label."""
    ids = special_ids(tok)
    row = encode_text(tok, text, ids, model.config.block_size, model.config.lowercase)
    x, _ = collate([(row, 0)], ids["pad_id"], token=False)
    logits, _ = model(x.to(next(model.parameters()).device))  # (1, L)
    probs = logits[0].float().softmax(-1).tolist()
    ranked = sorted(zip(model.labels, probs, strict=True), key=lambda lp: -lp[1])
    return {"label": ranked[0][0],
            "probabilities": [{"label": lab, "p": round(p, 5)} for lab, p in ranked]}


def fill(model, tok, text: str, top_k: int) -> dict[str, Any]:
    """Every ``[MASK]`` of ``text`` with its ``top_k`` fills, best first."""
    return {"masks": [[{"token": t, "p": round(p, 5)} for t, p in fills]
                      for fills in fill_mask(model, tok, text, top_k)]}


def tags(model, tok, text: str) -> dict[str, Any]:
    """A token classifier's tag for each whitespace-separated word of ``text``."""
    words = text.split()
    return {"words": [{"word": w, "tag": t}
                      for w, t in zip(words, predict_tags(model, tok, [words])[0], strict=True)]}


def can(entry: Loaded, task: str) -> bool:
    """Whether a BERT answers ``task``: mlm (fill-mask), sequence, token or similarity."""
    embedding = entry.info.get("embedding")
    if task == "similarity":
        return embedding is not None
    if task == "mlm" and embedding is not None and not embedding["mlm_head"]:
        return False  # a sentence-transformers folder: no trained MLM head, its fills are noise
    return entry.info["task"] == task


def routes(models: Models, config: ServeConfig) -> list[Route]:
    def bert(body: dict, task: str):
        entry = model_of(models, "bert", body)
        if not can(entry, task) and body.get("model") is None:
            # no name given: the first BERT that can answer this
            for other in models.by_kind["bert"].values():
                if can(other, task):
                    return other
        if task == "similarity" and not can(entry, task):
            raise ApiError(404, f"BERT {entry.name!r} is not a sentence encoder (it has no "
                                "embedding.json naming its pooling)")
        if task == "mlm" and entry.info["task"] == "mlm" and not can(entry, task):
            raise ApiError(404, f"BERT {entry.name!r} has no MLM head (a sentence-transformers "
                                "folder has none): fill-mask needs one")
        if not can(entry, task):
            raise ApiError(404, f"BERT {entry.name!r} is a {entry.info['task']} model, not "
                                f"a {task} one")
        return entry

    async def on_text(body: dict, task: str, answer) -> dict:
        """``answer(model, tokenizer, text)`` of the BERT for ``task``, under the time limit."""
        entry = bert(body, task)
        text = text_field(body, "text", config.max_text_chars)
        out = await run_limited(lambda: answer(entry.obj, entry.tokenizer, text),
                                config.request_timeout_s)
        return {"model": entry.name, **out}

    @endpoint(config)
    async def api_fill(request, body):
        k = int_field(body, "top_k", 5, 1, config.max_top_k)
        return await on_text(body, "mlm", lambda m, tok, text: fill(m, tok, text, k))

    @endpoint(config)
    async def api_classify(request, body):
        return await on_text(body, "sequence", label_probabilities)

    @endpoint(config)
    async def api_tag(request, body):
        return await on_text(body, "token", tags)

    @endpoint(config)
    async def api_similarity(request, body):
        entry = bert(body, "similarity")
        a = text_field(body, "a", config.max_text_chars)
        b = text_field(body, "b", config.max_text_chars)
        how = entry.info["embedding"]
        cos = await run_limited(lambda: similarity(entry.obj, entry.tokenizer, a, b, how),
                                config.request_timeout_s)
        return {"model": entry.name, "pooling": how["pooling"], "cosine": round(cos, 5)}

    return [Route("/api/bert/fill", api_fill, methods=["POST"]),
            Route("/api/bert/similarity", api_similarity, methods=["POST"]),
            Route("/api/bert/classify", api_classify, methods=["POST"]),
            Route("/api/bert/tag", api_tag, methods=["POST"])]
