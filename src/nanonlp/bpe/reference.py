"""The plain BPE trainer the notebook teaches: obviously correct, quadratic, for small corpora.

Byte-pair encoding (Sennrich et al. 2016, after Gage 1994) as byte-level GPT-2 tokenizers use
it, written the way karpathy/minbpe writes it: every round counts every adjacent pair in every
chunk, picks the most frequent, and rewrites all chunks. Nothing is cached, so it is easy to
believe and slow (each merge rescans the corpus). :mod:`nanonlp.bpe.train` is the fast trainer;
the tests check that both learn exactly the same merges.

Tie-break (shared with the fast trainer): the pair with the highest count wins; among equal
counts the lexicographically smallest pair of ids ``(a, b)`` wins. That makes training
deterministic without depending on dict insertion order.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise


def get_stats(ids: list[int], counts: dict[tuple[int, int], int] | None = None,
              weight: int = 1) -> dict[tuple[int, int], int]:
    """Count adjacent pairs in ``ids`` (adding ``weight`` each) into ``counts``.

    >>> get_stats([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: list[int], pair: tuple[int, int], idx: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``idx``, left to right.

    Overlaps resolve to the left: ``(5, 5)`` in ``[5, 5, 5]`` merges the first two. The fast
    trainer calls this too (the encoder inlines the same loop), so it is written for speed as
    well: the first comparison rejects most positions, and the pair and length are read once.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([5, 5, 5], (5, 5), 6)
    [6, 5]
    """
    a, b = pair
    out = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(counts: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The pair to merge next: highest count, then the smallest pair of ids.

    >>> best_pair({(9, 1): 3, (2, 7): 3, (0, 0): 1})
    (2, 7)
    """
    return min(counts, key=lambda p: (-counts[p], p))


def train_reference(chunks: Iterable[bytes], num_merges: int,
                    first_id: int = 256) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges over byte chunks; merge ``i`` creates id ``first_id + i``.

    Stops early when no pair is left (every chunk is a single token).

    >>> train_reference([b"aaabdaaabac"], 3)   # aa -> 256, ab -> 257, (aa)(ab) -> 258
    [(97, 97), (97, 98), (256, 257)]
    """
    ids = [list(chunk) for chunk in chunks]
    merges: list[tuple[int, int]] = []
    for i in range(num_merges):
        counts: dict[tuple[int, int], int] = {}
        for chunk_ids in ids:
            get_stats(chunk_ids, counts)
        if not counts:
            break
        pair = best_pair(counts)
        ids = [merge(chunk_ids, pair, first_id + i) for chunk_ids in ids]
        merges.append(pair)
    return merges
