"""Your own labelled files: sentence labels from TSV, CSV or JSONL, word tags from CoNLL-style
column files, and sentence pairs for contrastive training. Pure readers, checked strictly.

* :func:`read_labelled`: one example per row. TSV (tab-separated, no quoting: GLUE's
  format) and CSV (RFC 4180 quoting) may start with a header row naming the columns; a
  headerless two-column file is ``text<TAB>label``. JSONL holds one object per line,
  ``{"text": ..., "label": ...}``, optionally with ``"text_pair"``. Columns are picked by name
  or 0-based index. A row with a second text gives a
  :class:`~nanonlp.datasets.records.PairExample`, else an
  :class:`~nanonlp.datasets.records.Example`; either carries ``id = "file:line"``, so later
  checks can name the line.
* :func:`read_tagged`: the one column reader (:func:`nanonlp.datasets.readers.read_conll`:
  BIO, IOB1 or BILOU, converted to BIO), refusing an empty file.
* :func:`read_pairs`: ``anchor<TAB>positive`` per line, or one sentence per line (its own
  positive: SimCSE's dropout noise).
* :func:`check_labels` and :func:`check_tags`: the label set a model learns is the training
  file's; a label (or entity type) that only dev or test has, and a training file with one
  class, are errors naming the file and line.

Every problem is a :class:`~nanonlp.errors.DataError` whose one line names the file, the
line and the value: a missing or empty column, a ragged row, invalid UTF-8, a NUL byte, a
JSON label that is not a string or an integer, an empty file. A UTF-8 byte order mark is
dropped.
Left out: guessing a delimiter other than the file name's (``.csv`` is comma, anything else
tab), and multi-label rows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

from nanonlp.datasets.readers import read_conll
from nanonlp.datasets.records import Example, PairExample, TaggedSentence
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import iter_json_lines, iter_lines, read_text

#: header names taken for each column when no flag names it (the first one present wins)
TEXT_NAMES = ("text", "sentence", "sentence1")
PAIR_NAMES = ("text_pair", "sentence2")
LABEL_NAMES = ("label",)

PathLike = str | os.PathLike
BOM = "\ufeff"  # what some editors write first in a UTF-8 file; never part of the text


def file_format(path: PathLike) -> str:
    """``csv``, ``jsonl`` or ``tsv``, from the file name (a compression suffix is looked
    through); anything not ``.csv`` or ``.jsonl``/``.json``/``.ndjson`` is tab-separated.

    >>> [file_format(p) for p in ("a.csv.gz", "b.jsonl", "c.tsv", "d.txt")]
    ['csv', 'jsonl', 'tsv', 'tsv']
    """
    suffixes = [s.lower() for s in Path(os.fspath(path).split("::")[-1]).suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}.get(
        last, "tsv")


def column_index(spec: str, header: list[str] | None, n: int, where: str, what: str) -> int:
    """The 0-based index of column ``spec``: a number (negative counts from the end) or a
    name in ``header``.

    >>> column_index("review", ["id", "review", "label"], 3, "x.tsv:1", "text")
    1
    >>> column_index("-1", None, 3, "x.tsv:1", "label")
    2
    >>> column_index("mood", ["text", "label"], 2, "x.tsv:1", "label")
    Traceback (most recent call last):
    nanonlp.errors.DataError: x.tsv:1: no label column 'mood'; the header has ['text', 'label']
    """
    if _is_index(spec):
        i = int(spec)
        if not -n <= i < n:
            raise DataError(f"{where}: no {what} column {spec} in rows of {n} columns")
        return i % n
    if header is None:
        raise DataError(f"{where}: {what} column {spec!r} is a name, but the file has no "
                        "header row; give its index")
    if spec not in header:
        raise DataError(f"{where}: no {what} column {spec!r}; the header has {header}")
    return header.index(spec)


def _is_index(spec: str) -> bool:
    return spec.lstrip("-").isdigit()


def _rows(path: PathLike, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of the non-blank rows of a TSV or CSV file (cells stripped; a UTF-8
    byte order mark that an editor put before the first cell is dropped)."""
    if fmt == "tsv":
        for lineno, line in iter_lines(path):
            if lineno == 1:
                line = line.removeprefix(BOM)
            if line.strip():
                yield lineno, [c.strip() for c in line.split("\t")]
        return
    reader = csv.reader(io.StringIO(read_text(path).removeprefix(BOM), newline=""))
    start = 1
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                yield start, [c.strip() for c in cells]
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{os.fspath(path)}:{reader.line_num}: bad CSV ({e})") from None


