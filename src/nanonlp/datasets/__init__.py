"""Named data sets: where each file comes from, its checksum, its licence and its reader.

>>> from nanonlp import datasets
>>> [ds.name for ds in datasets.DATASETS][:3]
['tinyshakespeare', 'eng-fra', 'multi30k']
>>> questions = datasets.load("word_analogy", "words")   # ships inside gensim: no download
>>> next(questions)
Analogy(a='Athens', b='Greece', c='Baghdad', d='Iraq', section='capital-common-countries')
>>> next(datasets.text("lee_corpus"))[:28]
'Hundreds of people have been'

``load`` yields typed records (see :mod:`nanonlp.datasets.records`): with its files in
``$NANONLP_DATA/conll2003/``, ``datasets.load("conll2003", "dev")`` yields
``TaggedSentence(tokens, tags, doc)`` the same way. ``text`` yields the plain text of any data
set, for tokenizer and word-vector training. File resolution (explicit path,
``$NANONLP_DATA``, the cache, packaged copies, download) is described in
:mod:`nanonlp.datasets.store`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nanonlp.datasets.records import Analogy, Example, Pair, ScoredPair, TaggedSentence
from nanonlp.datasets.registry import DATASETS, RECORD_KINDS, Dataset, FileSpec, get_dataset
from nanonlp.datasets.store import (
    cache_root,
    candidates,
    data_root,
    fetch,
    find_file,
)
from nanonlp.errors import DataError
from nanonlp.fileio import sha256_file

__all__ = [
    "DATASETS", "RECORD_KINDS", "Analogy", "Dataset", "Example", "FileSpec", "Pair",
    "ScoredPair", "TaggedSentence", "available", "cache_root", "data_root", "download",
    "get_dataset", "load", "locate", "sha256_file", "text",
]


def load(name: str, split: str | None = None, *, path: str | os.PathLike | None = None,
         download: bool = False, **options: Any) -> Iterator[Any]:
    """Stream the records of one split of a named data set.

    ``path`` is a folder holding the data set's files (it overrides every other place);
    ``download=True`` fetches missing files into the cache; ``options`` go to the reader
    (e.g. ``src="fr", tgt="en"`` for multi30k, ``reverse=True`` for eng-fra).
    """
    ds = get_dataset(name)
    split = _check_split(ds, split)

    def get(fname: str) -> Path:
        return find_file(ds, fname, path, download=download, progress=download)

    try:
        yield from ds.reader(get, split, **options)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise DataError(f"data set {ds.name!r}: {e}") from None
        raise


def text(name: str, split: str | None = None, **kwargs: Any) -> Iterator[str]:
    """Stream the plain text of a data set: lines, documents, sentences or both sides of pairs.

    Tagged sentences are joined with spaces; examples give their text; pairs give the source
    then the target line. Word-list data sets (similarity, analogies) have no text.
    """
    ds = get_dataset(name)
    for rec in load(name, split, **kwargs):
        if ds.record == "text":
            yield rec
        elif ds.record == "pair":
            yield rec.source
            yield rec.target
        elif ds.record == "tagged":
            yield " ".join(rec.tokens)
        elif ds.record == "example":
            yield rec.text
        else:
            raise DataError(f"data set {ds.name!r} holds {ds.record} records, not running text")


def locate(name: str, split: str | None = None, *, path: str | os.PathLike | None = None,
           download: bool = False) -> dict[str, Path]:
    """Resolve every file a data set has (for ``split=None``) or that one split reads.

    Returns ``{file name: path}``; a file that cannot be found raises :class:`DataError`.
    """
    ds = get_dataset(name)
    names = _files_for(ds, split)
    return {n: find_file(ds, n, path, download=download, progress=download) for n in names}


def available(name: str, split: str | None = None) -> bool:
    """Whether a split (default: the default split) can be read without downloading."""
    ds = get_dataset(name)
    try:
        locate(name, split or ds.default_split)
    except DataError:
        return False
    return True


def download(name: str, *, split: str | None = None, progress: bool = True) -> dict[str, Path]:
    """Fetch the files of a data set (or of one split) that are not already available.

    A file already there is checked against its recorded size and sha256: a damaged copy in
    the cache is fetched again (it is ours to replace); one elsewhere ($NANONLP_DATA, a
    package) is refused with a :class:`DataError` naming it.
    """
    ds = get_dataset(name)
    out = {}
    for fname in _files_for(ds, split):
        spec = ds.file(fname)
        dest = cache_root() / ds.name / spec.name
        try:
            found = find_file(ds, fname)
        except DataError:
            if not spec.urls:
                if split is None:
                    continue  # optional extra without a URL (e.g. text8's prefix)
                raise
            out[fname] = fetch(spec, dest, progress=progress)
            continue
        problem = _damage(spec, found)
        if problem is None:
            out[fname] = found
        elif found == dest and spec.urls:
            out[fname] = fetch(spec, dest, progress=progress)  # replaces it atomically
        else:
            raise DataError(f"{found}: {problem}; it is damaged or another version: delete it "
                            f"or put the right file there")
    return out


def _damage(spec, path: Path) -> str | None:
    """What is wrong with a copy of ``spec`` at ``path`` (size, then sha256), or None."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{size:,} bytes, expected {spec.size:,}"
    if spec.sha256 is not None:
        digest = sha256_file(path)
        if digest != spec.sha256:
            return f"sha256 {digest[:16]}..., expected {spec.sha256[:16]}..."
    return None


def _check_split(ds: Dataset, split: str | None) -> str:
    if split is None:
        return ds.default_split
    if split not in ds.splits:
        raise DataError(f"data set {ds.name!r} has no split {split!r}; splits: "
                        f"{', '.join(ds.splits)}")
    return split


def _files_for(ds: Dataset, split: str | None) -> list[str]:
    """The files of one split (with the reader's default options), or all files."""
    if split is None:
        return [f.name for f in ds.files]
    return list(ds.split_files[_check_split(ds, split)])


def found_in(ds: Dataset) -> str:
    """Where the default split's files resolve from: ``env``, ``cache``, ``package`` (joined
    with ``+`` when they differ), or ``missing``: what `nanonlp data list` prints."""
    found = set()
    for fname in ds.split_files[ds.default_split]:
        for how, p in candidates(ds, ds.file(fname)):
            if p is not None and p.is_file():
                found.add(how)
                break
        else:
            return "missing"
    return "+".join(sorted(found))
