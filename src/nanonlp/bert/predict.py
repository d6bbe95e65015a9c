"""Run a BERT checkpoint on text: fill [MASK] (a pretrained MLM), label a sentence (a sequence
classifier) or tag each word (a token classifier).

:func:`predict_lines` is what ``nanonlp bert predict`` calls: it loads the checkpoint and its
tokenizer and returns one output line per input line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from nanonlp.bert.data import special_ids
from nanonlp.bert.finetune import checkpoint_tokenizer, predict_labels, predict_tags
from nanonlp.bert.model import BertForMaskedLM, load_bert
from nanonlp.errors import DataError


@torch.no_grad()
def fill_mask(model: BertForMaskedLM, tok, text: str, top_k: int = 5
              ) -> list[list[tuple[str, float]]]:
    """For each ``[MASK]`` in ``text``, the ``top_k`` (token text, probability) predictions.

    A byte-level token can be part of a UTF-8 character (one byte of "é"); it is shown as its
    bytes, ``'\\xc3'``, not as U+FFFD, so that two such candidates stay distinguishable.
    """
    ids = special_ids(tok)
    if model.config.lowercase:  # an uncased model: lower-case all but the [MASK] markers
        text = "[MASK]".join(part.lower() for part in text.split("[MASK]"))
    body = tok.encode(text, allowed_special={"[MASK]"}, disallowed_special=())
    x = [ids["cls_id"], *body, ids["sep_id"]]
    if ids["mask_id"] not in body:
        raise DataError(f"no [MASK] in {text[:60]!r}: write [MASK] where a token should be filled")
    if len(x) > model.config.block_size:
        raise DataError(f"{len(x)} tokens is longer than the position table "
                        f"(block_size {model.config.block_size})")
    model.eval()
    dev = next(model.parameters()).device
    logits, _ = model(torch.tensor([x], device=dev))  # (1, T, V)
    probs = logits[0].softmax(-1)  # (T, V)
    out = []
    for pos in [i for i, t in enumerate(x) if t == ids["mask_id"]]:
        p, top = probs[pos].topk(top_k)
        out.append([(tok.decode([int(t)], errors="backslashreplace"), float(q))
                    for q, t in zip(p, top, strict=True)])
    return out


def predict_lines(checkpoint: str | os.PathLike, lines: Sequence[str], top_k: int = 5,
                  device: str | torch.device = "cpu") -> list[str]:
    """One output line per input line: ``LABEL``, ``word/TAG word/TAG ...`` or, for an MLM
    checkpoint, the top predictions for each [MASK] (``tok (p) | tok (p) ...``)."""
    model = load_bert(checkpoint, device)
    tok = checkpoint_tokenizer(checkpoint)
    if isinstance(model, BertForMaskedLM):
        out = []
        for line in lines:
            fills = fill_mask(model, tok, line, top_k)
            out.append(" ; ".join(" | ".join(f"{t!r} ({p:.2f})" for t, p in f) for f in fills))
        return out
    if model.task == "sequence":
        return predict_labels(model, tok, list(lines))
    words = [line.split() for line in lines]
    tags = predict_tags(model, tok, words)
    return [" ".join(f"{w}/{t}" for w, t in zip(ws, ts, strict=True))
            for ws, ts in zip(words, tags, strict=True)]
