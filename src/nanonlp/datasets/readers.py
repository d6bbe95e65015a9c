"""Strict readers for the file formats of the named data sets.

Each reader streams one file (or a pair of files) and yields typed records from
:mod:`nanonlp.datasets.records`. Readers are deliberately unforgiving: a line with the wrong
number of columns, an unknown tag or a non-numeric score raises :class:`DataError` with
``file:line`` in its message, because a silently skipped line is a silently wrong benchmark.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from nanonlp.datasets.records import Analogy, Example, Pair, ScoredPair, TaggedSentence
from nanonlp.datasets.tags import PREFIXES, SCHEMES, iob1_to_bio, split_tag, to_bio  # noqa: F401
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import iter_lines, iter_text_chunks, read_text  # noqa: F401

PathLike = str | os.PathLike


def read_lines(path: PathLike, *, skip_empty: bool = False) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file without their line ends."""
    for _, line in iter_lines(path):
        if skip_empty and not line.strip():
            continue
        yield line


def read_word_chunks(path: PathLike, words_per_chunk: int = 10_000) -> Iterator[str]:
    """Yield a one-line corpus (text8) as strings of ``words_per_chunk`` words.

    text8 has no sentence boundaries; gensim's ``Text8Corpus`` cuts it every 10,000 words
    and so do we, so that both word2vec backends see the same "sentences".
    """
    if words_per_chunk < 1:
        raise DataError(f"words_per_chunk must be >= 1, got {words_per_chunk}")
    pending: list[str] = []
    for chunk in iter_text_chunks(path):
        pending.extend(chunk.split())
        while len(pending) >= words_per_chunk:
            yield " ".join(pending[:words_per_chunk])
            del pending[:words_per_chunk]
    if pending:
        yield " ".join(pending)


