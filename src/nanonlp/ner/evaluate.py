"""Evaluate a spaCy NER pipeline: P/R/F1 per entity type, cross-checked, with error tables.

The figures are spaCy's ``Scorer`` (exact-span matching, the CoNLL-2003 definition of a
correct entity: same start, end and type). The same predictions are scored again by
``seqeval`` (Nakayama 2018, the Python port of CoNLL's ``conlleval``) in strict IOB2 mode;
the two must agree to 1e-9, and the report records that they did. Two scorers that disagree
on the same predictions mean a conversion bug (a BIO repair, a dropped span), which is exactly
what would otherwise go unnoticed.

Also here: a type-confusion table (for each gold entity, what the model predicted on the same
tokens), the JSON report (written atomically) and a displaCy HTML page of sample predictions
beside their gold annotation.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from nanonlp.errors import DataError, NanonlpError
from nanonlp.fileio import atomic_write, recover_dir
from nanonlp.ner.convert import doc_tags, load_docbin

NONE = "(none)"  # the row/column of the confusion table for "no entity here"


@dataclass
class TypeScores:
    precision: float
    recall: float
    f1: float
    support: int = 0  # gold entities of this type


@dataclass
class EvalReport:
    """Overall and per-type scores from spaCy's Scorer, seqeval's figures, and error tables."""

    precision: float
    recall: float
    f1: float
    per_type: dict[str, TypeScores]
    seqeval: dict[str, float]  # overall precision / recall / f1 from seqeval
    seqeval_agrees: bool  # seqeval == spaCy Scorer to 1e-9, overall and per type
    confusion: dict[str, dict[str, int]]  # gold type -> predicted type on the same span -> n
    docs: int = 0
    tokens: int = 0
    gold_entities: int = 0
    predicted_entities: int = 0
    words_per_second: float = 0.0  # prediction speed over the whole set
    model: str = ""
    data: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path) as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")

    def table(self) -> str:
        """A plain-text table: one line per type and the overall line."""
        rows = [f"{'type':<8} {'P':>6} {'R':>6} {'F1':>6} {'n':>6}"]
        for label, s in sorted(self.per_type.items()):
            rows.append(f"{label:<8} {100 * s.precision:6.2f} {100 * s.recall:6.2f} "
                        f"{100 * s.f1:6.2f} {s.support:6d}")
        rows.append(f"{'overall':<8} {100 * self.precision:6.2f} {100 * self.recall:6.2f} "
                    f"{100 * self.f1:6.2f} {self.gold_entities:6d}")
        return "\n".join(rows)

    def confusion_table(self) -> str:
        """The confusion table as text: rows gold, columns predicted on the same tokens."""
        seen = set(self.confusion) | {c for row in self.confusion.values() for c in row}
        labels = [*sorted(seen - {NONE}), NONE]
        w = max(6, *(len(lab) for lab in labels))
        head = "gold \\ predicted"
        lines = [f"{head:<{len(head) + 1}}" + " ".join(f"{lab:>{w}}" for lab in labels)]
        for g in labels:
            row = self.confusion.get(g, {})
            lines.append(f"{g:<{len(head) + 1}}" + " ".join(f"{row.get(p, 0):>{w}}"
                                                            for p in labels))
        return "\n".join(lines)


def predict(nlp, gold_docs: list, batch_size: int = 64) -> list:
    """Run ``nlp`` over fresh docs with the gold docs' words (and spaces), in batches."""
    from spacy.tokens import Doc

    inputs = (Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d])
              for d in gold_docs)
    return list(nlp.pipe(inputs, batch_size=batch_size))