def read_labelled(path: PathLike, *, text_column: str | None = None,
                  text_pair_column: str | None = None, label_column: str | None = None,
                  header: bool | None = None) -> list[Example | PairExample]:
    """The labelled examples of a TSV, CSV or JSONL file (see the module docstring).

    ``header=None`` takes the first row for a header when it holds a column name that a
    flag gives or one of the usual names (``text``, ``sentence``, ``label``, ...). Without a
    header, two columns are text and label; more need ``text_column`` and ``label_column``.

    >>> _ = Path("train.tsv").write_text("a fine film\\tpos\\nawful\\tneg\\n")
    >>> for example in read_labelled("train.tsv"):
    ...     print(example)
    Example(text='a fine film', label='pos', id='train.tsv:1')
    Example(text='awful', label='neg', id='train.tsv:2')
    >>> _ = Path("pairs.csv").write_text('id,q1,q2,same\\n7,"Hi, you",hello,yes\\n')
    >>> read_labelled("pairs.csv", text_column="q1", text_pair_column="q2", label_column="same")
    [PairExample(text='Hi, you', text_pair='hello', label='yes', id='pairs.csv:2')]
    >>> _ = Path("bad.tsv").write_text("good\\tpos\\nbad\\n")
    >>> read_labelled("bad.tsv")
    Traceback (most recent call last):
    nanonlp.errors.DataError: bad.tsv:2: 1 column, expected 2 like line 1
    """
    fmt = file_format(path)
    if fmt == "jsonl":
        out = _read_jsonl(path, text_column, text_pair_column, label_column)
    else:
        out = _read_table(path, fmt, text_column, text_pair_column, label_column, header)
    if not out:
        raise DataError(f"{os.fspath(path)}: no examples (an empty file)")
    return out


def _read_table(path: PathLike, fmt: str, text_spec: str | None, pair_spec: str | None,
                label_spec: str | None, header: bool | None) -> list[Example | PairExample]:
    name = os.fspath(path)
    rows = _rows(path, fmt)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{name}: no examples (an empty file)")
    line1, cells1 = first
    n, where = len(cells1), f"{name}:{line1}"
    specs = [s for s in (text_spec, pair_spec, label_spec) if s is not None]
    if header is None:
        named = [s for s in specs if not _is_index(s)]
        usual = set(TEXT_NAMES + PAIR_NAMES + LABEL_NAMES)
        header = bool(named) or any(c in usual for c in cells1)
    names = cells1 if header else None

    def pick(spec: str | None, usual: tuple[str, ...], what: str) -> int | None:
        if spec is not None:
            return column_index(spec, names, n, where, what)
        if names is not None:
            return next((names.index(u) for u in usual if u in names), None)
        return None

    ti = pick(text_spec, TEXT_NAMES, "text")
    pi = pick(pair_spec, PAIR_NAMES, "text_pair")
    li = pick(label_spec, LABEL_NAMES, "label")
    if names is None and n == 2 and text_spec is None and label_spec is None:
        ti, li = 0, 1  # the headerless two-column file: text<TAB>label
    if ti is None or li is None:
        missing = "text" if ti is None else "label"
        has = f"the header has {names}" if names is not None else f"no header and {n} columns"
        raise DataError(f"{where}: which column holds the {missing}? {has}; name it with "
                        f"--{missing}_column")
    cols = {"text": ti, "label": li, **({"text_pair": pi} if pi is not None else {})}
    if len(set(cols.values())) < len(cols):
        raise DataError(f"{where}: the text, text_pair and label columns must differ, got "
                        f"{cols}")
    body = rows if header else iter([first, *rows])
    out: list[Example | PairExample] = []
    for lineno, cells in body:
        if len(cells) != n:
            s = "" if len(cells) == 1 else "s"
            raise DataError(f"{name}:{lineno}: {len(cells)} column{s}, expected {n} like "
                            f"line {line1}")
        value = {}
        for what, i in cols.items():
            col = repr(names[i]) if names else i
            if not cells[i]:
                raise DataError(f"{name}:{lineno}: empty {what} (column {col})")
            if "\0" in cells[i]:  # a binary file, or a cut-and-paste accident: never text
                raise DataError(f"{name}:{lineno}: a NUL byte in the {what} (column {col})")
            value[what] = cells[i]
        out.append(_example(value, f"{name}:{lineno}"))
    if not out:
        raise DataError(f"{where}: a header row and no examples")
    return out


