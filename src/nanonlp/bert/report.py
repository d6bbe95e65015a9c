"""The scores of a fine-tuned classifier or tagger: the JSON report ``bert finetune --report``
writes, and the table it prints from the same numbers.

* a classifier (:func:`classification_scores`): accuracy, macro F1, precision / recall / F1
  and support per class, and the confusion table (rows: the gold label, columns: the
  predicted one, scikit-learn's layout). A class never predicted has precision 0 (and F1 0),
  as scikit-learn's ``zero_division=0``;
* a sentence encoder (``task contrastive``): recall@k and MRR of anchors ranking the
  positives (:func:`nanonlp.bert.embed.pair_retrieval`);
* a tagger (:func:`span_scores`): entity spans of the BIO tags matched exactly (type, first
  and last word: CoNLL's score, which seqeval computes), micro-averaged and per type, and the
  word-level tag accuracy.

All figures are fractions in [0, 1], as scikit-learn and seqeval give them; the table shows
them as percentages. Left out: averaging weighted by support, and seqeval's strict mode.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nanonlp.datasets.tags import bio_spans
from nanonlp.fileio import atomic_write

SPLIT_NAMES = {"val": "dev", "test": "test"}  # our split -> its name in the report


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "support": n_gold}


def classification_scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
                          ) -> dict[str, Any]:
    """Accuracy, macro F1, per-class P/R/F1 and the confusion table of label predictions.

    >>> s = classification_scores(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    >>> s["accuracy"], round(s["macro_f1"], 4), s["per_class"]["a"]
    (0.75, 0.7333, {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2})
    >>> s["confusion"]
    {'labels': ['a', 'b'], 'matrix': [[1, 1], [0, 2]]}
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    pairs = Counter(zip(gold, pred, strict=True))
    per_class = {lab: _prf(pairs[lab, lab], sum(p == lab for p in pred),
                           sum(g == lab for g in gold)) for lab in labels}
    return {"examples": len(gold),
            "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1),
            "macro_f1": sum(c["f1"] for c in per_class.values()) / max(len(labels), 1),
            "per_class": per_class,
            "confusion": {"labels": list(labels),
                          "matrix": [[pairs[g, p] for p in labels] for g in labels]}}


def span_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Exact-match entity span P/R/F1 (micro and per type) and tag accuracy of BIO sequences.

    >>> s = span_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    >>> s["span_f1"]["f1"], s["span_f1"]["per_type"]["LOC"]["recall"], s["token_accuracy"]
    (0.6666666666666666, 0.0, 0.75)
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    tp: Counter = Counter()
    n_gold: Counter = Counter()
    n_pred: Counter = Counter()
    right = words = 0
    for g, p in zip(gold, pred, strict=True):
        gs, ps = set(bio_spans(list(g))), set(bio_spans(list(p)))
        n_gold.update(t for *_, t in gs)
        n_pred.update(t for *_, t in ps)
        tp.update(t for *_, t in gs & ps)
        right += sum(a == b for a, b in zip(g, p, strict=True))
        words += len(g)
    types = sorted(set(n_gold) | set(n_pred))
    overall = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"sentences": len(gold), "token_accuracy": right / max(words, 1),
            "span_f1": {**overall,
                        "per_type": {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in types}}}


def score(model, tok, records: list, batch_size: int = 64) -> dict[str, Any]:
    """The report section of one split: the model's predictions on ``records`` scored."""
    from nanonlp.bert.predict import predict_records

    pred = predict_records(model, tok, records, batch_size)
    if model.task == "sequence":
        return classification_scores([r.label for r in records], pred, model.labels)
    return span_scores([r.tags for r in records], pred)


