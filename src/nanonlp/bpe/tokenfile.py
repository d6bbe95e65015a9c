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

from nanonlp.errors import DataError
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
    """Memory-map a token file; a raw file needs ``vocab_size`` to know its dtype.

    A file that is not a 1-D integer array (a truncated or pickled ``.npy``, float ids, a raw
    file whose size is not a whole number of ids) is a :class:`DataError` naming it. An empty
    raw file is zero tokens, as :func:`write_tokens` writes for an empty text.
    """
    path = Path(path)
    if path.suffix == ".npy":
        try:
            arr = np.load(path, mmap_mode="r")
        except (ValueError, EOFError, OSError) as e:
            if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise DataError(f"{path}: not a .npy token array ({e})") from None
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise DataError(f"{path}: expected a 1-D integer array of token ids, got "
                            f"{arr.dtype} with shape {arr.shape}")
        return arr
    if vocab_size is None:
        raise ValueError("a raw token file needs vocab_size to know its dtype")
    dtype = token_dtype(vocab_size)
    size = path.stat().st_size
    if size % dtype.itemsize:
        raise DataError(f"{path}: {size} bytes is not a whole number of {dtype} token ids "
                        f"({dtype.itemsize} bytes each); is it a raw token file for this "
                        "vocabulary?")
    if size == 0:  # numpy cannot memory-map an empty file
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r")