def read_tsv_pairs(path: PathLike, *, swap: bool = False) -> Iterator[Pair]:
    """Yield :class:`Pair` from ``source<TAB>target`` lines (extra columns are an error)."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
            raise DataError(
                f"{os.fspath(path)}:{lineno}: expected 2 non-empty tab-separated columns, "
                f"got {len(cols)}: {line[:60]!r}"
            )
        yield Pair(cols[1], cols[0]) if swap else Pair(cols[0], cols[1])


def read_parallel(source: PathLike, target: PathLike) -> Iterator[Pair]:
    """Yield :class:`Pair` from two line-aligned files; differing line counts are an error."""
    src, tgt = iter_lines(source), iter_lines(target)
    n = 0
    while True:
        s, t = next(src, None), next(tgt, None)
        if s is None and t is None:
            return
        if s is None or t is None:
            longer = source if s is not None else target
            raise DataError(
                f"parallel files differ in length: {os.fspath(longer)} has more than {n} lines "
                f"({os.fspath(source)} vs {os.fspath(target)})"
            )
        n += 1
        yield Pair(s[1], t[1])


def read_conll(path: PathLike, *, token_column: int = 0, tag_column: int = -1,
               scheme: str = "bio", n_columns: int | None = None) -> Iterator[TaggedSentence]:
    """Yield :class:`TaggedSentence` from a CoNLL-style column file, tags converted to BIO.

    The one column reader: the CoNLL-2003 data set, ``ner convert`` and ``bert finetune
    --task token`` all read through it. Sentences are separated by blank lines; a line whose
    *first column* is ``-DOCSTART-`` opens a new document (matching on the first column
    matters: CoNLL-2003's ``eng.testb`` writes the marker as ``-DOCSTART- -X- -X- O``), and
    documents are numbered from 0 in the order they hold sentences. ``scheme`` is the file's
    tag scheme (bio, iob1 or bilou); every line has ``n_columns`` columns, or as many as the
    first line when None. Each sentence records the line it starts on (1-based, as editors
    count), and every error names ``file:line`` of the offending token.

    >>> _ = Path("dev.conll").write_text("-DOCSTART- O\\n\\nAda B-PER\\nLovelace L-PER\\n\\n"
    ...                                  "Paris U-LOC\\n")
    >>> for s in read_conll("dev.conll", scheme="bilou"):
    ...     print(s.tokens, s.tags, s.doc, s.line)
    ['Ada', 'Lovelace'] ['B-PER', 'I-PER'] 0 3
    ['Paris'] ['B-LOC'] 0 6
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    name = os.fspath(path)
    doc, doc_used, start, like = 0, False, 0, ""
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> Iterator[TaggedSentence]:
        nonlocal doc_used
        if tokens:
            try:
                bio = to_bio(tags, scheme)
            except ValueError as e:  # "... at token N ...": the file's line is start + N - 1
                m = re.search(r"token (\d+)", str(e))
                at = start + int(m.group(1)) - 1 if m else start
                raise DataError(f"{name}:{at}: {e}") from None
            yield TaggedSentence(list(tokens), list(bio), doc, start)
            doc_used = True
            tokens.clear()
            tags.clear()

    for lineno, line in iter_lines(path):
        cols = line.split()
        if not cols:
            yield from flush()
            continue
        if cols[0] == "-DOCSTART-":
            yield from flush()
            if doc_used:  # an empty document (two markers in a row) takes no number
                doc, doc_used = doc + 1, False
            continue
        if n_columns is None:
            n_columns = len(cols)
            like = " like the lines before"
        if len(cols) != n_columns:
            raise DataError(f"{name}:{lineno}: expected {n_columns} columns{like}, got "
                            f"{len(cols)}: {line[:60]!r}")
        try:
            token, tag = cols[token_column], cols[tag_column]
        except IndexError:
            raise DataError(f"{name}:{lineno}: no column {max(token_column, tag_column)} in "
                            f"a line of {len(cols)} columns: {line[:60]!r}") from None
        try:
            split_tag(tag, PREFIXES[scheme])
        except ValueError as e:
            raise DataError(f"{name}:{lineno}: {e}") from None
        if not tokens:
            start = lineno
        tokens.append(token)
        tags.append(tag)
    yield from flush()


def read_scored_pairs(path: PathLike) -> Iterator[ScoredPair]:
    """Yield :class:`ScoredPair` from ``word1<TAB>word2<TAB>score`` lines; ``#`` lines skipped."""
    for lineno, line in iter_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            cols = line.split()
        if len(cols) != 3:
            raise DataError(
                f"{os.fspath(path)}:{lineno}: expected 'word1<TAB>word2<TAB>score', "
                f"got {len(cols)} columns: {line[:60]!r}"
            )
        try:
            score = float(cols[2])
        except ValueError:
            raise DataError(
                f"{os.fspath(path)}:{lineno}: score {cols[2]!r} is not a number"
            ) from None
        yield ScoredPair(cols[0].strip(), cols[1].strip(), score)


def read_analogies(path: PathLike) -> Iterator[Analogy]:
    """Yield :class:`Analogy` from the word2vec ``questions-words.txt`` format.

    ``: section-name`` lines open a section; every other line is four words ``a b c d``.
    """
    section = None
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            if not section:
                raise DataError(f"{os.fspath(path)}:{lineno}: empty section name")
            continue
        words = line.split()
        if len(words) != 4:
            raise DataError(
                f"{os.fspath(path)}:{lineno}: expected 4 words, got {len(words)}: {line[:60]!r}"
            )
        if section is None:
            raise DataError(f"{os.fspath(path)}:{lineno}: question before any ': section' line")
        yield Analogy(*words, section=section)


def read_labelled_tsv(path: PathLike, *, text_column: str = "sentence",
                      label_column: str | None = "label") -> Iterator[Example]:
    """Yield :class:`Example` from a TSV file with a header row (GLUE style).

    With ``label_column=None`` the file is unlabelled (GLUE test sets) and labels are ``None``.
    Surrounding whitespace of the text is stripped (SST-2 has a space before every TAB).
    """
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError(f"{os.fspath(path)}: empty file, expected a header row")
    header = first[1].split("\t")
    try:
        ti = header.index(text_column)
        li = header.index(label_column) if label_column is not None else None
    except ValueError:
        raise DataError(
            f"{os.fspath(path)}:1: header {header} lacks column "
            f"{text_column!r} or {label_column!r}"
        ) from None
    for lineno, line in lines:
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(header):
            raise DataError(
                f"{os.fspath(path)}:{lineno}: expected {len(header)} columns, got {len(cols)}"
            )
        label = cols[li].strip() if li is not None else None
        if label == "":
            raise DataError(f"{os.fspath(path)}:{lineno}: empty label")
        yield Example(cols[ti].strip(), label, f"{Path(path).name}:{lineno}")


def read_zip_members(path: PathLike, prefix: str, *, suffix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(member_name, text)`` for the zip members under ``prefix``, in sorted order.

    The archive is opened once (reopening it per member re-reads the central directory each
    time, which is quadratic in the number of members).
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{path}: not a readable zip file ({e})") from None
    with zf:
        names = sorted(
            n for n in zf.namelist() if n.startswith(prefix) and n.endswith(suffix)
            and not n.endswith("/")
        )
        for name in names:
            try:
                data = zf.read(name)
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError,
                    NotImplementedError) as e:  # CRC or stream damage, encryption, odd method
                raise DataError(f"{path}::{name}: damaged zip member ({e})") from None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                line = data.count(b"\n", 0, e.start) + 1
                raise DataError(f"{path}::{name}:{line}: not valid UTF-8") from None
            yield name, text


def read_brown(path: PathLike, *, files: Iterable[str] | None = None) -> Iterator[TaggedSentence]:
    """Yield Brown Corpus sentences as :class:`TaggedSentence` with POS tags (from ``brown.zip``).

    Each token is ``word/tag``; the split is on the *last* slash (words such as ``1/2`` contain
    one). ``doc`` counts files in sorted order (``ca01`` is 0).
    """
    wanted = set(files) if files is not None else None
    members = (
        (name, text) for name, text in read_zip_members(path, "brown/c")
        if re.fullmatch(r"brown/c[a-r]\d\d", name)  # skip cats.txt, CONTENTS, README
        and (wanted is None or name.rsplit("/", 1)[-1] in wanted)
    )
    for doc, (name, text) in enumerate(members):
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            tokens, tags = [], []
            for item in line.split():
                word, slash, tag = item.rpartition("/")
                if not slash or not word:
                    raise DataError(f"{path}::{name}:{lineno}: token {item!r} is not word/tag")
                tokens.append(word)
                tags.append(tag)
            yield TaggedSentence(tokens, tags, doc)