def _example(value: dict[str, str], where: str) -> Example | PairExample:
    if "text_pair" in value:
        return PairExample(value["text"], value["text_pair"], value["label"], where)
    return Example(value["text"], value["label"], where)


def _read_jsonl(path: PathLike, text_spec: str | None, pair_spec: str | None,
                label_spec: str | None) -> list[Example | PairExample]:
    name = os.fspath(path)
    for flag, spec in (("text_column", text_spec), ("text_pair_column", pair_spec),
                       ("label_column", label_spec)):
        if spec is not None and _is_index(spec):
            raise ConfigError(f"{name}: JSONL fields have names, not places: --{flag} {spec}")
    keys = {"text": text_spec or "text", "label": label_spec or "label"}
    out: list[Example | PairExample] = []
    for where, obj in iter_json_lines(path):
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {json.dumps(obj)[:40]}")
        # the first record decides whether the file holds pairs
        if not out and (pair_spec is not None or "text_pair" in obj):
            keys["text_pair"] = pair_spec or "text_pair"
        value = {}
        for what, key in keys.items():
            if key not in obj:
                raise DataError(f"{where}: no {key!r} field" + (
                    " (the first record has one: every record needs it)"
                    if what == "text_pair" and pair_spec is None else ""))
            v = obj[key]
            if what == "label" and (isinstance(v, bool) or not isinstance(v, (str, int))):
                # a float (NaN included) or true would become a class named "1.5" or "NaN"
                raise DataError(f"{where}: {key!r} must be a string or an integer, got "
                                f"{json.dumps(v)[:40]}")
            if what == "label" and isinstance(v, int):
                v = str(v)  # 1 -> "1": labels are names
            if not isinstance(v, str):
                raise DataError(f"{where}: {key!r} must be a string, got {json.dumps(v)[:40]}")
            if not v.strip():
                raise DataError(f"{where}: empty {key!r}")
            if "\0" in v:
                raise DataError(f"{where}: a NUL byte in {key!r}")
            value[what] = v.strip()
        out.append(_example(value, where))
    return out


def read_tagged(path: PathLike, *, token_column: int = 0, tag_column: int = -1,
                scheme: str = "bio") -> list[TaggedSentence]:
    """The BIO-tagged sentences of a CoNLL-style column file (any tag names), read by the
    one column reader, :func:`~nanonlp.datasets.readers.read_conll`; an empty file is an
    error.

    >>> _ = Path("dev.conll").write_text("Ada B-PER\\nLovelace L-PER\\n\\nParis U-LOC\\n")
    >>> for sentence in read_tagged("dev.conll", scheme="bilou"):
    ...     print(sentence.tokens, sentence.tags)
    ['Ada', 'Lovelace'] ['B-PER', 'I-PER']
    ['Paris'] ['B-LOC']
    """
    out = list(read_conll(path, token_column=token_column, tag_column=tag_column,
                          scheme=scheme))
    if not out:
        raise DataError(f"{os.fspath(path)}: no sentences (an empty file)")
    return out


def holdout(records: list, fraction: float, split: str) -> list:
    """The ``val`` or ``train`` part of records with no dev split (a data set, your file,
    conversations): shuffled once (seed 0), the first ``fraction`` held out.

    >>> holdout(list(range(10)), 0.2, "val"), holdout(list(range(10)), 0.2, "train")
    ([7, 8], [1, 5, 3, 4, 2, 0, 9, 6])
    """
    order = list(range(len(records)))
    random.Random(0).shuffle(order)
    n_dev = max(1, int(len(records) * fraction))
    keep = order[:n_dev] if split == "val" else order[n_dev:]
    return [records[i] for i in keep]


