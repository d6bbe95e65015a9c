"""The process pool that BPE's parallel passes share: chunk counting in training, and
:meth:`~nanonlp.bpe.tokenizer.Tokenizer.encode_batch` / ``encode_file``.

Each worker is set up once by ``initializer(*initargs)`` (the split pattern, or a whole
tokenizer) and then receives only the texts, so the per-task message stays small.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import multiprocessing.pool
from collections.abc import Callable


def process_pool(workers: int, initializer: Callable[..., None],
                 initargs: tuple = ()) -> multiprocessing.pool.Pool:
    """A pool of ``workers`` processes, each set up by ``initializer(*initargs)``.

    Forked where the platform can fork (workers start at once and inherit the loaded modules);
    spawned elsewhere (macOS, Windows), where ``initargs`` are pickled to each worker.
    """
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    return ctx.Pool(workers, initializer=_start_worker, initargs=(initializer, *initargs))


def _start_worker(initializer: Callable[..., None], *initargs) -> None:
    # A forked worker inherits the parent's whole heap, and the parent may hold GBs of Python
    # objects (a benchmark's earlier results, a training corpus). Without this, the worker's
    # garbage collections walk every inherited container, and writing their headers copies
    # their pages: 2-process encoding of 20 MB went from 1.26x to 1.77x one process by
    # freezing them (gc.freeze: leave everything that exists now out of every collection).
    gc.freeze()
    initializer(*initargs)
