"""The fast path of BPE training: :func:`nanonlp.bpe.train.learn_merges`'s merge loop in numba.

The algorithm is the one :mod:`nanonlp.bpe.train` describes, step for step: exact pair counts
weighted by word frequency, ``where[pair]`` (the words that may hold the pair), and a heap of
``(-count, pair)`` with lazy invalidation; only the pairs next to each merged occurrence change.
It learns exactly the merges the Python loop learns (tested on real text), since both pick,
at every step, the pair with the highest exact count and then the smallest ``(a, b)``.

What differs is only the representation, chosen for compiled code:

* all words' token ids in one array; word ``w`` is ``ids[starts[w]:starts[w] + lens[w]]`` and
  shrinks in place as it merges (a merge never makes a word longer);
* a pair is a number ``p`` (``pair_number`` maps the key ``a << 32 | b`` to it), a row of the
  table ``pairs``: its weighted count ``pairs[p, COUNT]``, its key, and its list of words;
* ``where[p]`` is a linked list in the table ``nodes``: ``pairs[p, FIRST]`` is its first node,
  each node holds a word and the next node. A word is added at most once per pair (the list's
  last word is kept); lists are never pruned, and a word that no longer holds the pair is
  skipped when the list is read (its merge changes nothing), as in the Python loop;
* the counts are patched at each occurrence as the word is rewritten, and the pairs whose
  counts rose are pushed once each, after the merge.

Numba's start-up (importing it, loading the compiled code from the on-disk cache) costs about
half a second, so :func:`nanonlp.bpe.train.learn_merges` only comes here for inputs where the
merge loop itself takes longer than that in Python.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np
from numba import types
from numba.typed import Dict, List

# the columns of the pair table: pairs[p, COUNT] is pair p's weighted count, and so on
COUNT, KEY, FIRST, LAST_WORD, TOUCHED_AT = range(5)
NEW_PAIR = np.array([0, 0, -1, -1, -1], dtype=np.int64)  # no count, no words, never touched
WORD, NEXT = range(2)  # the columns of the node table (the linked lists ``where[p]``)


@numba.njit(cache=True)
def _grow(table, need, blank):
    """``table``, or a copy with at least twice the rows (new rows ``blank``) if it has no
    row ``need``."""
    if need < table.shape[0]:
        return table
    out = np.empty((max(2 * table.shape[0], need + 1), table.shape[1]), dtype=table.dtype)
    out[:table.shape[0]] = table
    out[table.shape[0]:] = blank
    return out


@numba.njit(cache=True, inline="always")
def _number(pair_number, pairs, n_pairs, key):
    """(the number of the pair ``key``, made now if it had none, and the number of pairs)."""
    if key in pair_number:
        return pair_number[key], n_pairs
    pair_number[key] = n_pairs
    pairs[n_pairs, KEY] = key
    return n_pairs, n_pairs + 1


@numba.njit(cache=True, inline="always")
def _note(pairs, nodes, n_nodes, p, w):
    """Add word ``w`` to ``where[p]`` unless it was the last word added; the number of nodes."""
    if pairs[p, LAST_WORD] == w:
        return n_nodes
    pairs[p, LAST_WORD] = w
    nodes[n_nodes, WORD] = w
    nodes[n_nodes, NEXT] = pairs[p, FIRST]
    pairs[p, FIRST] = n_nodes
    return n_nodes + 1


@numba.njit(cache=True, inline="always")
def _gain(pairs, nodes, n_nodes, touched, q, w, f, rank):
    """Word ``w`` (frequency ``f``) now holds pair ``q`` once more; the number of nodes."""
    pairs[q, COUNT] += f
    if pairs[q, TOUCHED_AT] != rank:  # the first rise in this merge: push it afterwards
        pairs[q, TOUCHED_AT] = rank
        touched.append(q)
    return _note(pairs, nodes, n_nodes, q, w)


@numba.njit(cache=True)
def _learn(data, starts, freqs, num_merges, first_id):
    ids = data.astype(np.int64)
    lens = np.diff(starts)
    pair_number = Dict.empty(key_type=types.int64, value_type=types.int64)  # a << 32 | b -> p
    pairs = _grow(np.empty((0, 5), np.int64), 1024, NEW_PAIR)
    nodes = np.zeros((1024, 2), np.int64)
    n_pairs = 0
    n_nodes = 0

    # Count every pair of every word, and note the word in the pair's list.
    for w in range(lens.size):
        s, n, f = starts[w], lens[w], freqs[w]
        pairs = _grow(pairs, n_pairs + n, NEW_PAIR)  # room for n new pairs and nodes
        nodes = _grow(nodes, n_nodes + n, 0)
        for k in range(s, s + n - 1):
            p, n_pairs = _number(pair_number, pairs, n_pairs, ids[k] << 32 | ids[k + 1])
            pairs[p, COUNT] += f
            n_nodes = _note(pairs, nodes, n_nodes, p, w)

    heap = [(-pairs[p, COUNT], pairs[p, KEY], p) for p in range(n_pairs)]
    heapq.heapify(heap)
    merges = np.zeros((num_merges, 2), np.int64)
    merge_counts = np.zeros(num_merges, np.int64)
    touched = List.empty_list(types.int64)  # the pairs whose counts rose in this merge
    rank = 0
    while rank < num_merges and len(heap) > 0:
        neg, key, p = heapq.heappop(heap)
        if pairs[p, COUNT] != -neg:  # stale: the pair lost occurrences since it was pushed
            if pairs[p, COUNT] > 0:
                heapq.heappush(heap, (-pairs[p, COUNT], key, p))
            continue
        a = key >> 32
        b = key & 0xFFFFFFFF
        new = first_id + rank
        touched.clear()
        node = pairs[p, FIRST]
        while node >= 0:  # the words of where[p]
            w = nodes[node, WORD]
            node = nodes[node, NEXT]
            s, n, f = starts[w], lens[w], freqs[w]
            pairs = _grow(pairs, n_pairs + n, NEW_PAIR)  # a merge makes at most n pairs
            nodes = _grow(nodes, n_nodes + n, 0)
            # Merge left to right, compacting in place (j <= i, so ids[s + i:] is unread). At
            # each occurrence the pair on its left, (x, a), becomes (x, new), and the one on
            # its right, (b, y), becomes (new, y). In "a b a b" the first occurrence turns
            # (b, a) into (new, a), and the second turns that into (new, new).
            i = 0
            j = 0
            while i < n:
                if i + 1 < n and ids[s + i] == a and ids[s + i + 1] == b:
                    if j > 0:
                        x = ids[s + j - 1]  # already written: it may be `new`
                        pairs[pair_number[x << 32 | a], COUNT] -= f
                        q, n_pairs = _number(pair_number, pairs, n_pairs, x << 32 | new)
                        n_nodes = _gain(pairs, nodes, n_nodes, touched, q, w, f, rank)
                    if i + 2 < n:
                        y = ids[s + i + 2]
                        pairs[pair_number[b << 32 | y], COUNT] -= f
                        q, n_pairs = _number(pair_number, pairs, n_pairs, new << 32 | y)
                        n_nodes = _gain(pairs, nodes, n_nodes, touched, q, w, f, rank)
                    ids[s + j] = new
                    i += 2
                else:
                    ids[s + j] = ids[s + i]
                    i += 1
                j += 1
            lens[w] = j
        pairs[p, COUNT] = 0  # every occurrence was merged
        pairs[p, FIRST] = -1
        for q in touched:
            if pairs[q, COUNT] > 0:  # not (new, a) of "a b a b": made and unmade at once
                heapq.heappush(heap, (-pairs[q, COUNT], pairs[q, KEY], q))
        merges[rank, 0] = a
        merges[rank, 1] = b
        merge_counts[rank] = -neg
        rank += 1
    return merges[:rank], merge_counts[:rank]


def learn_merges_numba(words: list[bytes], freqs: list[int], num_merges: int,
                       first_id: int = 256) -> tuple[list[tuple[int, int]], list[int]]:
    """The merges (and the count of each when merged) learned from words of at least 2 bytes.

    >>> learn_merges_numba([b"aaabdaaabac"], [1], 3)
    ([(97, 97), (97, 98), (256, 257)], [4, 2, 2])
    """
    sizes = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    starts = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    data = np.frombuffer(b"".join(words), dtype=np.uint8)
    merges, counts = _learn(data, starts, np.asarray(freqs, dtype=np.int64), num_merges,
                            first_id)
    return list(map(tuple, merges.tolist())), counts.tolist()