def evaluate(model, data: str | list, tok=None, *, split: str = "val",
             batch_size: int = 64) -> dict[str, float]:
    """The standard metric of a fine-tuned classifier or tagger, in %: accuracy (a sequence
    task) or seqeval's span precision / recall / F1 (a token task, CoNLL's score).

    ``model`` is a checkpoint folder or a loaded :class:`~nanonlp.bert.BertClassifier` (then
    ``tok`` is its tokenizer); ``data`` is a list of records (Examples, PairExamples or
    TaggedSentences) or a named task (``sst2``, ``sentence_polarity``, ``conll2003``), whose
    ``split`` is scored. The same shape as every part's ``evaluate``.
    """
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.model import BertClassifier, load_bert
    from nanonlp.bert.predict import predict_records
    from nanonlp.errors import DataError

    if isinstance(model, str | os.PathLike):
        tok = load_tokenizer(model) if tok is None else tok
        model = load_bert(model)
    if not isinstance(model, BertClassifier):
        raise DataError("evaluate needs a fine-tuned classifier or tagger (`bert finetune`); "
                        "this is a masked-LM checkpoint")
    if tok is None:
        raise DataError("evaluate of a loaded model needs its tokenizer (tok=...)")
    if isinstance(data, str):
        from nanonlp.bert.tasks import load_task

        data = load_task(data, split)
    pred = predict_records(model, tok, data, batch_size)
    if model.task == "sequence":
        right = sum(p == r.label for p, r in zip(pred, data, strict=True))
        return {"accuracy": 100.0 * right / max(len(data), 1), "examples": len(data)}
    from seqeval.metrics import f1_score, precision_score, recall_score

    gold = [list(r.tags) for r in data]
    return {"f1": 100.0 * float(f1_score(gold, pred)),
            "precision": 100.0 * float(precision_score(gold, pred)),
            "recall": 100.0 * float(recall_score(gold, pred)), "sentences": len(data)}


def score_splits(model, tok, records: dict[str, list], batch_size: int = 64
                 ) -> dict[str, dict[str, Any]]:
    """``{"dev": ..., "test": ...}``: every split but train that ``records`` holds."""
    return {SPLIT_NAMES[s]: score(model, tok, recs, batch_size)
            for s, recs in records.items() if s in SPLIT_NAMES}


def format_table(report: dict[str, dict[str, Any]]) -> str:
    """The report as text tables, figures in percent.

    >>> print(format_table({"dev": classification_scores(["a", "b"], ["a", "a"], ["a", "b"])}))
    dev: 2 examples, accuracy 50.00%, macro F1 33.33%
      label  precision  recall      f1  support
      a          50.00  100.00   66.67        1
      b           0.00    0.00    0.00        1
      confusion (rows: gold, columns: predicted)
                 a      b
      a          1      0
      b          1      0
    """
    out = []
    for split, s in report.items():
        if "mrr" in s:  # retrieval (contrastive): no per-class rows
            out.append(f"{split}: {s['queries']:,} anchors each ranking all positives: "
                       + ", ".join(f"{k} {100 * v:.2f}%" for k, v in s.items()
                                   if k.startswith("recall@")) + f", MRR {s['mrr']:.4f}")
            continue
        if "per_class" in s:
            out.append(f"{split}: {s['examples']:,} examples, accuracy "
                       f"{100 * s['accuracy']:.2f}%, macro F1 {100 * s['macro_f1']:.2f}%")
            rows, what = s["per_class"], "label"
        else:
            f = s["span_f1"]
            out.append(f"{split}: {s['sentences']:,} sentences, span F1 {100 * f['f1']:.2f}% "
                       f"(P {100 * f['precision']:.2f}, R {100 * f['recall']:.2f}), "
                       f"tag accuracy {100 * s['token_accuracy']:.2f}%")
            rows, what = f["per_type"], "type"
        w = max([len(what), *(len(k) for k in rows)])
        out.append(f"  {what:<{w}}  precision  recall      f1  support")
        for k, c in rows.items():
            out.append(f"  {k:<{w}}  {100 * c['precision']:9.2f} {100 * c['recall']:7.2f} "
                       f"{100 * c['f1']:7.2f} {c['support']:8,}")
        if "confusion" in s:
            labels, matrix = s["confusion"]["labels"], s["confusion"]["matrix"]
            cw = max(7, *(len(k) + 1 for k in labels))
            out.append("  confusion (rows: gold, columns: predicted)")
            out.append("  " + " " * w + "".join(f"{k:>{cw}}" for k in labels))
            for k, row in zip(labels, matrix, strict=True):
                out.append(f"  {k:<{w}}" + "".join(f"{n:>{cw},}" for n in row))
    return "\n".join(out)


def write_report(path: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Write the report as JSON, whole or not at all."""
    path = Path(path)
    with atomic_write(path) as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    return path