def read_pairs(path: PathLike) -> list[tuple[str, str]]:
    """``(anchor, positive)`` per non-blank line: ``anchor<TAB>positive``, or a lone sentence
    that is its own positive (SimCSE's unsupervised form); a file mixing the two is refused.

    >>> _ = Path("p.tsv").write_text("a cat sat\\ta cat was sitting\\n")
    >>> read_pairs("p.tsv")
    [('a cat sat', 'a cat was sitting')]
    """
    name = os.fspath(path)
    out, n, line1 = [], None, 0
    for lineno, cells in _rows(path, "tsv"):
        if n is None:
            n, line1 = len(cells), lineno
            if n > 2:
                raise DataError(f"{name}:{lineno}: {n} columns; expected anchor<TAB>positive "
                                "or one sentence per line")
        if len(cells) != n:
            raise DataError(f"{name}:{lineno}: {len(cells)} column{'' if len(cells) == 1 else 's'}"
                            f", expected {n} like line {line1}")
        if not all(cells):
            raise DataError(f"{name}:{lineno}: empty {'anchor' if not cells[0] else 'positive'}")
        out.append((cells[0], cells[-1]))
    if not out:
        raise DataError(f"{name}: no sentences (an empty file)")
    return out


def check_labels(train: Sequence[Example | PairExample], where: str) -> list[str]:
    """The sorted label set of the training examples; one class is an error.

    >>> check_labels([Example("a", "pos"), Example("b", "neg")], "train.tsv")
    ['neg', 'pos']
    >>> check_labels([Example("a", "pos", "train.tsv:1")], "train.tsv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.DataError: train.tsv: every example has label 'pos'; a classifier needs ...
    """
    labels = sorted({r.label for r in train if r.label is not None})
    if len(labels) < 2:
        found = f"label {labels[0]!r}" if labels else "no label"
        raise DataError(f"{where}: every example has {found}; a classifier needs two or more "
                        "labels")
    return labels


def label_set(train: Sequence, task_kind: str, where: str) -> list[str]:
    """The sorted labels a model learns from its training records: the classes of a
    ``sequence`` task (:func:`check_labels`) or the BIO tags of a ``token`` task
    (:func:`tag_labels`). The one place a label set is worked out, so a named data set and
    your own file get the same set, in the same order, for the same records.

    >>> label_set([TaggedSentence(["Ada"], ["B-PER"]), TaggedSentence(["x"], ["O"])], "token", "t")
    ['B-PER', 'I-PER', 'O']
    """
    return check_labels(train, where) if task_kind == "sequence" else tag_labels(train, where)


def check_known_labels(records: Sequence[Example | PairExample], labels: Sequence[str],
                       where: str) -> None:
    """Refuse a dev/test example whose label the training file never has (naming its line).

    >>> check_known_labels([Example("meh", "neutral", "dev.tsv:3")], ["neg", "pos"], "dev")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.DataError: dev.tsv:3: label 'neutral' is not among the training labels ...
    """
    known = set(labels)
    for k, r in enumerate(records):
        if r.label not in known:
            raise DataError(f"{r.id or f'{where} (item {k})'}: label {r.label!r} is not among "
                            f"the training labels {list(labels)}")


def tag_labels(train: Sequence[TaggedSentence], where: str) -> list[str]:
    """The BIO tags a tagger learns: ``O`` and ``B-``/``I-`` of every entity type in the
    training sentences (a type seen only as ``B-`` still gets ``I-``); no entity is an error.

    >>> tag_labels([TaggedSentence(["Ada", "wrote"], ["B-PER", "O"])], "train.conll")
    ['B-PER', 'I-PER', 'O']
    """
    types = sorted({t[2:] for s in train for t in s.tags if t != "O"})
    if not types:
        raise DataError(f"{where}: every tag is 'O'; a tagger needs at least one entity type")
    return sorted(["O", *(f"{p}-{t}" for t in types for p in "BI")])


def check_tags(sentences: Sequence[TaggedSentence], labels: Sequence[str],
               path: PathLike) -> None:
    """Refuse a tag outside ``labels`` (an entity type the training file lacks), naming the
    line of ``path`` it is on."""
    known = set(labels)
    for s in sentences:
        for i, tag in enumerate(s.tags):
            if tag not in known:
                line = s.line + i if s.line else 0
                types = sorted({t[2:] for t in labels if t != "O"})
                raise DataError(f"{os.fspath(path)}:{line}: tag {tag!r} (word {s.tokens[i]!r}) "
                                f"is of a type the training file lacks (it has {types})")
