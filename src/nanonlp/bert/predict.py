"""Run a BERT checkpoint on text: fill [MASK] (a pretrained MLM), label a sentence (a sequence
classifier) or tag each word (a token classifier). This is the inference side of fine-tuning
(:mod:`nanonlp.bert.finetune` trains; nothing here imports it): the playground, ``bert
predict``, ``bert finetune --report`` and :func:`nanonlp.bert.evaluate` all predict through
:func:`predict_proba` and :func:`predict_tags`.

A word takes the label of its first sub-word, the alignment it was trained with
(:func:`nanonlp.bert.encode.encode_words`).

:func:`predict_lines` is what ``nanonlp bert predict`` calls: it loads the checkpoint and its
tokenizer and returns one output line per input line: the label and its probability, the
entities of a line, or the fillers of each [MASK]; plain text or JSON lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nanonlp.bert.data import load_tokenizer, special_ids
from nanonlp.bert.encode import collate, encode_example, encode_words
from nanonlp.bert.model import BertClassifier, BertForMaskedLM, load_bert
from nanonlp.datasets.records import PairExample
from nanonlp.datasets.tags import bio_spans
from nanonlp.errors import DataError

FINETUNE_FILE = "finetune.json"  # beside a classifier's weights: its task; does it read pairs


def checkpoint_task(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """What ``finetune.json`` says of a fine-tuned checkpoint (``{}`` for one without it)."""
    path = Path(checkpoint) / FINETUNE_FILE
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{path}: not JSON") from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: expected a JSON object")
    return info


@torch.no_grad()
def predict_proba(model: BertClassifier, tok, texts: Sequence[str],
                  pairs: Sequence[str] | None = None, batch_size: int = 64) -> torch.Tensor:
    """Label probabilities (N, L) of each text (or text pair), sequence classifier."""
    model.eval()
    ids = special_ids(tok)
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(texts), batch_size):
        rows = []
        for k in range(s, min(s + batch_size, len(texts))):
            x, types, _ = encode_example(tok, texts[k], None if pairs is None else pairs[k],
                                         ids, model.config.block_size, model.config.lowercase)
            rows.append((x, 0) if types is None else (x, 0, types))
        x, _, *tt = collate(rows, ids["pad_id"], token=False)
        logits, _ = model(x.to(dev), *(t.to(dev) for t in tt))
        out.append(logits.float().softmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros((0, len(model.labels)))


def predict_labels(model: BertClassifier, tok, texts: Sequence[str],
                   batch_size: int = 64, pairs: Sequence[str] | None = None) -> list[str]:
    """The label of each text (or text pair: ``pairs[i]`` is text i's second text)."""
    probs = predict_proba(model, tok, texts, pairs, batch_size)
    return [model.labels[i] for i in probs.argmax(-1).tolist()]


@torch.no_grad()
def predict_tags(model: BertClassifier, tok, sentences: Sequence[Sequence[str]],
                 batch_size: int = 64, default: str = "O") -> list[list[str]]:
    """The tag of each word (token classifier): its first sub-word's label; a word cut off by
    the position table gets ``default``."""
    model.eval()
    ids = special_ids(tok)
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(sentences), batch_size):
        enc = [encode_words(tok, w, None, ids, model.config.block_size, model.config.lowercase)
               for w in sentences[s:s + batch_size]]
        x, _ = collate([(e[0], e[1]) for e in enc], ids["pad_id"], token=True)
        pred = model(x.to(dev))[0].argmax(-1).tolist()  # (B, T)
        for row, (_, _, starts) in zip(pred, enc, strict=True):
            out.append([model.labels[row[p]] if p >= 0 else default for p in starts])
    return out


def predict_records(model: BertClassifier, tok, records: list, batch_size: int = 64) -> list:
    """Predictions for labelled records: a label per Example/PairExample, or a tag list per
    TaggedSentence."""
    if model.task == "sequence":
        pairs = [r.text_pair for r in records] if records and \
            isinstance(records[0], PairExample) else None
        return predict_labels(model, tok, [r.text for r in records], batch_size, pairs)
    return predict_tags(model, tok, [r.tokens for r in records], batch_size)


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


