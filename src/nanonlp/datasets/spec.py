"""What an entry of the data set registry is: a :class:`Dataset` and its :class:`FileSpec` files.

The entries themselves, and their readers, are in :mod:`nanonlp.datasets.registry`; finding
a file that a ``FileSpec`` describes is :mod:`nanonlp.datasets.store`'s job. Both import
these classes from here, so neither has to import the other to name them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

RECORD_KINDS = {
    "text": "str (a line, document or chunk of text)",
    "pair": "Pair(source, target)",
    "tagged": "TaggedSentence(tokens, tags, doc)",
    "example": "Example(text, label, id)",
    "scored_pair": "ScoredPair(word1, word2, score)",
    "analogy": "Analogy(a, b, c, d, section)",
}


@dataclass(frozen=True)
class FileSpec:
    """One file of a data set, by its path inside the data set's folder."""

    name: str
    sha256: str | None = None
    size: int | None = None
    urls: tuple[str, ...] = ()
    package: tuple[str, str] | None = None  # (importable package, path inside it): offline copy


@dataclass(frozen=True)
class Dataset:
    """A named data set. ``reader(get, split, **options)`` yields records of kind ``record``."""

    name: str
    title: str
    record: str
    files: tuple[FileSpec, ...]
    splits: tuple[str, ...]
    licence: str
    source: str
    reader: Callable[..., Iterator[Any]]
    split_files: dict[str, tuple[str, ...]]  # the files each split reads (with default options)
    counts: dict[str, int] = field(default_factory=dict)  # records per split, in our files
    aliases: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self):
        if self.record not in RECORD_KINDS:
            raise ValueError(f"{self.name}: unknown record kind {self.record!r}")
        if not self.splits:
            raise ValueError(f"{self.name}: no splits")
        names = {f.name for f in self.files}
        for split in self.splits:
            missing = set(self.split_files.get(split, ())) - names
            if split not in self.split_files or missing:
                raise ValueError(f"{self.name}: split {split!r} files not declared: {missing}")

    @property
    def default_split(self) -> str:
        return self.splits[0]

    def file(self, name: str) -> FileSpec:
        for spec in self.files:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no file {name!r}")
