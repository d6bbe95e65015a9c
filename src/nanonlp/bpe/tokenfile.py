"""Token id arrays on disk: what the GPT and BERT trainers memory-map.

``.npy`` files carry their dtype and length (``numpy.load(path, mmap_mode="r")``); any other
suffix is a raw little-endian array like nanoGPT's ``train.bin``, whose dtype follows from the
vocabulary size: ``uint16`` when every id fits (vocab_size <= 65,536), else ``uint32``. Files are
written through a temporary file and renamed, so a reader never sees half an array.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from nanonlp.fileio import atomic_write


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every id below ``vocab_size``.

    >>> token_dtype(50257), token_dtype(100277)
    (dtype('uint16'), dtype('uint32'))
    """
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def write_tokens(path: str | os.PathLike, id_lists: Iterable[list[int]],
                 vocab_size: int) -> int:
    """Write the concatenation of ``id_lists`` to ``path`` (``.npy`` or raw); return its length.

    The ids stream through a temporary raw file first, because a ``.npy`` header must state
    the length before the data.
    """
    path = Path(path)
    dtype = token_dtype(vocab_size)
    if path.suffix != ".npy":
        n = 0
        with atomic_write(path, "wb") as f:
            for ids in id_lists:
                np.asarray(ids, dtype=dtype).tofile(f)
                n += len(ids)
        return n
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path.parent) as raw:
        n = 0
        for ids in id_lists:
            np.asarray(ids, dtype=dtype).tofile(raw)
            n += len(ids)
        raw.seek(0)
        with atomic_write(path, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                      "shape": (n,)}
            np.lib.format.write_array_header_1_0(f, header)
            shutil.copyfileobj(raw, f, 1 << 20)
    return n


def read_tokens(path: str | os.PathLike, vocab_size: int | None = None) -> np.ndarray:
    """Memory-map a token file; a raw file needs ``vocab_size`` to know its dtype."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, mmap_mode="r")
    if vocab_size is None:
        raise ValueError("a raw token file needs vocab_size to know its dtype")
    return np.memmap(path, dtype=token_dtype(vocab_size), mode="r")