def word_offsets(line: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """The character span of each whitespace-split word in ``line``.

    >>> word_offsets("Ada  met Bob", ["Ada", "met", "Bob"])
    [(0, 3), (5, 8), (9, 12)]
    """
    out, at = [], 0
    for w in words:
        at = line.index(w, at)
        out.append((at, at + len(w)))
        at += len(w)
    return out


def entities(line: str, tags: Sequence[str]) -> list[tuple[int, int, str, str]]:
    """``(start_char, end_char, label, text)`` of the BIO entities of a line's words (the
    shape of :func:`nanonlp.ner.tag.tag`'s entities).

    >>> entities("Angela Merkel met Macron", ["B-PER", "I-PER", "O", "B-PER"])
    [(0, 13, 'PER', 'Angela Merkel'), (18, 24, 'PER', 'Macron')]
    """
    spans = word_offsets(line, line.split())
    out = []
    for s, e, label in bio_spans(list(tags)):
        a, b = spans[s][0], spans[e - 1][1]
        out.append((a, b, label, line[a:b]))
    return out


def predict_lines(checkpoint: str | os.PathLike, lines: Sequence[str], top_k: int = 5,
                  device: str | torch.device = "cpu", *, as_json: bool = False,
                  where: str = "<input>") -> list[str]:
    """One output line per non-blank input line.

    * a classifier: ``LABEL<TAB>probability``; a classifier of sentence pairs reads
      ``text<TAB>text_pair`` lines;
    * a tagger: its entities, ``Angela Merkel (PER); Paris (LOC)`` (empty if none);
    * an MLM: the top predictions for each [MASK], ``'tok' (p) | 'tok' (p) ...``.

    ``as_json`` gives JSON lines instead: ``{"text", "label", "probability", "probabilities"}``
    for a classifier, ``{"text", "entities": [[start, end, label], ...]}`` (the JSONL that
    ``nanonlp ner convert`` reads) for a tagger. ``where`` names the input in errors.
    """
    model = load_bert(checkpoint, device)
    tok = load_tokenizer(checkpoint)
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    texts = [line for _, line in numbered]
    if isinstance(model, BertForMaskedLM):
        out = []
        for line in texts:
            fills = fill_mask(model, tok, line, top_k)
            if as_json:
                out.append(json.dumps({"text": line, "masks": [
                    [{"token": t, "probability": p} for t, p in f] for f in fills]},
                    ensure_ascii=False))
            else:
                out.append(" ; ".join(" | ".join(f"{t!r} ({p:.2f})" for t, p in f)
                                      for f in fills))
        return out
    if model.task == "sequence":
        pairs = None
        if checkpoint_task(checkpoint).get("text_pair"):
            split = []
            for i, line in numbered:
                parts = line.split("\t")
                if len(parts) != 2 or not all(p.strip() for p in parts):
                    raise DataError(f"{where}:{i}: this classifier reads sentence pairs: "
                                    f"write text<TAB>text_pair, got {line[:60]!r}")
                split.append((parts[0].strip(), parts[1].strip()))
            texts, pairs = [a for a, _ in split], [b for _, b in split]
        probs = predict_proba(model, tok, texts, pairs)
        out = []
        for k, row in enumerate(probs.tolist()):
            best = max(range(len(row)), key=row.__getitem__)
            if as_json:
                rec = {"text": texts[k], **({"text_pair": pairs[k]} if pairs else {}),
                       "label": model.labels[best], "probability": row[best],
                       "probabilities": dict(zip(model.labels, row, strict=True))}
                out.append(json.dumps(rec, ensure_ascii=False))
            else:
                out.append(f"{model.labels[best]}\t{row[best]:.4f}")
        return out
    tags = predict_tags(model, tok, [line.split() for line in texts])
    out = []
    for line, ts in zip(texts, tags, strict=True):
        ents = entities(line, ts)
        out.append(json.dumps({"text": line, "entities": [[a, b, lab] for a, b, lab, _ in ents]},
                              ensure_ascii=False) if as_json else
                   "; ".join(f"{t} ({lab})" for _, _, lab, t in ents))
    return out
