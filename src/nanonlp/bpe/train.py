"""The fast BPE trainer: count unique chunks once, then merge with incremental pair counts.

Two stages, as in HF ``tokenizers``' ``BpeTrainer`` and the "word counts" trick of Sennrich et
al. (2016):

1. **Count chunks.** Split every text at special tokens, then with the split regex, and count
   each distinct chunk. This is the only pass over the input; it runs on all cores
   (``multiprocessing``, one ~1 MB piece per task) and streams, so the corpus is never one
   Python string. English text has ~100x fewer distinct chunks than chunks.
2. **Merge.** Each distinct chunk becomes a "word" of token ids with a frequency. We keep
   ``counts[pair]`` (occurrences weighted by word frequency), ``where[pair]`` (the words that
   contain it) and a heap of ``(-count, pair)``. A merge rewrites only the words in
   ``where[pair]`` and patches the counts of the pairs around each occurrence, so its cost is
   proportional to how often the pair occurs, not to the corpus size.

Lazy invalidation: when a pair's count falls we leave its old heap entry in place; when that
entry surfaces we compare it with ``counts`` and push the true count back. Counts of existing
pairs only ever fall (only pairs containing the new token gain), so a stale entry is always an
over-estimate and the first up-to-date entry popped is the true best pair.

Tie-break (the same as :func:`nanonlp.bpe.reference.best_pair`): highest count first, then the
lexicographically smallest ``(a, b)``. It is exactly the heap order of ``(-count, a, b)``, so
training is deterministic and gives the same merges as the reference trainer.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, pairwise

from nanonlp.bpe.patterns import compile_pattern, special_splitter
from nanonlp.bpe.pool import process_pool
from nanonlp.bpe.reference import merge

BATCH_CHARS = 1 << 20  # characters per counting task (one message to a worker process)


@dataclass(frozen=True)
class MergeStep:
    """One learned merge, as :func:`learn_merges` yields it."""

    rank: int  # 0 for the first merge
    pair: tuple[int, int]  # the two token ids merged
    new_id: int  # the id of the merged token
    count: int  # how often the pair occurred when it was merged


# ----------------------------------------------------------------------------------------------
# Stage 1: count distinct chunks.


def count_chunks_in(texts: Iterable[str], pattern: str,
                    specials: Iterable[str] = ()) -> Counter[str]:
    """Count the pre-tokenized chunks of some texts; special tokens cut and are not counted.

    >>> dict(count_chunks_in(["the cat", "the<|eot|>cat"], r" ?\\w+", ["<|eot|>"]))
    {'the': 2, ' cat': 1, 'cat': 1}
    """
    counts: Counter[str] = Counter()
    splitter = special_splitter(tuple(specials))
    regex = compile_pattern(pattern) if pattern else None
    for text in texts:
        parts = splitter.split(text)[::2] if splitter else (text,)  # odd items are specials
        for part in parts:
            if regex is None:
                if part:
                    counts[part] += 1
            else:
                counts.update(regex.findall(part))
    return counts


def batch_texts(texts: Iterable[str], batch_chars: int = BATCH_CHARS) -> Iterator[list[str]]:
    """Group texts into lists of about ``batch_chars`` characters (texts are never cut).

    >>> list(batch_texts(["ab", "cd", "efgh", "i"], batch_chars=4))
    [['ab', 'cd'], ['efgh'], ['i']]
    """
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


_worker_args: tuple[str, tuple[str, ...]] = ("", ())


def _init_counter(pattern: str, specials: tuple[str, ...]) -> None:
    global _worker_args
    _worker_args = (pattern, specials)


def _count_batch(batch: list[str]) -> Counter[str]:
    return count_chunks_in(batch, *_worker_args)


def count_chunks(texts: Iterable[str], pattern: str, specials: Iterable[str] = (),
                 workers: int = 0) -> Counter[str]:
    """:func:`count_chunks_in` over all cores (``workers=0``) or ``workers`` processes.

    A corpus of a single batch is counted in this process: starting workers would cost more.
    """
    specials = tuple(specials)
    workers = workers or os.cpu_count() or 1
    batches = batch_texts(texts)
    first = next(batches, None)
    if first is None:
        return Counter()
    second = next(batches, None)
    if second is None or workers == 1:
        total = count_chunks_in(first, pattern, specials)
        for batch in chain([second] if second else [], batches):
            total.update(count_chunks_in(batch, pattern, specials))
        return total
    total = Counter()
    with process_pool(workers, _init_counter, (pattern, specials)) as pool:
        for counts in pool.imap_unordered(_count_batch, chain([first, second], batches)):
            total.update(counts)
    return total


# ----------------------------------------------------------------------------------------------
# Stage 2: merge.


def learn_merges(chunk_counts: dict[bytes, int], num_merges: int,
                 first_id: int = 256) -> Iterator[MergeStep]:
    """Yield up to ``num_merges`` merges learned from ``{chunk bytes: frequency}``.

    Stops early when no pair is left. Merge ``i`` creates id ``first_id + i``.

    >>> [s.pair for s in learn_merges({b"aaabdaaabac": 1}, 3)]
    [(97, 97), (97, 98), (256, 257)]
    """
    # words[i]: the token ids of distinct chunk i; freqs[i]: how often it occurs.
    words: list[list[int]] = []
    freqs: list[int] = []
    for chunk in sorted(chunk_counts):  # sorted: the same word order on every run
        if len(chunk) > 1:  # a one-byte chunk has no pair to merge
            words.append(list(chunk))
            freqs.append(chunk_counts[chunk])

    counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for i, (word, f) in enumerate(zip(words, freqs)):
        for pair in pairwise(word):
            counts[pair] = counts.get(pair, 0) + f
            where.setdefault(pair, set()).add(i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    new_id = first_id
    rank = 0
    while rank < num_merges and heap:
        neg, pair = heapq.heappop(heap)
        count = counts.get(pair, 0)
        if count != -neg:  # stale: the pair lost occurrences since this entry was pushed
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        touched: set[tuple[int, int]] = set()  # pairs that contain new_id: their counts rose
        for i in where.pop(pair):
            word = words[i]
            merged = merge(word, pair, new_id)
            if len(merged) == len(word):  # `where` may list a word that no longer holds the pair
                continue
            f = freqs[i]
            # Retract the word's old pairs and add its new ones: pairs away from the merge
            # cancel out, which keeps overlapping runs like (a, a) in "aaaa" exact.
            for p in pairwise(word):
                counts[p] -= f
            for p in pairwise(merged):
                counts[p] = counts.get(p, 0) + f
                if new_id in p:
                    touched.add(p)
                    where.setdefault(p, set()).add(i)
            words[i] = merged
        del counts[pair]  # every occurrence was merged, so its count is now 0
        for p in touched:
            heapq.heappush(heap, (-counts[p], p))
        yield MergeStep(rank, pair, new_id, count)
        rank += 1
        new_id += 1

