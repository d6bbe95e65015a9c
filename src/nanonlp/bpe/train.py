"""The fast BPE trainer: count unique chunks once, then merge with incremental pair counts.

Two stages, as in HF ``tokenizers``' ``BpeTrainer`` and the "word counts" trick of Sennrich et
al. (2016):

1. **Count chunks.** Split every text at special tokens, then with the split regex, and count
   each distinct chunk. This is the only pass over the input; it streams, so the corpus is
   never one Python string, and from ``MIN_PARALLEL_CHARS`` characters on it runs on all cores
   (``multiprocessing``: one equal share per core, or ~1 MB per task for a big corpus).
   English text has ~100x fewer distinct chunks than chunks.
2. **Merge.** Each distinct chunk becomes a "word" of token ids with a frequency. We keep
   ``counts[pair]`` (occurrences weighted by word frequency), ``where[pair]`` (the words that
   contain it) and a heap of ``(-count, pair)``. A merge rewrites only the words in
   ``where[pair]`` and patches the counts of the pairs next to each occurrence: ``(x, a)``
   becomes ``(x, new)`` and ``(b, y)`` becomes ``(new, y)``. Its cost is proportional to how
   often the pair occurs, not to the corpus size.

Lazy invalidation: when a pair's count falls we leave its old heap entry in place; when that
entry surfaces we compare it with ``counts`` and push the true count back. Counts of existing
pairs only ever fall (only pairs containing the new token gain), so a stale entry is always an
over-estimate and the first up-to-date entry popped is the true best pair.

Tie-break (the same as :func:`nanonlp.bpe.reference.best_pair`): highest count first, then the
lexicographically smallest ``(a, b)``. It is exactly the heap order of ``(-count, a, b)``, so
training is deterministic and gives the same merges as the reference trainer.

The merge loop below is Python; :mod:`nanonlp.bpe.fasttrain` is the same loop compiled with
numba, which :func:`learn_merges` uses for big inputs (where it repays numba's start-up). Both
pick, at every step, the pair with the highest exact count, so they learn the same merges
(tested against each other and the reference trainer).
"""

from __future__ import annotations

import heapq
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from operator import add

from nanonlp.bpe.patterns import GPT2_PATTERN, GPT4_PATTERN, Chunker, special_splitter
from nanonlp.bpe.pool import process_pool
from nanonlp.bpe.stream import safe_cut

BATCH_CHARS = 1 << 20  # characters per counting task (one message to a worker process)
# From this many characters on, chunks are counted on all cores; below, in this process.
# Splitting runs at 15-25 MB/s (ASCII text through `re`, see patterns.ASCII_TWINS), so
# tinyshakespeare (1.1 M characters) counts in ~0.07 s, about what forking workers, sending
# them text and merging their counts cost on a busy 2-core VM.
MIN_PARALLEL_CHARS = 2 << 20
# A corpus this big (in characters) also repays loading the compiled GPT-4 split.
FAST_SPLIT_CORPUS_CHARS = 4 << 20
FAST_SPLIT_CHARS = 1 << 16  # texts this long go to the compiled split (in a big corpus only)
# From this many bytes of distinct chunks on, merging runs compiled (nanonlp.bpe.fasttrain):
# about where Python's merge loop takes as long as numba's start-up (~0.5 s).
NUMBA_MIN_BYTES = 1 << 17


@dataclass(frozen=True)
class MergeStep:
    """One learned merge, as :func:`learn_merges` yields it."""

    rank: int  # 0 for the first merge
    pair: tuple[int, int]  # the two token ids merged
    new_id: int  # the id of the merged token
    count: int  # how often the pair occurred when it was merged


# ----------------------------------------------------------------------------------------------
# Stage 1: count distinct chunks.


def count_chunks_in(texts: Iterable[str], pattern: str, specials: Iterable[str] = (),
                    fast_split: bool = False) -> Counter[str]:
    """Count the pre-tokenized chunks of some texts; special tokens cut and are not counted.

    ``fast_split`` cuts long texts with GPT-4's compiled scanner (:mod:`nanonlp.bpe.fastsplit`,
    the same chunks) when that is the pattern: worth it for a big corpus, where loading
    numba's code (0.2-0.4 s) is repaid, not for a small one.

    >>> dict(count_chunks_in(["the cat", "the<|eot|>cat"], r" ?\\w+", ["<|eot|>"]))
    {'the': 2, ' cat': 1, 'cat': 1}
    """
    counts: Counter[str] = Counter()
    splitter = special_splitter(tuple(specials))
    chunker = Chunker(pattern) if pattern else None
    fast = None
    if fast_split and pattern == GPT4_PATTERN:
        from nanonlp.bpe.fastsplit import split_gpt4 as fast
    for text in texts:
        parts = splitter.split(text)[::2] if splitter else (text,)  # odd items are specials
        for part in parts:
            if chunker is None:
                if part:
                    counts[part] += 1
            elif fast is not None and len(part) >= FAST_SPLIT_CHARS:
                counts.update(fast(part))
            else:
                counts.update(chunker.findall(part))
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