def score(pred_docs: list, gold_docs: list) -> EvalReport:
    """Score predicted docs against gold docs (same tokens) with spaCy's Scorer and seqeval."""
    from spacy.scorer import Scorer
    from spacy.training import Example

    if len(pred_docs) != len(gold_docs):
        raise DataError(f"{len(pred_docs)} predicted docs for {len(gold_docs)} gold docs")
    examples = [Example(p, g) for p, g in zip(pred_docs, gold_docs)]
    s = Scorer.score_spans(examples, "ents")
    support = Counter(e.label_ for g in gold_docs for e in g.ents)
    per_type = {label: TypeScores(v["p"], v["r"], v["f"], support.get(label, 0))
                for label, v in (s["ents_per_type"] or {}).items()}
    seq = seqeval_scores(pred_docs, gold_docs)
    agrees = all(abs(seq["overall"][k] - v) < 1e-9 for k, v in
                 (("precision", s["ents_p"] or 0.0), ("recall", s["ents_r"] or 0.0),
                  ("f1", s["ents_f"] or 0.0)))
    for label, ts in per_type.items():
        other = seq["per_type"].get(label, {"precision": 0.0, "recall": 0.0, "f1": 0.0})
        agrees &= all(abs(other[k] - getattr(ts, k)) < 1e-9 for k in ("precision", "recall",
                                                                       "f1"))
    return EvalReport(
        precision=s["ents_p"] or 0.0, recall=s["ents_r"] or 0.0, f1=s["ents_f"] or 0.0,
        per_type=per_type, seqeval=seq["overall"], seqeval_agrees=bool(agrees),
        confusion=confusion(pred_docs, gold_docs), docs=len(gold_docs),
        tokens=sum(len(d) for d in gold_docs), gold_entities=sum(support.values()),
        predicted_entities=sum(len(p.ents) for p in pred_docs))


