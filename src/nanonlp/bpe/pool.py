"""The process pool that BPE's parallel passes share: chunk counting in training, and
:meth:`~nanonlp.bpe.tokenizer.Tokenizer.encode_batch` / ``encode_file``.

Each worker is set up once by ``initializer(*initargs)`` (the split pattern, or a whole
tokenizer) and then receives only the texts, so the per-task message stays small.
"""

from __future__ import annotations

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
    return ctx.Pool(workers, initializer=initializer, initargs=initargs)