_worker_args: tuple[str, tuple[str, ...], bool] = ("", (), False)


def _init_counter(pattern: str, specials: tuple[str, ...], fast_split: bool) -> None:
    global _worker_args
    _worker_args = (pattern, specials, fast_split)


def _count_batch(batch: list[str]) -> Counter[str]:
    return count_chunks_in(batch, *_worker_args)


def even_batches(texts: list[str], n: int, cut: bool, specials: Iterable[str] = ()
                 ) -> list[list[str]]:
    """Group texts into at most ``n`` lists of about equal length, in order.

    With ``cut``, a text is cut where the split pattern allows
    (:func:`~nanonlp.bpe.stream.safe_cut`), so that one file makes ``n`` equal tasks.

    >>> even_batches(["one two three four"], 2, cut=True)
    [['one two'], [' three four']]
    >>> even_batches(["one two three four"], 2, cut=False)
    [['one two three four']]
    """
    total = sum(map(len, texts))
    batches: list[list[str]] = [[]]
    done = 0  # the characters already in batches
    for text in texts:
        while text and len(batches) < n:
            goal = len(batches) * total // n - done  # the current batch should end here
            if goal >= len(text):
                break
            q = safe_cut(text, specials, end=goal + 1) if cut and goal > 0 else 0
            if q == 0 and 2 * goal > len(text):  # no cut before the goal, which is nearer the
                q = len(text)                   # text's end than its start: end after the text
            if q == 0 and not batches[-1]:
                break  # (an overfull batch before: this one takes the text whole)
            if q:
                batches[-1].append(text[:q])
                text, done = text[q:], done + q
            batches.append([])
        if text:
            batches[-1].append(text)
            done += len(text)
    return [b for b in batches if b]


def count_chunks(texts: Iterable[str], pattern: str, specials: Iterable[str] = (),
                 workers: int = 0) -> Counter[str]:
    """:func:`count_chunks_in` over all cores (``workers=0``) or ``workers`` processes.

    A corpus under ``MIN_PARALLEL_CHARS`` characters is counted in this process, where
    starting workers would cost more. One that fits in a task per worker is cut into that many
    equal tasks; a bigger one streams through the workers ``BATCH_CHARS`` at a time.
    """
    specials = tuple(specials)
    workers = workers or os.cpu_count() or 1
    # Read ahead enough to tell a small corpus from a big one. (The module's constants are
    # read at call time: tests shrink them.)
    limit = max(workers * BATCH_CHARS, FAST_SPLIT_CORPUS_CHARS)
    texts = iter(texts)
    head = next(batch_texts(texts, limit), [])  # (texts goes on after the head)
    size = sum(map(len, head))
    big = size >= FAST_SPLIT_CORPUS_CHARS
    if size < limit:  # the whole corpus is in `head`
        if workers == 1 or size < MIN_PARALLEL_CHARS:
            return count_chunks_in(head, pattern, specials, fast_split=big)
        # Cut texts only for the patterns safe_cut is proven for: a custom regex may match
        # across a space, and its chunks must not depend on the number of cores.
        first, *rest = even_batches(head, workers, pattern in (GPT2_PATTERN, GPT4_PATTERN),
                                    specials)
        if not rest:
            return count_chunks_in(first, pattern, specials, fast_split=big)
        # this process counts the first share while the workers count the others
        with process_pool(len(rest), _init_counter, (pattern, specials, big)) as pool:
            pending = pool.imap_unordered(_count_batch, rest)
            total = count_chunks_in(first, pattern, specials, fast_split=big)
            for counts in pending:
                total.update(counts)
        return total
    batches = batch_texts(chain(head, texts), BATCH_CHARS)
    total = Counter()
    if workers == 1:
        for batch in batches:
            total.update(count_chunks_in(batch, pattern, specials, fast_split=big))
        return total
    with process_pool(workers, _init_counter, (pattern, specials, big)) as pool:
        for counts in pool.imap_unordered(_count_batch, batches):
            total.update(counts)
    return total


# ----------------------------------------------------------------------------------------------
# Stage 2: merge.


def index_pairs(words: list[str], freqs: list[int]
                ) -> tuple[defaultdict[str, list[int]], dict[str, int], list[tuple[int, str]]]:
    """The merge loop's starting state for words of token characters with frequencies:
    ``where[pair]`` (the words holding the pair, once per occurrence), ``counts[pair]``
    (occurrences weighted by frequency) and a heap of ``(-count, pair)``.

    >>> where, counts, heap = index_pairs(["aab", "ab"], [1, 5])
    >>> dict(where), counts, heap[0]
    ({'aa': [0], 'ab': [0, 1]}, {'aa': 1, 'ab': 6}, (-6, 'ab'))
    """
    weight = freqs.__getitem__  # word index -> frequency
    # where[pair]: the words that may hold the pair, once per occurrence when it was listed.
    # A list, not a set: a word listed twice, or one that lost the pair to an earlier merge,
    # costs one str.replace that changes nothing, which is cheaper than keeping sets exact.
    where: defaultdict[str, list[int]] = defaultdict(list)
    for i, word in enumerate(words):
        for pair in map(add, word, word[1:]):  # the word's 2-character windows
            where[pair].append(i)
    counts = {pair: sum(map(weight, ws)) for pair, ws in where.items()}  # weighted occurrences
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    return where, counts, heap