def seqeval_scores(pred_docs: Iterable, gold_docs: Iterable) -> dict:
    """seqeval's strict IOB2 precision/recall/F1, overall and per type, one sequence per doc."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    y_pred = [doc_tags(d) for d in pred_docs]
    y_true = [doc_tags(d) for d in gold_docs]
    rep = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True,
                                zero_division=0)
    per_type = {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"]}
                for k, v in rep.items() if not k.endswith(" avg")}
    micro = rep.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {"overall": {"precision": float(micro["precision"]), "recall": float(micro["recall"]),
                        "f1": float(micro["f1-score"])},
            "per_type": per_type}


def confusion(pred_docs: Iterable, gold_docs: Iterable) -> dict[str, dict[str, int]]:
    """For each gold entity, the predicted label on exactly its tokens (``(none)`` if none);
    predicted entities with no gold entity on their tokens count in the ``(none)`` row.

    A prediction that overlaps a gold entity with different boundaries is a boundary error:
    it shows as ``gold -> (none)`` and ``(none) -> predicted``, as the exact-span scorer sees it.
    """
    table: dict[str, Counter] = {}
    for p, g in zip(pred_docs, gold_docs):
        pred = {(e.start, e.end): e.label_ for e in p.ents}
        gold = {(e.start, e.end): e.label_ for e in g.ents}
        for span, label in gold.items():
            table.setdefault(label, Counter())[pred.get(span, NONE)] += 1
        for span, label in pred.items():
            if span not in gold:
                table.setdefault(NONE, Counter())[label] += 1
    return {g: dict(sorted(row.items())) for g, row in sorted(table.items())}


def render_html(pred_docs: list, gold_docs: list, n: int = 10) -> str:
    """A displaCy entity page: the first ``n`` documents, prediction above gold for each."""
    from spacy import displacy

    pages = []
    for i, (p, g) in enumerate(zip(pred_docs[:n], gold_docs[:n])):
        for doc, kind in ((p, "predicted"), (g, "gold")):
            ents = [{"start": e.start_char, "end": e.end_char, "label": e.label_}
                    for e in doc.ents]
            pages.append({"text": doc.text, "ents": ents, "title": f"document {i + 1}: {kind}"})
    return displacy.render(pages, style="ent", manual=True, page=True, jupyter=False)


def load_pipeline(model: str | os.PathLike):
    """``spacy.load`` with a one-line error when ``model`` is not a pipeline folder."""
    import spacy

    path = Path(model)
    for folder in (path, path / "model-best"):
        with contextlib.suppress(OSError):  # a read-only folder: load what is there
            recover_dir(folder)  # a save killed mid-swap: put the complete copy back
    if path.is_dir() and (path / "model-best").is_dir() and not (path / "meta.json").exists():
        path = path / "model-best"  # a training output folder: take its best model
    if not (path / "meta.json").is_file() and not (path / "config.cfg").is_file():
        raise DataError(f"{model}: not a spaCy pipeline folder (no meta.json/config.cfg)")
    try:
        return spacy.load(path)
    except (OSError, ValueError) as e:
        raise NanonlpError(f"{model}: spaCy could not load it: {str(e).splitlines()[0]}") from None


@dataclass
class EvaluateConfig:
    model: str = ""  # a pipeline folder, or a training folder (its model-best/ is used)
    data: str = ""  # gold data: .spacy DocBin, conll2003:SPLIT, .jsonl or a column file
    scheme: Literal["bio", "iob1", "bilou"] = "bio"  # tag scheme when data is a column file
    report: str | None = None  # write the JSON report here
    html: str | None = None  # write a displaCy HTML page of sample predictions here
    predictions: str | None = None  # write token / gold / predicted CoNLL columns here
    n_html: int = 10  # documents in the HTML page
    batch_size: int = 64  # docs per nlp.pipe batch

    def __post_init__(self):
        from nanonlp.errors import ConfigError

        if not self.model or not self.data:
            raise ConfigError("evaluate needs a model folder and a .spacy data file")
        if self.n_html < 0 or self.batch_size < 1:
            raise ConfigError(f"n_html must be >= 0 and batch_size >= 1, got {self.n_html}, "
                              f"{self.batch_size}")


def read_gold(data: str, nlp, scheme: str = "bio") -> list:
    """Gold docs from a DocBin, or from any input ``nanonlp ner convert`` reads."""
    from nanonlp.ner.convert import ConvertConfig, ConvertReport, read_docs

    if Path(data).suffix == ".spacy":
        return load_docbin(data, nlp.vocab)
    # The same readers as `ner convert`; the output name only satisfies the config's check.
    cfg = ConvertConfig(input=data, output="gold.spacy", scheme=scheme)
    return list(read_docs(cfg, nlp, ConvertReport()))


def evaluate(model, data, *, scheme: str = "bio", batch_size: int = 64) -> EvalReport:
    """Entity P/R/F1, overall and per type, of a pipeline on gold data: the same shape as
    every part's ``evaluate``.

    ``model`` is a pipeline folder (or a training folder: its ``model-best``) or a loaded
    ``Language``; ``data`` is anything ``nanonlp ner convert`` reads (a ``.spacy`` DocBin,
    ``conll2003:SPLIT``, JSONL, a column file in ``scheme``) or a list of gold ``Doc``.
    """
    return _evaluate(model, data, scheme, batch_size)[0]


def _evaluate(model, data, scheme: str, batch_size: int) -> tuple[EvalReport, list, list]:
    """The report, the predicted docs and the gold docs."""
    import time

    nlp = load_pipeline(model) if isinstance(model, str | os.PathLike) else model
    gold = read_gold(str(data), nlp, scheme) if isinstance(data, str | os.PathLike) \
        else list(data)
    if not any(len(doc) for doc in gold):
        raise DataError(f"{data if isinstance(data, str | os.PathLike) else 'data'}: no "
                        "documents with tokens to evaluate on")
    start = time.perf_counter()
    pred = predict(nlp, gold, batch_size)
    seconds = time.perf_counter() - start
    report = score(pred, gold)
    report.words_per_second = report.tokens / seconds if seconds > 0 else 0.0
    if isinstance(model, str | os.PathLike):
        report.model = str(model)
    if isinstance(data, str | os.PathLike):
        report.data = str(data)
    return report, pred, gold


def evaluate_to_files(config: EvaluateConfig) -> EvalReport:
    """What ``nanonlp ner evaluate`` does: :func:`evaluate`, then the optional JSON report,
    displaCy HTML page and token / gold / predicted columns, each written whole."""
    from nanonlp.ner.convert import write_conll

    report, pred, gold = _evaluate(config.model, config.data, config.scheme, config.batch_size)
    if config.report:
        report.save(config.report)
    if config.html:
        with atomic_write(config.html) as f:
            f.write(render_html(pred, gold, config.n_html))
    if config.predictions:
        write_conll(pred, config.predictions, gold=gold)
    return report
