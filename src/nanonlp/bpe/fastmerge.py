"""The fast path of BPE encoding: merges for many chunks in one numba call.

``Tokenizer._encode_chunk`` is the readable
reference; :func:`merge_chunks` does the same thing (lowest-ranked pair first, every occurrence
of it left to right) on all the chunks of a text that are not in the chunk cache yet, with
their UTF-8 bytes concatenated so the whole batch crosses into compiled code once. Tests check
that both give the same ids on random text.

The merge ranks become a small hash table of pair keys ``a << 32 | b`` with the merged id
beside each (a dict of tuples is not something numba can read fast).
Compiled code is cached on disk (``cache=True``), and the tokenizer uses this path only for
batches big enough to repay the call, so a short ``encode`` never waits for the compiler.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numba
import numpy as np

NO_RANK = 1 << 62  # above every real rank: "this pair was never merged"


def rank_table(ranks: dict[tuple[int, int], int]) -> tuple[np.ndarray, np.ndarray]:
    """The ranks as an open-addressing hash table: (pair keys ``a << 32 | b``, merged ids).

    Empty slots hold key -1; the table is at least twice the number of merges, so a lookup
    probes one or two slots on average.

    >>> keys, new_ids = rank_table({(97, 98): 256, (256, 99): 257})
    >>> int(_rank(keys, new_ids, 97, 98)), int(_rank(keys, new_ids, 256, 99))
    (256, 257)
    >>> _rank(keys, new_ids, 98, 97) == NO_RANK
    True
    """
    size = 1 << max(4, (2 * len(ranks)).bit_length())
    pairs = np.array(list(ranks), dtype=np.int64).reshape(-1, 2)
    merged = np.array(list(ranks.values()), dtype=np.int64)
    return _fill_table(pairs[:, 0] << 32 | pairs[:, 1], merged, size)


@numba.njit(cache=True, inline="always")
def _slot(key, mask):
    # Fibonacci hashing: multiply by 2**64 / golden ratio, keep the high bits
    return (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(32)) & mask


@numba.njit(cache=True)
def _fill_table(pair_keys, merged, size):
    keys = np.full(size, -1, dtype=np.int64)
    new_ids = np.zeros(size, dtype=np.int64)
    mask = np.uint64(size - 1)
    for k in range(pair_keys.size):
        i = _slot(pair_keys[k], mask)
        while keys[i] != -1:  # linear probing
            i = (i + np.uint64(1)) & mask
        keys[i] = pair_keys[k]
        new_ids[i] = merged[k]
    return keys, new_ids


@numba.njit(cache=True, inline="always")
def _rank(keys, new_ids, a, b):
    """The id pair (a, b) merges into, or NO_RANK (ids are ranks: lower merges first)."""
    key = a << 32 | b
    mask = np.uint64(keys.size - 1)
    i = _slot(key, mask)
    while keys[i] != -1:
        if keys[i] == key:
            return new_ids[i]
        i = (i + np.uint64(1)) & mask
    return NO_RANK


@numba.njit(cache=True)
def _merge_chunks(data, starts, keys, new_ids):
    # a chunk never grows, so its ids fit where its bytes were: work[starts[c]:...] holds
    # chunk c's ids, and lengths[c] says how many
    work = data.astype(np.int64)
    lengths = np.diff(starts)
    # pair_rank[i]: the rank of the pair (ids[i], ids[i + 1]), kept up to date as ids merge
    pair_rank = np.empty(data.size, dtype=np.int64)
    for c in range(lengths.size):
        ids = work[starts[c]:starts[c + 1]]
        ranks = pair_rank[starts[c]:starts[c + 1]]
        n = lengths[c]
        for i in range(n - 1):
            ranks[i] = _rank(keys, new_ids, ids[i], ids[i + 1])
        while n >= 2:
            best = NO_RANK
            for i in range(n - 1):
                best = min(best, ranks[i])
            if best == NO_RANK:  # no pair of this chunk was ever merged
                break
            # merge every occurrence of the best pair, left to right, compacting in place;
            # a pair that keeps both its ids keeps its rank, so ranks move along with ids
            j = 0  # ids[:j] are done
            i = 0
            while i < n:
                if i + 1 < n and ranks[i] == best:
                    ids[j] = best
                    i += 2
                else:
                    ids[j] = ids[i]
                    ranks[j] = ranks[i]
                    i += 1
                j += 1
            n = j
            # only the pairs touching a new id changed (an id that merely equals ``best``
            # gets its pair looked up again, which is harmless)
            for i in range(n - 1):
                if ids[i] == best or ids[i + 1] == best:
                    ranks[i] = _rank(keys, new_ids, ids[i], ids[i + 1])
        lengths[c] = n
    # (all ids, one chunk after another; where each chunk's ids start, and one past the end)
    out_starts = np.zeros(lengths.size + 1, dtype=np.int64)
    out_starts[1:] = np.cumsum(lengths)
    out = np.empty(out_starts[-1], dtype=np.int64)
    for c in range(lengths.size):
        out[out_starts[c]:out_starts[c + 1]] = work[starts[c]:starts[c] + lengths[c]]
    return out, out_starts


def merge_chunks(chunks: list[bytes], table: tuple[np.ndarray, np.ndarray],
                 ids: Sequence[int]) -> list[list[int]]:
    """Each chunk's tokens, as ``Tokenizer._encode_chunk`` would give them, as ``ids[token]``.

    ``ids`` maps the rank order to a tokenizer's ids (a list of ``range`` for most). Its int
    objects are what the lists hold, so each id is one object however often it occurs, as
    with the slow path (copying the cached lists into the output is 1-3% faster so).

    >>> table = rank_table({(97, 97): 256, (256, 97): 257})
    >>> merge_chunks([b"aaa", b"aaaa", b"b"], table, list(range(258)))
    [[257], [256, 256], [98]]
    """
    sizes = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
    starts = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    out, out_starts = _merge_chunks(data, starts, *table)
    flat = list(map(ids.__getitem__, out.tolist()))
    bounds = out_starts.tolist()
    return [flat[s:e] for s, e in pairwise(bounds)]
