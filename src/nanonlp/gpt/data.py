"""GPT data: ``prepare`` turns text into token arrays; :class:`TokenData` samples batches.

``prepare`` reads a named data set (``nanonlp data list``) or text files, tokenizes them with a
character vocabulary (nanoGPT's ``shakespeare_char``) or a nanonlp BPE model (``nanonlp bpe
train``), and writes into one folder::

    train.bin  val.bin   raw little-endian token ids, uint16 (uint32 past 65,536 tokens),
                         memory-mappable like nanoGPT's
    meta.json            vocabulary size, dtype, token counts, source, tokenizer file
    tokenizer.model      the tokenizer (nanonlp.bpe's text format) that decodes the ids

The split is by position, as in nanoGPT: the first ``1 - val_fraction`` of the text trains,
the rest validates, so validation text is text the model has never seen any part of.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanonlp.bpe.formats import TOKENIZER_FILE, load_tokenizer
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, read_text, split_member

META = "meta.json"


@dataclass
class PrepareConfig:
    source: str = "tinyshakespeare"  # data set name (nanonlp data list) or file(s), comma-separated
    out: str = "data/gpt"  # folder for train.bin, val.bin, meta.json, tokenizer.model
    tokenizer: str = "char"  # "char" (learned from the text) or a BPE .model file
    val_fraction: float = 0.1  # the last part of the text, held out for validation
    split: str | None = None  # data set split to read (None: its default, usually all)
    max_chars: int | None = None  # read only about this many characters (quick experiments)

    def __post_init__(self):
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not self.source:
            raise ConfigError("source is empty: give a data set name or a text file")
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"max_chars must be >= 1 (or None), got {self.max_chars}")


def read_source(source: str, split: str | None = None,
                max_chars: int | None = None) -> tuple[str, str]:
    """The text of a data set or of comma-separated files, and a description of where from.

    ``max_chars`` stops reading a data set once that many characters are in (whole lines or
    records; a file is cut exactly).
    """
    from nanonlp import datasets as D

    names = [s.strip() for s in source.split(",") if s.strip()]
    # a zip member (``fra-eng.zip::fra.txt``) is a file when its archive is
    if len(names) == 1 and not split_member(names[0])[0].exists():
        try:
            D.get_dataset(names[0])
        except Exception:
            raise DataError(f"{names[0]}: neither a file nor a data set name "
                            "(see `nanonlp data list`)") from None
        lines, n = [], 0
        for line in D.text(names[0], split):
            lines.append(line)
            n += len(line) + 1
            if max_chars is not None and n >= max_chars:
                break
        # every line ends in a newline, as in the file (tinyshakespeare's 1,115,394 characters)
        return "".join(line + "\n" for line in lines), \
            f"data set {names[0]}" + (f" ({split})" if split else "")
    text = "\n".join(read_text(n) for n in names)
    return text[:max_chars] if max_chars else text, ", ".join(names)


def prepare(config: PrepareConfig) -> dict[str, Any]:
    """Tokenize the source into ``train.bin`` / ``val.bin``; return the meta dict written.

    The four files are built in a temporary folder beside ``out`` and swapped in together
    (other files already in ``out`` stay), so an interrupted run never leaves a new
    ``train.bin`` beside an old ``meta.json`` or tokenizer.
    """
    from nanonlp.bpe import CharTokenizer
    from nanonlp.bpe.tokenfile import token_dtype, write_tokens
    from nanonlp.fileio import atomic_dir

    text, where = read_source(config.source, config.split, config.max_chars)
    if not text:
        raise DataError(f"{where}: no text")
    tok = CharTokenizer.train(text) if config.tokenizer == "char" \
        else load_tokenizer(config.tokenizer)
    kind = "char" if config.tokenizer == "char" else "bpe"
    with atomic_dir(config.out, keep_others=True) as out:
        if kind == "char":
            tok.save(out / "tokenizer")  # writes tokenizer.model
        else:
            with open(config.tokenizer, "rb") as src, \
                    atomic_write(out / TOKENIZER_FILE, "wb") as f:
                shutil.copyfileobj(src, f)
        cut = int(len(text) * (1 - config.val_fraction))
        counts = {}
        for split, part in (("train", text[:cut]), ("val", text[cut:])):
            ids = tok.encode(part, allowed_special="all")
            if len(ids) < 2:  # GPT training would refuse the folder, so do not write it
                s = "" if len(ids) == 1 else "s"
                raise DataError(f"{where}: the {split} split holds {len(ids)} token{s}; a split "
                                "needs block_size + 1 tokens for one window (2 at the least): "
                                "give more text" + (" or a larger val_fraction"
                                                    if split == "val" else ""))
            counts[split] = write_tokens(out / f"{split}.bin", [ids], tok.vocab_size)
        meta = {"vocab_size": tok.vocab_size, "dtype": token_dtype(tok.vocab_size).name,
                "tokenizer": kind, "tokenizer_file": TOKENIZER_FILE, "source": where,
                "characters": len(text), "tokens": counts,
                "val_fraction": config.val_fraction}
        with atomic_write(out / META) as f:
            json.dump(meta, f, indent=1)
    return meta


class TokenData:
    """Random windows from the train/val token arrays (nanoGPT's ``get_batch``).

    ``batch(split, batch_size, generator)`` returns ``((x,), y)`` with x (B, T) the window and
    y (B, T) the same window shifted by one token: position t predicts token t + 1.
    """

    def __init__(self, splits: dict[str, np.ndarray], block_size: int, vocab_size: int,
                 names: dict[str, str] | None = None):
        self.splits = splits
        self.block_size = block_size
        self.vocab_size = vocab_size
        names = names or {}
        for split, arr in splits.items():
            where = names.get(split, split)
            if len(arr) < block_size + 1:
                raise DataError(f"{where}: {len(arr):,} tokens, fewer than block_size + 1 = "
                                f"{block_size + 1}; lower block_size or add text")
            hi = int(arr.max())
            if hi >= vocab_size:
                raise DataError(f"{where}: token id {hi} is outside the vocabulary "
                                f"(0..{vocab_size - 1})")

    @classmethod
    def load(cls, folder: str | os.PathLike, block_size: int) -> TokenData:
        """Memory-map ``train.bin`` and ``val.bin`` of a folder ``prepare`` wrote."""
        folder = Path(folder)
        meta = read_meta(folder)
        dtype = np.dtype(meta["dtype"]).newbyteorder("<")
        arrays, names = {}, {}
        for split in ("train", "val"):
            path = folder / f"{split}.bin"
            if not path.exists():
                raise DataError(f"{path}: missing (run `nanonlp gpt prepare` first)")
            if path.stat().st_size % dtype.itemsize:
                raise DataError(f"{path}: size is not a whole number of {dtype.name} ids")
            arrays[split] = np.memmap(path, dtype=dtype, mode="r") \
                if path.stat().st_size else np.zeros(0, dtype)
            names[split] = str(path)
        return cls(arrays, block_size, int(meta["vocab_size"]), names)

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        data = self.splits[split]
        T = self.block_size
        starts = torch.randint(len(data) - T, (batch_size,), generator=generator).tolist()
        rows = np.stack([np.asarray(data[i:i + T + 1], dtype=np.int64) for i in starts])
        t = torch.from_numpy(rows)  # (B, T + 1)
        return (t[:, :-1],), t[:, 1:]


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    from nanonlp.fileio import recover_dir

    with contextlib.suppress(OSError):  # a read-only folder: read what is there
        recover_dir(folder)  # a prepare killed mid-swap: put the complete folder back
    path = Path(folder) / META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing; run `nanonlp gpt prepare --out {folder}` first") \
            from None
    except json.JSONDecodeError:
        raise DataError(f"{path}: not valid JSON") from None
    for key in ("vocab_size", "dtype"):
        if key not in meta:
            raise DataError(f"{path}: no {key!r} field")
    return meta