def learn_merges(chunk_counts: dict[bytes, int], num_merges: int,
                 first_id: int = 256, fast: bool | None = None) -> Iterator[MergeStep]:
    """Yield up to ``num_merges`` merges learned from ``{chunk bytes: frequency}``.

    Stops early when no pair is left. Merge ``i`` creates id ``first_id + i``. ``fast``: run
    the same loop compiled (:mod:`nanonlp.bpe.fasttrain`, the same merges); by default only
    when the chunks hold ``NUMBA_MIN_BYTES`` bytes or more, where it repays numba's start-up
    (compiled, the steps are all learned before the first is yielded).

    >>> [s.pair for s in learn_merges({b"aaabdaaabac": 1}, 3)]
    [(97, 97), (97, 98), (256, 257)]
    """
    chunks = [c for c in sorted(chunk_counts) if len(c) > 1]  # sorted: the same order each run
    freqs = [chunk_counts[c] for c in chunks]  # (a one-byte chunk has no pair to merge)
    if fast is None:  # (the Python loop's tokens are characters: ids up to sys.maxunicode)
        fast = (sum(map(len, chunks)) >= NUMBA_MIN_BYTES
                or first_id + num_merges > sys.maxunicode + 1)
    if fast:
        from nanonlp.bpe.fasttrain import learn_merges_numba

        pairs, counts = learn_merges_numba(chunks, freqs, num_merges, first_id)
        for rank, (pair, count) in enumerate(zip(pairs, counts)):
            yield MergeStep(rank, pair, first_id + rank, count)
        return

    # A word is a str whose characters are its token ids (chr(id)); latin-1 maps each byte to
    # the character of the same number. Merging is then str.replace, which runs in C and scans
    # left to right without overlaps: exactly reference.merge (tested). A pair is a
    # 2-character str, and strings compare character by character, so the heap orders
    # (-count, pair) exactly as (-count, a, b): the tie-break above.
    words = [c.decode("latin-1") for c in chunks]
    weight = freqs.__getitem__  # word index -> frequency
    where, counts, heap = index_pairs(words, freqs)

    new_id = first_id
    rank = 0
    while rank < num_merges and heap:
        neg, pair = heap[0]
        count = counts.get(pair, 0)
        if count != -neg:  # stale: the pair lost occurrences since this entry was pushed
            if count > 0:
                heapq.heapreplace(heap, (-count, pair))  # (pop and push in one go)
            else:
                heapq.heappop(heap)
            continue
        heapq.heappop(heap)
        a, b = pair
        new = chr(new_id)
        # Only the pairs next to a merged occurrence change: its left pair (x, a) becomes
        # (x, new) and its right pair (b, y) becomes (new, y). Every `new` in a merged word is
        # such an occurrence, so we collect the pairs around them: made[p] lists the words
        # (once per occurrence) where this merge made pair p.
        made: defaultdict[str, list[int]] = defaultdict(list)
        for i in where.pop(pair):
            word = words[i]
            merged = word.replace(pair, new)
            if len(merged) == len(word):  # listed, but no longer holds the pair
                continue
            words[i] = merged
            if len(word) - len(merged) == 1:  # one occurrence, the common case: one C call
                left, _, right = merged.partition(new)
                if left:
                    made[left[-1] + new].append(i)
                if right:
                    made[new + right[0]].append(i)
                continue
            k = merged.find(new)
            while k >= 0:
                # "a b a b" -> "new new": (b, a) became (new, new), the right pair of the first
                # occurrence, so the second one's left pair is not counted again
                if k > 0 and merged[k - 1] != new:
                    made[merged[k - 1:k + 1]].append(i)
                if k + 1 < len(merged):
                    made[merged[k:k + 2]].append(i)
                k = merged.find(new, k + 1)
        for p, ws in made.items():
            c = sum(map(weight, ws))
            counts[p] = c  # p holds `new`, so it is a new pair: no earlier count to add to
            where[p] = ws
            # the pair p replaced loses as many occurrences as p gained
            x, y = p
            if y != new:  # (new, y) replaced (b, y)
                counts[b + y] -= c
            elif x != new:  # (x, new) replaced (x, a)
                counts[x + a] -= c
            else:  # (new, new) replaced (b, a)
                counts[b + a] -= c
            heapq.heappush(heap, (-c, p))
        del counts[pair]  # every occurrence was merged, so its count is now 0
        yield MergeStep(rank, (ord(a), ord(b)), new_id, count)
        rank += 1
        new_id += 1
