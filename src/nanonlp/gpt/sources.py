"""Sources: where a corpus of documents comes from, read one raw document at a time.

A source is a comma-separated list of items, each one of:

- a file: each non-blank line of a ``.jsonl`` file is one document (the string in its
  ``text_field``; other fields are ignored), each row of a ``.parquet`` file is one (its
  ``text_field`` column, read a row group at a time, so a FineWeb file is never read whole),
  and any other file is one document, read whole as UTF-8 text;
- a folder: every file below it, hidden ones (a name starting with ``.``) left out;
- a glob (``web/*.jsonl.zst``, ``**`` reaches into subfolders).

A file may be packed as ``.gz``, ``.xz``, ``.bz2`` (the standard library) or ``.zst`` (the
``zstandard`` package), unpacked while it streams; the suffix under the packing one
(:func:`inner_suffix`) says how the file is read. Files are read in sorted path order, so the
order never depends on the disk.

:func:`iter_raw_documents` yields each document undecoded (:data:`RawDoc`: bytes, or text from
Parquet, with where it came from), so the UTF-8 decoding and the JSON parsing of
:func:`document_text` run in the encoding workers of :mod:`nanonlp.gpt.shards`, not in the one
process that reads. A named data set or plain text files given alone are not a corpus of
documents but one text (:func:`is_document_source`), which :mod:`nanonlp.gpt.data` splits by
position. Left out: text files that are one huge document (give such a text alone, which
:mod:`nanonlp.gpt.data` streams), CSV columns, JSON arrays and HTML extraction.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from nanonlp.errors import DataError
from nanonlp.fileio import open_binary, split_member

DOC_SUFFIXES = (".jsonl", ".parquet")
PACKED = {".gz", ".xz", ".bz2", ".zst"}

#: one raw document: its bytes (or text, from Parquet), file, line or row, byte offset
RawDoc = tuple[bytes | str, str, int, int]


def inner_suffix(path: str | os.PathLike) -> str:
    """The suffix under any compression suffix.

    >>> inner_suffix("a/web.jsonl.zst"), inner_suffix("b.txt"), inner_suffix("c.parquet")
    ('.jsonl', '.txt', '.parquet')
    """
    p = Path(path)
    while p.suffix in PACKED:
        p = p.with_suffix("")
    return p.suffix


def is_document_source(source: str) -> bool:
    """True when ``source`` names many documents (a folder, a glob, JSON lines or Parquet);
    a named data set or plain text files are one text, split by position.

    >>> is_document_source("tinyshakespeare"), is_document_source("web/*.txt")
    (False, True)
    """
    for item in (s.strip() for s in source.split(",") if s.strip()):
        if glob.has_magic(item) or inner_suffix(item) in DOC_SUFFIXES or Path(item).is_dir():
            return True
    return False


def expand_source(source: str) -> list[Path]:
    """The files of a comma-separated list of files, folders (every file below, hidden ones
    left out) and globs, each group sorted by path so the order never depends on the disk."""
    files: list[Path] = []
    for item in (s.strip() for s in source.split(",") if s.strip()):
        if glob.has_magic(item):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                raise DataError(f"{item}: no file matches")
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(item).parts))
            if not found:
                raise DataError(f"{item}: a folder with no files in it")
        elif split_member(item)[0].exists():
            found = [Path(item)]
        else:
            raise DataError(f"{item}: no such file, folder or glob")
        files += found
    return files


@contextlib.contextmanager
def open_packed(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """:func:`~nanonlp.fileio.open_binary`, and Zstandard (``.zst``) through ``zstandard``."""
    if Path(path).suffix != ".zst":
        with open_binary(path) as f:
            yield f
        return
    try:
        import zstandard
    except ImportError:
        raise DataError(f"{path}: reading .zst needs the zstandard package "
                        "(pip install 'nanonlp[data]')") from None
    with open(path, "rb") as raw:
        try:
            with zstandard.ZstdDecompressor().stream_reader(raw) as f:
                yield io.BufferedReader(f, 1 << 20)  # lines, which the bare reader lacks
        except zstandard.ZstdError as e:
            raise DataError(f"{path}: not a valid zstd file, or cut short ({e})") from None


def iter_raw_documents(files: Iterable[Path], text_field: str) -> Iterator[RawDoc]:
    """Every document of the files, undecoded: a text file is one document, a JSON line one
    (the field is read in the worker), a Parquet row one (``text_field`` column)."""
    for path in files:
        name = os.fspath(path)
        kind = inner_suffix(path)
        if kind == ".parquet":
            yield from _parquet_texts(path, text_field)
            continue
        with open_packed(path) as f:
            if kind != ".jsonl":
                yield f.read(), name, 1, 0
                continue
            offset = 0
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    yield line, name, lineno, offset
                offset += len(line)


def _parquet_texts(path: Path, column: str) -> Iterator[RawDoc]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs the pyarrow package "
                        "(pip install 'nanonlp[data]')") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    names = pf.schema_arrow.names
    if column not in names:
        raise DataError(f"{path}: no column {column!r} (it has {', '.join(names[:8])}); "
                        "name the text column with --text_field")
    row = 0
    name = os.fspath(path)
    # row groups stream a batch at a time: a FineWeb file is never read whole
    for batch in pf.iter_batches(batch_size=1024, columns=[column]):
        for text in batch.column(0).to_pylist():
            row += 1
            if text is None or not isinstance(text, str):
                raise DataError(f"{name}: row {row}: column {column!r} is not text "
                                f"(got {type(text).__name__})")
            yield text, name, row, 0


def document_text(raw: bytes | str, name: str, line: int, offset: int, *, text_field: str,
                  errors: str, jsonl: bool) -> str | None:
    """The text of one raw document (a :data:`RawDoc`); None when it is not UTF-8 and
    ``errors`` is ``"skip"``. ``jsonl``: the document is a JSON line whose ``text_field``
    holds the text.

    >>> document_text(b'{"text": "hi", "id": 7}\\n', "a.jsonl", 1, 0, text_field="text",
    ...               errors="strict", jsonl=True)
    'hi'
    >>> document_text(b"caf\\xe9", "b.txt", 1, 0, text_field="text", errors="skip", jsonl=False)
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if errors == "skip":
                return None
            where = f"{name}:{line}" if jsonl else name
            raise DataError(f"{where}: not valid UTF-8 (byte {raw[e.start]:#04x} at byte "
                            f"offset {offset + e.start:,}); convert it, or pass --errors skip "
                            "to leave such documents out") from None
        if jsonl:
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"{name}:{line}: not valid JSON ({e.msg} at column "
                                f"{e.colno})") from None
            value = rec.get(text_field) if isinstance(rec, dict) else None
            if not isinstance(value, str):
                what = "no" if not isinstance(rec, dict) or text_field not in rec else \
                    f"a {type(value).__name__} in the"
                raise DataError(f"{name}:{line}: {what} {text_field!r} text field; name the "
                                "field with --text_field")
            return value
        return text
    return raw
