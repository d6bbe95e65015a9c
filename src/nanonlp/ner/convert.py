"""Converters between annotated text files and spaCy ``DocBin`` training data, and back.

Inputs:

* CoNLL-2003 through :func:`nanonlp.datasets.load` (IOB1 converted to BIO by the reader);
* generic column files (:func:`nanonlp.datasets.readers.read_conll`, the one column reader):
  pick the token and tag columns, tags in BIO, IOB1 or BILOU, blank lines between sentences,
  ``-DOCSTART-`` lines between documents;
* JSONL (:func:`read_jsonl`): ``{"text": ..., "entities": [[start, end, label], ...]}`` with
  character offsets, tokenised by spaCy's English tokenizer.

Sentences are grouped into documents of ``n_sents`` sentences (the idea of ``spacy convert
-n``), never across a ``-DOCSTART-`` boundary, so the model sees some context and training
batches are not dominated by one-word headlines. Output back to columns is :func:`docs_to_conll`.

Nothing is dropped silently: a malformed line or a tag that breaks its scheme raises
:class:`DataError` naming ``file:line``, and a JSONL entity whose offsets do not fall on token
boundaries is either an error (default) or snapped to tokens and listed in the report.
What is left out: nested or overlapping entities (spaCy's ``ner`` cannot represent them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, pairwise
from pathlib import Path
from typing import Literal

from nanonlp.datasets.readers import read_conll
from nanonlp.datasets.records import TaggedSentence
from nanonlp.datasets.tags import (  # noqa: F401  (re-exports the scheme functions, as before)
    PREFIXES,
    SCHEMES,
    Scheme,
    bilou_to_bio,
    bio_spans,
    check_bio,
    split_tag,
    to_bio,
)
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, iter_json_lines

# ---------------------------------------------------------------------------------------------
# Readers


@dataclass
class ConvertReport:
    """What a conversion produced, including everything it had to adjust."""

    docs: int = 0  # documents written
    sentences: int = 0  # sentences (column input) or texts (JSONL input) read
    tokens: int = 0
    entities: dict[str, int] = field(default_factory=dict)  # entity count per label
    empty: int = 0  # empty documents or texts (not written: they carry no training signal)
    adjusted: list[str] = field(default_factory=list)  # "file:line: ..." for snapped spans

    def add_doc(self, doc) -> None:
        self.docs += 1
        self.tokens += len(doc)
        for ent in doc.ents:
            self.entities[ent.label_] = self.entities.get(ent.label_, 0) + 1


def sentences_to_docs(sentences: Iterable[TaggedSentence], vocab, n_sents: int = 10,
                      report: ConvertReport | None = None) -> Iterator:
    """Group BIO-tagged sentences into spaCy ``Doc`` objects of up to ``n_sents`` sentences.

    A group never crosses a change of ``doc`` (a ``-DOCSTART-`` boundary). Sentence starts are
    kept on the tokens, so :func:`docs_to_conll` can write the sentences back.
    """
    from spacy.tokens import Doc

    if n_sents < 1:
        raise ConfigError(f"n_sents must be >= 1, got {n_sents}")
    report = report if report is not None else ConvertReport()
    group: list[TaggedSentence] = []

    def flush():
        words = [w for s in group for w in s.tokens]
        starts = [i == 0 for s in group for i in range(len(s.tokens))]
        ents = [t for s in group for t in s.tags]
        group.clear()
        doc = Doc(vocab, words=words, sent_starts=starts, ents=ents)
        report.add_doc(doc)
        return doc

    for sent in sentences:
        report.sentences += 1
        if group and (sent.doc != group[-1].doc or len(group) == n_sents):
            yield flush()
        group.append(sent)
    if group:
        yield flush()


def read_jsonl(path: str | os.PathLike, nlp, *, misaligned: str = "error",
               report: ConvertReport | None = None) -> Iterator:
    """Yield ``Doc`` objects from ``{"text": ..., "entities": [[start, end, label], ...]}`` lines.

    ``misaligned`` says what to do with an entity whose character offsets do not fall on token
    boundaries: ``"error"`` raises :class:`DataError` listing every such span with its line;
    ``"expand"`` / ``"contract"`` snap it to the covering / covered tokens and record each
    adjustment in ``report.adjusted``. Overlapping entities are always an error.
    """
    if misaligned not in ("error", "expand", "contract"):
        raise ConfigError(f"misaligned must be error, expand or contract, got {misaligned!r}")
    report = report if report is not None else ConvertReport()
    problems: list[str] = []
    for where, record in iter_json_lines(path):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(f'{where}: expected an object with a "text" string')
        text = record["text"]
        entities = record.get("entities", [])
        if not isinstance(entities, list):
            raise DataError(f'{where}: "entities" must be a list of [start, end, label]')
        report.sentences += 1
        doc = nlp.make_doc(text)
        spans = []
        for ent in entities:
            if (not isinstance(ent, list | tuple) or len(ent) != 3
                    or not all(isinstance(x, int) for x in ent[:2])
                    or not isinstance(ent[2], str) or not ent[2]):
                raise DataError(f"{where}: entity {ent!r} is not [start, end, label]")
            start, end, label = ent
            if not 0 <= start < end <= len(text):
                raise DataError(f"{where}: entity {ent!r} is outside the text "
                                f"(length {len(text)}) or empty")
            span = doc.char_span(start, end, label=label)
            if span is None:
                tokens = " | ".join(t.text for t in doc if t.idx < end and t.idx + len(t) > start)
                msg = (f"{where}: entity [{start}, {end}, {label!r}] = {text[start:end]!r} does "
                       f"not align with token boundaries (tokens: {tokens!r})")
                if misaligned == "error":
                    problems.append(msg)
                    continue
                span = doc.char_span(start, end, label=label, alignment_mode=misaligned)
                if span is None or not len(span):
                    problems.append(msg + f"; {misaligned} leaves no tokens")
                    continue
                report.adjusted.append(f"{msg}; {misaligned}ed to {span.text!r}")
            spans.append(span)
        spans.sort(key=lambda s: s.start)
        for a, b in pairwise(spans):
            if b.start < a.end:
                raise DataError(f"{where}: entities {a.text!r} ({a.label_}) and {b.text!r} "
                                f"({b.label_}) overlap; spaCy's ner needs disjoint entities")
        if problems:
            continue
        doc.ents = spans
        if not len(doc):
            report.empty += 1
            continue
        report.add_doc(doc)
        yield doc
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DataError(f"{len(problems)} misaligned entit{'y' if len(problems) == 1 else 'ies'}"
                        f"; fix the offsets or pass misaligned=expand|contract: "
                        + "; ".join(problems[:5]) + more)


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class ConvertConfig:
    input: str = ""  # .conll/.txt column file, .jsonl, .spacy DocBin, or conll2003:SPLIT
    output: str = ""  # .spacy (DocBin) or .conll (token and tag columns)
    format: Literal["auto", "conll2003", "columns", "jsonl", "docbin"] = "auto"  # input format
    scheme: Literal["bio", "iob1", "bilou"] = "bio"  # tag scheme of a column file
    token_column: int = 0  # column holding the token (0-based; negative counts from the end)
    tag_column: int = -1  # column holding the tag (CoNLL-2003's NER tag is the last)
    n_sents: int = 10  # sentences per document (spaCy's `convert -n`); -DOCSTART- always splits
    misaligned: Literal["error", "expand", "contract"] = "error"  # JSONL spans off token edges

    def __post_init__(self):
        if not self.input:
            raise ConfigError("convert needs an input file (or conll2003:train|dev|test)")
        if not self.output:
            raise ConfigError("convert needs an output file (.spacy or .conll)")
        if Path(self.output).suffix not in (".spacy", ".conll", ".txt", ".tsv"):
            raise ConfigError(f"output {self.output!r}: expected a .spacy or .conll file")
        if self.n_sents < 1:
            raise ConfigError(f"n_sents must be >= 1, got {self.n_sents}")

    def input_format(self) -> str:
        if self.format != "auto":
            return self.format
        if self.input.startswith("conll2003:"):
            return "conll2003"
        suffix = Path(self.input).suffix
        return {".jsonl": "jsonl", ".spacy": "docbin"}.get(suffix, "columns")


def read_docs(config: ConvertConfig, nlp, report: ConvertReport) -> Iterator:
    """Yield the ``Doc`` objects of ``config.input`` in its format."""
    fmt = config.input_format()
    if fmt == "conll2003":
        from nanonlp import datasets

        split = config.input.partition(":")[2] or "train"
        yield from sentences_to_docs(datasets.load("conll2003", split), nlp.vocab,
                                     config.n_sents, report)
    elif fmt == "columns":
        sents = read_conll(config.input, token_column=config.token_column,
                           tag_column=config.tag_column, scheme=config.scheme)
        yield from sentences_to_docs(sents, nlp.vocab, config.n_sents, report)
    elif fmt == "jsonl":
        yield from read_jsonl(config.input, nlp, misaligned=config.misaligned, report=report)
    else:
        for doc in load_docbin(config.input, nlp.vocab):
            report.add_doc(doc)
            yield doc


def convert(config: ConvertConfig) -> ConvertReport:
    """Convert ``config.input`` to ``config.output`` (a DocBin or CoNLL columns); atomic."""
    import spacy

    nlp = spacy.blank("en")
    report = ConvertReport()
    docs = read_docs(config, nlp, report)
    first = next(docs, None)
    if first is None:  # a 0-document file trains nothing and fails later, far from the cause
        raise DataError(f"{config.input}: no documents (an empty file?); nothing written")
    docs = chain([first], docs)
    if Path(config.output).suffix == ".spacy":
        save_docbin(docs, config.output)
    else:
        write_conll(docs, config.output)
    return report


def save_docbin(docs: Iterable, path: str | os.PathLike) -> int:
    """Write docs (with their entities and sentence starts) to a DocBin file; return the count."""
    from spacy.tokens import DocBin

    db = DocBin(attrs=["ORTH", "SPACY", "ENT_IOB", "ENT_TYPE", "SENT_START"], store_user_data=False)
    for doc in docs:
        db.add(doc)
    with atomic_write(path, "wb") as f:
        f.write(db.to_bytes())
    return len(db)


def load_docbin(path: str | os.PathLike, vocab) -> list:
    """Read the docs of a DocBin file (a DataError names the file if it is not one)."""
    from spacy.tokens import DocBin

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such DocBin file")
    try:
        return list(DocBin().from_bytes(p.read_bytes()).get_docs(vocab))
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{p}: not a spaCy DocBin ({type(e).__name__}: {e})") from None


def doc_tags(doc) -> list[str]:
    """The BIO tag of each token of ``doc`` from its entities.

    >>> import spacy
    >>> from spacy.tokens import Doc
    >>> doc_tags(Doc(spacy.blank("en").vocab, words=["Ada", "Lovelace", "wrote"],
    ...              ents=["B-PER", "I-PER", "O"]))
    ['B-PER', 'I-PER', 'O']
    """
    return [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]


def docs_to_conll(docs: Iterable, gold: Iterable | None = None) -> Iterator[str]:
    """Yield CoNLL column lines: ``token [gold] tag``; blank lines between sentences.

    Each document opens with ``-DOCSTART- -X- -X- O`` and a blank line, like CoNLL-2003, so the
    output reads back with :func:`nanonlp.datasets.readers.read_conll`. With
    ``gold`` (docs with the same tokens) the middle column is the gold tag: conlleval's layout.
    """
    golds = iter(gold) if gold is not None else None
    for doc in docs:
        gdoc = next(golds) if golds is not None else None
        if gdoc is not None and [t.text for t in gdoc] != [t.text for t in doc]:
            raise DataError("prediction and gold documents have different tokens")
        yield "-DOCSTART- -X- -X- O" if gdoc is not None else "-DOCSTART- O"
        yield ""
        tags = doc_tags(doc)
        gtags = doc_tags(gdoc) if gdoc is not None else None
        sents = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        for sent in sents:
            for tok in sent:
                cols = [tok.text] + ([gtags[tok.i]] if gtags else []) + [tags[tok.i]]
                yield " ".join(cols)
            yield ""


def write_conll(docs: Iterable, path: str | os.PathLike, gold: Iterable | None = None) -> None:
    """Write :func:`docs_to_conll` lines to ``path`` atomically."""
    with atomic_write(path) as f:
        for line in docs_to_conll(docs, gold):
            f.write(line + "\n")
