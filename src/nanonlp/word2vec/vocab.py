"""The vocabulary of a word2vec run: counts, frequent-word subsampling, the noise distribution.

Follows Mikolov et al. (2013), "Distributed Representations of Words and Phrases and their
Compositionality", section 2.2-2.3, with the formulas of the C tool (``word2vec.c``), which
gensim also uses:

* subsampling keeps each occurrence of word ``w`` with probability
  ``(sqrt(f(w) / t) + 1) * t / f(w)`` where ``f(w)`` is its share of the corpus and ``t`` is
  ``sample`` (the paper prints ``1 - sqrt(t / f)``; the tool's variant is what everyone runs);
* negatives are drawn from the unigram distribution raised to the 3/4 power, through a
  cumulative table searched with a random integer (gensim's ``cum_table``).

Probabilities are stored as integers (``keep`` out of 2**32 - 1, ``cum_table`` out of
2**31 - 1, both exactly gensim's ``sample_int`` and ``cum_table``) so that the numpy reference
and the numba kernel make the very same draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nanonlp.errors import DataError

KEEP_ONE = 2**32 - 1  # keep[w] == KEEP_ONE: always kept, no random draw is spent
NOISE_DOMAIN = 2**31 - 1  # gensim's cum_table domain
BUCKET_BITS = 16  # noise_buckets: 2**16 buckets, 256 KiB of int32, a few words per bucket


@dataclass
class Vocab:
    """Words sorted by falling count, with their sampling tables."""

    words: list[str]  # index -> word, most frequent first
    counts: np.ndarray  # (V,) int64 occurrences in the corpus
    keep: np.ndarray  # (V,) uint64 keep probability out of 2**32 - 1 (subsampling)
    cum_table: np.ndarray  # (V,) int64 cumulative unigram^0.75 mass out of 2**31 - 1

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def noise_buckets(self) -> tuple[np.ndarray, int]:
        """:func:`noise_buckets` of this vocabulary's noise table (the fast kernel's index)."""
        return noise_buckets(self.cum_table)

    @property
    def total(self) -> int:
        """Occurrences of in-vocabulary words in the corpus."""
        return int(self.counts.sum())

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Word ids of the in-vocabulary tokens; unknown words are dropped (as the C tool does).

        >>> v = build_vocab([["a", "b", "a"]], min_count=1)
        >>> v.encode(["a", "zz", "b"]).tolist()
        [0, 1]
        """
        index = self.index
        return np.fromiter((index[t] for t in tokens if t in index), dtype=np.int32)


def count_words(sentences: Iterable[list[str]]) -> Counter:
    """Count tokens, remembering first-seen order (it breaks ties in :func:`build_vocab`).

    >>> count_words([["the", "cat"], ["the"]])
    Counter({'the': 2, 'cat': 1})
    """
    counts: Counter = Counter()
    for sent in sentences:
        counts.update(sent)
    return counts


def build_vocab(sentences: Iterable[list[str]], min_count: int = 5, max_vocab: int | None = None,
                sample: float = 1e-3, ns_exponent: float = 0.75,
                counts: Counter | None = None) -> Vocab:
    """Count the corpus and keep words seen at least ``min_count`` times (at most ``max_vocab``).

    >>> v = build_vocab([["a", "b", "a", "c", "a", "b"]], min_count=2, sample=0)
    >>> v.words, v.counts.tolist()
    (['a', 'b'], [3, 2])
    """
    counts = count_words(sentences) if counts is None else counts
    if not counts:
        raise DataError("the corpus is empty: no words to build a vocabulary from")
    kept = [(w, c) for w, c in counts.items() if c >= min_count]
    if not kept:
        top = max(counts.values())
        raise DataError(f"min_count={min_count} leaves no words: the most frequent word occurs "
                        f"{top} time(s) in {sum(counts.values()):,} tokens")
    # falling count; equal counts in reverse first-seen order, which is what gensim's
    # lexsort((-index, -count)) gives, so that both backends index words identically
    kept.reverse()
    kept.sort(key=lambda wc: -wc[1])
    if max_vocab is not None:
        kept = kept[:max_vocab]
    words = [w for w, _ in kept]
    c = np.array([n for _, n in kept], dtype=np.int64)
    return Vocab(words, c, keep_probability(c, sample), noise_table(c, ns_exponent))


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """Subsampling: the chance (out of 2**32 - 1) that one occurrence of each word is kept.

    An occurrence is kept when a uniform 32-bit random integer is ``<=`` this value.

    ``p = (sqrt(c / (t N)) + 1) * (t N) / c``, capped at 1, with ``N`` the corpus size.

    >>> keep_probability(np.array([1000, 10, 1]), sample=0.001).tolist()  # t N = 1.011
    [140905963, 1799858709, 4294967295]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.full(len(counts), KEEP_ONE, dtype=np.uint64)
    threshold = sample * counts.sum()
    p = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.floor(np.minimum(p, 1.0) * KEEP_ONE).astype(np.uint64)  # gensim truncates


def noise_table(counts: np.ndarray, ns_exponent: float = 0.75) -> np.ndarray:
    """Cumulative noise distribution ``c^0.75 / sum c^0.75`` scaled to integers (gensim's table).

    Word ``i`` is drawn for a random integer ``x`` in ``[0, table[-1])`` when
    ``table[i-1] <= x < table[i]``.

    >>> noise_table(np.array([16, 1]), 0.75).tolist()   # 16^0.75 = 8: word 0 has 8/9 of the mass
    [1908874353, 2147483647]
    """
    weights = np.asarray(counts, dtype=np.float64) ** ns_exponent
    return np.round(np.cumsum(weights) / weights.sum() * NOISE_DOMAIN).astype(np.int64)


def noise_buckets(cum_table: np.ndarray) -> tuple[np.ndarray, int]:
    """An index into the noise table: where the search for a random ``x`` may start and stop.

    Bucket ``k`` covers ``x`` in ``[k << shift, (k + 1) << shift)``; ``buckets[k]`` is the
    number of table entries ``<= k << shift``. Since that count only grows with ``x``, the word
    drawn for any ``x`` of bucket ``k`` (``searchsorted(cum_table, x, 'right')``) lies in
    ``buckets[k]..buckets[k + 1]``: frequent words own whole buckets, rare ones share a few.
    Returns ``(buckets (2**BUCKET_BITS + 2,) int32, shift)``; the numba kernel
    (:mod:`nanonlp.word2vec.fast`) searches only ``cum_table[buckets[k]:buckets[k + 1]]``.

    >>> table = np.array([6, 8, 16])   # words 0, 1, 2 drawn for x in [0,6), [6,8), [8,16)
    >>> b, shift = noise_buckets(table)
    >>> shift                          # 16 < 2**16: one bucket per value of x
    0
    >>> b[5:7].tolist(), b[7:9].tolist()   # x = 5: word 0; x = 7: word 1 or 2, one comparison
    ([0, 1], [1, 2])
    """
    top = int(cum_table[-1])
    shift = max(0, top.bit_length() - BUCKET_BITS)
    edges = np.arange((top >> shift) + 2, dtype=np.int64) << shift
    return np.searchsorted(cum_table, edges, side="right").astype(np.int32), shift
