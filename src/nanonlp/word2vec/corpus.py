"""Sentences for word2vec: token lists from named data sets, text files or Python lists.

A :class:`Corpus` can be iterated many times (counting, then training, then one pass per epoch
for gensim), reading its sources afresh each time, so a corpus bigger than memory streams.
Tokenising is deliberately plain: lower-case, and either whitespace splitting or runs of
letters/digits (``"words"``, which also turns WikiText's ``@,@`` and Brown's punctuation
tokens into nothing). Both backends get the very same token lists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import regex

from nanonlp.errors import ConfigError

_WORD = regex.compile(r"[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*")


def tokenize(line: str, how: str = "words", lowercase: bool = True) -> list[str]:
    """Split one line into tokens.

    >>> tokenize("The cat's 2 hats, @,@ e.g. well-known!")
    ['the', "cat's", '2', 'hats', 'e', 'g', 'well-known']
    >>> tokenize("The cat's hats ,", how="split")
    ['the', "cat's", 'hats', ',']
    """
    if lowercase:
        line = line.lower()
    if how == "split":
        return line.split()
    if how == "words":
        return _WORD.findall(line)
    raise ConfigError(f"tokenizer must be 'words' or 'split', got {how!r}")


@dataclass
class Corpus:
    """A re-iterable stream of sentences (token lists) from one or more text sources.

    Each source is a callable returning an iterator of text lines (or documents); the corpus
    tokenises them on every pass. Build one with :meth:`from_datasets`, :meth:`from_files` or
    :meth:`from_sentences`.
    """

    sources: list[tuple[str, Callable[[], Iterable[str]]]] = field(default_factory=list)
    tokenizer: str = "words"  # "words" (runs of letters/digits) or "split" (whitespace)
    lowercase: bool = True

    def __post_init__(self):
        tokenize("", self.tokenizer)  # validate the tokenizer name now, not mid-training

    def __iter__(self) -> Iterator[list[str]]:
        for _, lines in self.sources:
            for line in lines():
                tokens = tokenize(line, self.tokenizer, self.lowercase)
                if tokens:
                    yield tokens

    @property
    def description(self) -> str:
        """The sources' names, e.g. ``text8/head + brown/all``."""
        return " + ".join(name for name, _ in self.sources)

    @classmethod
    def from_datasets(cls, names: Iterable[str], **kwargs) -> Corpus:
        """Named data sets as ``name`` or ``name/split`` (see ``nanonlp data list``)."""
        from nanonlp import datasets as D

        sources = []
        for spec in names:
            name, _, split = spec.partition("/")
            ds = D.get_dataset(name)
            split = split or ds.default_split
            D.locate(name, split)  # fail now, naming the missing file, not mid-way
            sources.append((f"{ds.name}/{split}",
                            lambda name=name, split=split: D.text(name, split)))
        return cls(sources, **kwargs)

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike], **kwargs) -> Corpus:
        """UTF-8 text files (``.gz``/``.bz2``/``.xz``/``zip::member`` too), one sentence a line.

        A file that is one huge line (text8) is read in chunks cut at spaces.
        """
        from nanonlp.fileio import iter_text_chunks, open_binary

        sources = []
        for path in paths:
            with open_binary(path):  # fail now if missing
                pass
            sources.append((os.fspath(path), lambda p=path: (
                line for chunk in iter_text_chunks(p) for line in chunk.split("\n"))))
        return cls(sources, **kwargs)

    @classmethod
    def from_sentences(cls, sentences: list[list[str]], name: str = "sentences") -> Corpus:
        """Already tokenised sentences, used as they are (no lower-casing)."""
        return cls([(name, lambda: (" ".join(s) for s in sentences))], tokenizer="split",
                   lowercase=False)
