"""The process pool that BPE's parallel passes share: chunk counting in training, and
:meth:`~nanonlp.bpe.tokenizer.Tokenizer.encode_batch` / ``encode_file``.

Each worker is set up once by ``initializer(*initargs)`` (the split pattern, or a whole
tokenizer) and then receives only the texts, so the per-task message stays small.
"""

from __future__ import annotations

import ctypes
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
    fork = "fork" in mp.get_all_start_methods()
    if fork:
        release_free_heap()
    ctx = mp.get_context("fork" if fork else "spawn")
    return ctx.Pool(workers, initializer=_start_worker, initargs=(initializer, *initargs))


def release_free_heap() -> bool:
    """Hand the C heap's free memory back to the OS (glibc's ``malloc_trim``); False where
    there is no such call (macOS, musl).

    Called before forking: memory freed earlier (a previous result, another library's
    buffers) stays mapped in the heap, and after a fork both the workers' and this process's
    new objects land in those shared pages, so each first write copies a page. In the BPE
    benchmark's process (2 GB after tiktoken and HF had run), that made 2-process encoding of
    20 MB slower than one process: 3.1-3.3 s, 1.5-1.8 s of them this process's CPU, against
    1.75-2.0 s and 0.4-0.5 s after a trim (the trim itself takes 0.1-0.2 s there).
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return False
    trim(0)
    return True


def _start_worker(initializer: Callable[..., None], *initargs) -> None:
    # A forked worker inherits the parent's whole heap, and the parent may hold GBs of Python
    # objects (a benchmark's earlier results, a training corpus). Without this, the worker's
    # garbage collections walk every inherited container, and writing their headers copies
    # their pages: 2-process encoding of 20 MB went from 1.26x to 1.77x one process by
    # freezing them (gc.freeze: leave everything that exists now out of every collection).
    gc.freeze()
    initializer(*initargs)
