"""BERT endpoints: fill-mask top-k with probabilities (a pretrained MLM), and the label of a
sentence with every label's probability (a fine-tuned sequence classifier) or the tag of
each word (a token classifier).

Fill-mask is :func:`nanonlp.bert.predict.fill_mask`. A classifier's label is the argmax of
the probabilities computed here from the same encoding that
:func:`~nanonlp.bert.predict.predict_labels` uses (the test checks the two agree); tags are
:func:`~nanonlp.bert.predict.predict_tags`.

Extension point: search over a file by sentence embeddings belongs here once the library has
them (an index built offline, loaded at start as the models are, and a
``POST /api/bert/search {"query", "top_k"}`` route beside these; no request may name the
file).
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
from nanonlp.serve.models import Models


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


def routes(models: Models, config: ServeConfig) -> list[Route]:
    def bert(body: dict, task: str):
        entry = model_of(models, "bert", body)
        if entry.info["task"] != task and body.get("model") is None:
            # no name given: the first BERT that can answer this
            for other in models.by_kind["bert"].values():
                if other.info["task"] == task:
                    return other
        if entry.info["task"] != task:
            raise ApiError(404, f"BERT {entry.name!r} is a {entry.info['task']} model, not "
                                f"a {task} one")
        return entry

    @endpoint(config)
    async def api_fill(request, body):
        entry = bert(body, "mlm")
        text = text_field(body, "text", config.max_text_chars)
        k = int_field(body, "top_k", 5, 1, config.max_top_k)
        out = await run_limited(lambda: fill(entry.obj, entry.tokenizer, text, k),
                                config.request_timeout_s)
        return {"model": entry.name, **out}

    @endpoint(config)
    async def api_classify(request, body):
        entry = bert(body, "sequence")
        text = text_field(body, "text", config.max_text_chars)
        out = await run_limited(lambda: label_probabilities(entry.obj, entry.tokenizer, text),
                                config.request_timeout_s)
        return {"model": entry.name, **out}

    @endpoint(config)
    async def api_tag(request, body):
        entry = bert(body, "token")
        text = text_field(body, "text", config.max_text_chars)
        out = await run_limited(lambda: tags(entry.obj, entry.tokenizer, text),
                                config.request_timeout_s)
        return {"model": entry.name, **out}

    return [Route("/api/bert/fill", api_fill, methods=["POST"]),
            Route("/api/bert/classify", api_classify, methods=["POST"]),
            Route("/api/bert/tag", api_tag, methods=["POST"])]
