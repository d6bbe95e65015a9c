"""GPT data: ``prepare`` turns text into token arrays; :class:`TokenData` samples batches.

``prepare`` reads a named data set (``nanonlp data list``) or text files, tokenizes them with a
character vocabulary (nanoGPT's ``shakespeare_char``) or a nanonlp BPE model (``nanonlp bpe
train``), and writes into one folder::

    train.bin  val.bin   raw little-endian token ids, uint16 (uint32 past 65,536 tokens),
                         memory-mappable like nanoGPT's
    meta.json            vocabulary size, dtype, token counts, source, tokenizer file
    tokenizer.model      the tokenizer (nanonlp.bpe's text format) that decodes the ids

One text (a data set, or text files) is split by position, as in nanoGPT: the first
``1 - val_fraction`` of the text trains, the rest validates, so validation text is text the
model has never seen any part of. It streams in ~1 MB pieces cut where the tokenizer's split
pattern would cut anyway, so memory does not grow with the text.

A corpus of many documents (a folder, a glob, JSON lines, Parquet: :mod:`nanonlp.gpt.sources`)
goes through :mod:`nanonlp.gpt.shards` instead: documents are streamed, split by a hash of each,
and written to fixed-size shards ``train_000000.bin``... listed with their sha256 in
``meta.json``.
:class:`TokenData` reads either layout, and a nanoGPT folder (``train.bin``/``val.bin``, no
``meta.json``) given its vocabulary size.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanonlp.bpe.formats import TOKENIZER_FILE, load_tokenizer
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, split_member

META = "meta.json"


@dataclass
class PrepareConfig:
    source: str = "tinyshakespeare"  # data set, text file(s), or folders/globs/.jsonl/.parquet; a,b
    out: str = "data/gpt"  # folder for train.bin, val.bin, meta.json, tokenizer.model
    tokenizer: str = "char"  # "char" (learned from the text) or a BPE .model file
    val_fraction: float = 0.1  # held out: the end of one text, or documents picked by their hash
    split: str | None = None  # data set split to read (None: its default, usually all)
    max_chars: int | None = None  # read only about this many characters (quick experiments)
    workers: int = 1  # processes that encode (0: all cores)
    text_field: str = "text"  # the text of a JSON line or the text column of a Parquet file
    errors: str = "strict"  # a document that is not UTF-8: strict (stop, naming it) or skip
    shard_tokens: int = 100_000_000  # ids per shard of documents (100M as modded-nanogpt's)

    def __post_init__(self):
        if self.errors not in ("strict", "skip"):
            raise ConfigError(f"errors must be strict or skip, got {self.errors!r}")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0 (0: all cores), got {self.workers}")
        if self.shard_tokens < 1:
            raise ConfigError(f"shard_tokens must be >= 1, got {self.shard_tokens}")
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
    where = describe_source(source, split)
    return "".join(text_pieces(source, split, max_chars)), where


def describe_source(source: str, split: str | None = None) -> str:
    """Where a single text comes from (checked: a data set name or existing files)."""
    from nanonlp import datasets as D

    names = [s.strip() for s in source.split(",") if s.strip()]
    # a zip member (``fra-eng.zip::fra.txt``) is a file when its archive is
    if len(names) == 1 and not split_member(names[0])[0].exists():
        try:
            D.get_dataset(names[0])
        except Exception:
            raise DataError(f"{names[0]}: neither a file nor a data set name "
                            "(see `nanonlp data list`)") from None
        return f"data set {names[0]}" + (f" ({split})" if split else "")
    return ", ".join(names)


def text_pieces(source: str, split: str | None = None, max_chars: int | None = None,
                errors: str = "strict") -> Iterator[str]:
    """The text of a data set (its lines, each ending in a newline, as in the file:
    tinyshakespeare's 1,115,394 characters) or of files joined by newlines, in pieces.

    ``errors="skip"`` leaves bytes that are not UTF-8 out of a file instead of stopping.
    """
    from nanonlp import datasets as D
    from nanonlp.gpt.sources import open_packed

    where = describe_source(source, split)
    names = [s.strip() for s in source.split(",") if s.strip()]
    n = 0
    if where.startswith("data set "):
        for line in D.text(names[0], split):
            yield line + "\n"
            n += len(line) + 1
            if max_chars is not None and n >= max_chars:
                return
        return
    budget = max_chars if max_chars is not None else -1
    for i, name in enumerate(names):
        if i:  # the files are joined by a newline
            if budget == 0:
                return
            yield "\n"
            budget -= 1 if budget > 0 else 0
        with open_packed(name) as f:
            for piece in decode_stream(f, name, errors):
                if budget >= 0 and len(piece) >= budget:
                    if budget:
                        yield piece[:budget]
                    return
                budget -= len(piece) if budget >= 0 else 0
                yield piece


def _skip_and_count(e: UnicodeDecodeError) -> tuple[str, int]:
    skipped_bytes[0] += e.end - e.start
    return "", e.end


SKIP = "nanonlp-skip"  # the codec error handler of errors="skip": leaves bad bytes out, counted
skipped_bytes = [0]  # bytes left out so far, in this process
codecs.register_error(SKIP, _skip_and_count)


def decode_stream(f, name: str, errors: str = "strict", size: int = 1 << 20) -> Iterator[str]:
    """Decode a binary stream as UTF-8 in pieces; a bad byte is a :class:`DataError` naming
    the file, its line and byte offset (``errors="skip"``: left out, and counted in
    ``skipped_bytes``)."""
    decoder = codecs.getincrementaldecoder("utf-8")(SKIP if errors == "skip" else "strict")
    offset, lines = 0, 1  # at the start of the bytes being decoded
    while True:
        data = f.read(size)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            bad = e.object  # undecoded bytes held over + this read
            held = len(bad) - len(data)
            pos = offset - held + e.start
            line = lines + bad.count(b"\n", 0, e.start)
            raise DataError(f"{name}:{line}: not valid UTF-8 "
                            f"(byte {bad[e.start]:#04x} at byte offset {pos:,})") from None
        offset += len(data)
        lines += data.count(b"\n")
        if text:
            yield text
        if not data:
            return


def safe_pieces(pieces: Iterable[str], specials: Iterable[str], size: int) -> Iterator[str]:
    """Regroup text into pieces of about ``size`` characters that encode as the whole does
    (cut just before a space that follows a non-space: see :mod:`nanonlp.bpe.stream`).

    >>> list(safe_pieces(["one tw", "o three"], (), 5))
    ['one', ' two', ' three']
    """
    from nanonlp.bpe.stream import safe_cut

    parts: list[str] = []
    held = 0
    for p in pieces:
        parts.append(p)
        held += len(p)
        if held >= size:
            buf = "".join(parts)
            q = safe_cut(buf, specials)
            if q:
                yield buf[:q]
                buf = buf[q:]
            parts, held = [buf], len(buf)
    if held:
        yield "".join(parts)


def char_range(pieces: Iterable[str], lo: int, hi: int) -> Iterator[str]:
    """Characters ``lo`` to ``hi`` of the text the pieces make.

    >>> list(char_range(["abc", "def", "gh"], 2, 7))
    ['c', 'def', 'g']
    """
    pos = 0
    for p in pieces:
        end = pos + len(p)
        if end > lo and pos < hi:
            yield p[max(0, lo - pos):min(len(p), hi - pos)]
        if end >= hi:
            return
        pos = end


def prepare(config: PrepareConfig, progress: bool = False) -> dict[str, Any]:
    """Tokenize the source into ``train.bin`` / ``val.bin`` (one text) or shards (a corpus of
    documents); return the meta dict written. ``progress`` shows a bar (MB/s, tokens, ETA).

    For one text, the four files are built in a temporary folder beside ``out`` and swapped in
    together (other files already in ``out`` stay), so an interrupted run never leaves a new
    ``train.bin`` beside an old ``meta.json`` or tokenizer.
    """
    from nanonlp.gpt.sources import is_document_source

    if is_document_source(config.source):
        return _prepare_documents(config, progress)
    return _prepare_text(config, progress)


def _prepare_text(config: PrepareConfig, progress: bool) -> dict[str, Any]:
    from nanonlp.bpe import CharTokenizer
    from nanonlp.bpe.tokenfile import token_dtype, write_tokens
    from nanonlp.fileio import atomic_dir

    where = describe_source(config.source, config.split)

    def pieces() -> Iterator[str]:  # read again for each pass: never held whole
        return text_pieces(config.source, config.split, config.max_chars, config.errors)

    before = skipped_bytes[0]
    n_chars = sum(map(len, pieces()))
    skipped = skipped_bytes[0] - before  # (the first pass reads every byte once)
    if not n_chars:
        raise DataError(f"{where}: no text")
    tok = CharTokenizer.train(pieces()) if config.tokenizer == "char" \
        else load_tokenizer(config.tokenizer)
    kind = "char" if config.tokenizer == "char" else "bpe"
    bar = _bar(n_chars, "characters", progress)
    with atomic_dir(config.out, keep_others=True) as out:
        if kind == "char":
            tok.save(out / "tokenizer")  # writes tokenizer.model
        else:
            with open(config.tokenizer, "rb") as src, \
                    atomic_write(out / TOKENIZER_FILE, "wb") as f:
                shutil.copyfileobj(src, f)
        cut = int(n_chars * (1 - config.val_fraction))
        counts = {}
        for split, lo, hi in (("train", 0, cut), ("val", cut, n_chars)):
            ids = _encode_text(char_range(pieces(), lo, hi), tok, config.workers, bar)
            counts[split] = n = write_tokens(out / f"{split}.bin", ids, tok.vocab_size)
            if n < 2:  # GPT training would refuse the folder, so do not write it
                s = "" if n == 1 else "s"
                raise DataError(f"{where}: the {split} split holds {n} token{s}; a split "
                                "needs block_size + 1 tokens for one window (2 at the least): "
                                "give more text" + (" or a larger val_fraction"
                                                    if split == "val" else ""))
        meta = {"vocab_size": tok.vocab_size, "dtype": token_dtype(tok.vocab_size).name,
                "tokenizer": kind, "tokenizer_file": TOKENIZER_FILE, "source": where,
                "characters": n_chars, "skipped_bytes": skipped, "tokens": counts,
                "val_fraction": config.val_fraction}
        with atomic_write(out / META) as f:
            json.dump(meta, f, indent=1)
    if bar is not None:
        bar.close()
    return meta


def _encode_text(pieces: Iterable[str], tok, workers: int, bar=None) -> Iterator[np.ndarray]:
    """The ids of the text the pieces make, piece by piece (in ``workers`` processes)."""
    from nanonlp.bpe.stream import PIECE_CHARS
    from nanonlp.gpt.shards import ordered_map

    specials = getattr(tok, "special_tokens", {})
    if getattr(tok, "pattern", "char") == "":  # pattern none: the whole text is one chunk
        pieces = iter(["".join(pieces)])
    else:
        pieces = safe_pieces(pieces, specials, PIECE_CHARS)
    workers = workers or os.cpu_count() or 1
    for ids, n in ordered_map(_encode_piece, pieces, workers, _start_piece_encoder, (tok,)):
        if bar is not None:
            bar.update(n)
        yield ids


_piece_tok: list = []
_piece_count = [0]
TRIM_EVERY = 4  # pieces (of ~1 MB) a worker encodes between two heap trims


def _start_piece_encoder(tok) -> None:
    _piece_tok[:] = [tok]


def _encode_piece(text: str) -> tuple[np.ndarray, int]:
    from nanonlp.bpe.pool import release_free_heap

    # uint32 holds every id; write_tokens narrows to the file's dtype
    ids = np.asarray(_piece_tok[0].encode(text, allowed_special="all"), np.uint32)
    # Every piece of a long text, and so every buffer its split and encoding need, has
    # another size; glibc serves them from holes earlier pieces freed, and the heap grows in
    # fragments: `gpt prepare` of one 50 / 150 / 300 MB text peaked at 0.65 / 0.83 / 0.99
    # GiB (all processes, 2 workers) without a trim; with one every 4 pieces, 0.66 / 0.70 /
    # 0.72, and 0.76 at 600 MB, in the same time (43.9 s against 42.7 at 300 MB).
    _piece_count[0] += 1
    if _piece_count[0] % TRIM_EVERY == 0:
        release_free_heap()
    return ids, len(text)


def _bar(total: int | None, unit: str, show: bool):
    """A progress bar (characters or bytes, MB/s and ETA from tqdm), or None."""
    if not show:
        return None
    from nanonlp.progress import tqdm

    # disable=None: no bar where stderr is not a terminal (logs, tests)
    return tqdm(total=total, unit="B" if unit == "bytes" else "char", unit_scale=True,
                unit_divisor=1000, desc="prepare", disable=None, smoothing=0.1)


def _prepare_documents(config: PrepareConfig, progress: bool) -> dict[str, Any]:
    """A corpus of documents -> train/val shards in ``out`` (see :mod:`nanonlp.gpt.shards`).

    ``meta.json`` is written last, so a folder without it is unfinished; a bad input leaves
    no shard of this run behind (and no ``out`` folder that was not there before).
    """
    from nanonlp.bpe.tokenfile import token_dtype
    from nanonlp.gpt import shards as S
    from nanonlp.gpt.sources import PACKED, expand_source, inner_suffix

    if config.tokenizer == "char":
        raise ConfigError("a corpus of documents needs a BPE tokenizer with an end-of-text "
                          "token (--tokenizer FILE.model, from `nanonlp bpe train`); the "
                          "character vocabulary is for one small text")
    files = expand_source(config.source)
    tok = load_tokenizer(config.tokenizer)
    eot = S.end_of_text(tok)
    out = Path(config.out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    # the bar's total is the bytes on disk where they are the bytes read (no ETA otherwise)
    packed = any(Path(f).suffix in PACKED or inner_suffix(f) == ".parquet" for f in files)
    bar = _bar(None if packed else sum(split_member(f)[0].stat().st_size for f in files),
               "bytes", progress)
    settings = {"val_fraction": config.val_fraction, "text_field": config.text_field,
                "errors": config.errors}
    try:
        got = S.prepare_documents(files, out, tok, config.tokenizer, settings,
                                  config.workers or os.cpu_count() or 1, config.shard_tokens,
                                  config.max_chars, bar)
        where = ", ".join(s.strip() for s in config.source.split(",") if s.strip())
        for split in ("train", "val"):
            if got["tokens"][split] < 2:
                raise DataError(f"{where}: the {split} split holds {got['tokens'][split]} "
                                f"tokens ({got['documents']:,} documents in all); give more "
                                "documents" + (" or a larger val_fraction"
                                               if split == "val" else ""))
        with open(config.tokenizer, "rb") as src, atomic_write(out / TOKENIZER_FILE, "wb") as f:
            shutil.copyfileobj(src, f)
        meta = {"vocab_size": tok.vocab_size, "dtype": token_dtype(tok.vocab_size).name,
                "tokenizer": "bpe", "tokenizer_file": TOKENIZER_FILE, "source": where,
                "files": len(files), "split": "hash", "val_fraction": config.val_fraction,
                "end_of_text": eot, "shard_tokens": config.shard_tokens, **got}
        with atomic_write(out / META) as f:
            json.dump(meta, f, indent=1)
    except DataError:
        S.clear_folder(out)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    finally:
        if bar is not None:
            bar.close()
    return meta


class TokenData:
    """Random windows from the train/val token arrays (nanoGPT's ``get_batch``).

    ``batch(split, batch_size, generator)`` returns ``((x,), y)`` with x (B, T) the window and
    y (B, T) the same window shifted by one token: position t predicts token t + 1.

    A split in shards is one :class:`~nanonlp.gpt.shards.TokenStream`: a window may run across
    a shard boundary (nanoGPT draws within its one file per split), so shards and one ``.bin``
    of the same ids give the same windows for the same generator.
    """

    def __init__(self, splits: dict[str, np.ndarray], block_size: int, vocab_size: int,
                 names: dict[str, str] | None = None):
        from nanonlp.gpt.shards import TokenStream

        self.splits = splits
        self.block_size = block_size
        self.vocab_size = vocab_size
        names = names or {}
        for split, arr in splits.items():
            where = names.get(split, split)
            if len(arr) < block_size + 1:
                raise DataError(f"{where}: {len(arr):,} tokens, fewer than block_size + 1 = "
                                f"{block_size + 1}; lower block_size or add text")
            if isinstance(arr, TokenStream):  # shards: their sha256 was checked instead of a
                continue                      # scan of every id (9B ids for OpenWebText)
            hi = int(arr.max())
            if hi >= vocab_size:
                raise DataError(f"{where}: token id {hi} is outside the vocabulary "
                                f"(0..{vocab_size - 1})")

    @classmethod
    def load(cls, folder: str | os.PathLike, block_size: int,
             vocab_size: int | None = None) -> TokenData:
        """Memory-map the splits of a folder ``prepare`` wrote: ``train.bin`` and ``val.bin``,
        or the shards ``meta.json`` lists (each checked against its sha256). ``vocab_size``
        reads a folder of nanoGPT's (``train.bin``/``val.bin``, no ``meta.json``)."""
        from nanonlp.gpt.shards import load_shards

        folder = Path(folder)
        meta = read_meta(folder, vocab_size)
        dtype = np.dtype(meta["dtype"]).newbyteorder("<")
        arrays, names = {}, {}
        for split in ("train", "val"):
            if "shards" in meta:
                arrays[split] = load_shards(folder, meta, split)
                names[split] = str(folder / f"{split}_*.bin")
                continue
            path = folder / f"{split}.bin"
            if not path.exists():
                raise DataError(f"{path}: missing (run `nanonlp gpt prepare` first)")
            size = path.stat().st_size
            if size % dtype.itemsize:
                raise DataError(f"{path}: {size:,} bytes is not a whole number of {dtype.name} "
                                f"ids ({dtype.itemsize} bytes each)")
            arrays[split] = np.memmap(path, dtype=dtype, mode="r") \
                if size else np.zeros(0, dtype)
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


def read_meta(folder: str | os.PathLike, vocab_size: int | None = None) -> dict[str, Any]:
    """The ``meta.json`` of a prepared folder; for a folder of nanoGPT's (``train.bin`` and
    no ``meta.json``), what ``vocab_size`` implies (uint16 ids up to 65,536 tokens)."""
    from nanonlp.bpe.tokenfile import token_dtype
    from nanonlp.fileio import recover_dir

    with contextlib.suppress(OSError):  # a read-only folder: read what is there
        recover_dir(folder)  # a prepare killed mid-swap: put the complete folder back
    path = Path(folder) / META
    if vocab_size is not None and not path.exists():
        if vocab_size < 1:
            raise ConfigError(f"vocab_size must be >= 1, got {vocab_size}")
        return {"vocab_size": vocab_size, "dtype": token_dtype(vocab_size).name,
                "source": f"{folder} (nanoGPT .bin)"}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = " (a nanoGPT folder? give its --vocab_size)" \
            if (Path(folder) / "train.bin").exists() else ""
        raise DataError(f"{path}: missing; run `nanonlp gpt prepare --out {folder}` first"
                        + hint) from None
    except json.JSONDecodeError:
        raise DataError(f"{path}: not valid JSON") from None
    for key in ("vocab_size", "dtype"):
        if key not in meta:
            raise DataError(f"{path}: no {key!r} field")
    if vocab_size is not None and vocab_size < int(meta["vocab_size"]):
        raise ConfigError(f"vocab_size {vocab_size} is smaller than the data's vocabulary "
                          f"({meta['vocab_size']}, {path})")
    return meta
