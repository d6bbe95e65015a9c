"""The typed records that data set readers yield.

Plain text is yielded as ``str`` (one line, document or chunk). Everything else is a small
``NamedTuple`` so that a record prints readably and unpacks like a tuple.
"""

from __future__ import annotations

from typing import NamedTuple


class Pair(NamedTuple):
    """A parallel sentence pair for translation."""

    source: str
    target: str


class TaggedSentence(NamedTuple):
    """A tokenised sentence with one tag per token and the document it belongs to.

    ``doc`` is a 0-based document index (CoNLL ``-DOCSTART-`` blocks, Brown files) so that
    sentences can be regrouped into documents. ``line`` is the line of a column file the
    sentence starts on (1-based; 0 when it was not read from one): token i is on line
    ``line + i``, so a later check can name the line of a word.
    """

    tokens: list[str]
    tags: list[str]
    doc: int = 0
    line: int = 0


class Example(NamedTuple):
    """A text with a class label (``None`` for unlabelled test sets); ``id`` names its origin."""

    text: str
    label: str | None
    id: str = ""


class PairExample(NamedTuple):
    """Two texts with one label (paraphrase, entailment); ``id`` names its origin."""

    text: str
    text_pair: str
    label: str | None
    id: str = ""


class ScoredPair(NamedTuple):
    """A word pair with a human similarity/relatedness score (scales differ per set)."""

    word1: str
    word2: str
    score: float


class Analogy(NamedTuple):
    """``a : b :: c : d`` from a section such as ``capital-common-countries``."""

    a: str
    b: str
    c: str
    d: str
    section: str
