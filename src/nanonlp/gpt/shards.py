"""Token shards: a corpus of many documents, streamed into fixed-size token files, and read back.

``prepare_documents`` reads documents one at a time from :mod:`nanonlp.gpt.sources` (text
files, JSON lines, Parquet rows; ``.gz``/``.xz``/``.bz2``/``.zst`` unpacked on the fly), encodes
them in ``workers`` processes and writes each split as shards of ``shard_tokens`` ids::

    train_000000.bin  train_000001.bin ... val_000000.bin ...   raw little-endian ids, uint16
                                                               (uint32 past 65,536 tokens),
                                                               nanoGPT's .bin layout
    meta.json        shards (file, tokens, sha256), dtype, source, tokenizer

Each document is its ordinary tokens (special-token text stays text, as nanoGPT's
``encode_ordinary``) followed by the end-of-text token, so documents are separated in the
stream. A document goes to val when a hash of its text falls below ``val_fraction``: the split
depends on the document alone, not on file order or worker count, and a document is never cut
between train and val. The output depends only on the documents and their order: batches and
workers change the speed, not a byte.

Memory stays flat: documents stream in, at most a few batches are in flight, and a shard is
appended to a hidden ``.SPLIT_NNNNNN.bin.partial`` file that is renamed into place when full.
A resume file records, every few seconds, how many documents are in and how long each partial
file was at that moment; a killed run started again truncates the partials to those lengths,
skips the documents already in, and ends byte-identical to a run that was never stopped.

:class:`TokenStream` reads the shards back as one memory-mapped sequence per split.
Left out: deduplication and quality filtering (FineWeb's pipeline).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanonlp.bpe.tokenfile import token_dtype
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, sha256_file, split_member
from nanonlp.gpt.sources import RawDoc, document_text, inner_suffix, iter_raw_documents

SHARD = "{split}_{index:06d}.bin"
RESUME = ".prepare-resume.json"  # hidden: the state of an unfinished prepare
EOT = "<|endoftext|>"
BATCH_BYTES = 1 << 20  # documents per worker task: about 1 MB of text amortises the messages
CHECKPOINT_SECONDS = 5.0  # how often the resume file is brought up to date


# ----------------------------------------------------------------------------------------------
# encoding in workers


def end_of_text(tok) -> int:
    """The id that ends each document: ``<|endoftext|>``, else the tokenizer's only special."""
    specials = getattr(tok, "special_tokens", {})
    if EOT in specials:
        return specials[EOT]
    if len(specials) == 1:
        return next(iter(specials.values()))
    raise ConfigError("a corpus of documents needs a BPE tokenizer with an end-of-text special "
                      f"token ({EOT}); it has {sorted(specials) or 'none'} (train one with "
                      "`nanonlp bpe train`, whose default --special is <|endoftext|>)")


def in_val(data: bytes, val_fraction: float) -> bool:
    """Whether a document (its UTF-8 bytes) belongs to the validation split: the first 8 bytes
    of its BLAKE2b digest, read as a fraction of 2**64, fall below ``val_fraction``.

    >>> in_val(b"hello", 0.5), in_val(b"hello", 0.0001)
    (True, False)
    """
    h = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    return h < val_fraction * (1 << 64)


@dataclass
class Encoded:
    """What a worker returns for a batch of documents."""
    train: np.ndarray  # the train documents' ids, each followed by end-of-text
    val: np.ndarray
    docs: int = 0  # raw documents consumed (skipped ones included)
    n_bytes: int = 0  # their size as read (the progress bar's measure)
    chars: int = 0
    skipped: int = 0  # documents left out as not valid UTF-8 (errors="skip")
    empty: int = 0  # documents with no text


_worker: dict[str, Any] = {}


def start_encoder(tok, settings: dict[str, Any]) -> None:
    """Set up this process to encode (the pool's initializer, or the main process's)."""
    with contextlib.suppress(AttributeError):
        tok._fast_path()  # load the compiled merge loop now, not in every small document
    _worker.update(settings, tok=tok, eot=end_of_text(tok))


def encode_documents(batch: list[RawDoc]) -> Encoded:
    """Decode, pick the split of and encode each document of a batch (runs in a worker)."""
    tok, eot, vf = _worker["tok"], _worker["eot"], _worker["val_fraction"]
    out: dict[bool, list[int]] = {False: [], True: []}  # in val? -> the ids, one flat list
    res = Encoded(np.zeros(0), np.zeros(0), docs=len(batch),
                  n_bytes=sum(len(doc[0]) for doc in batch))
    for raw, name, line, offset in batch:
        text = document_text(raw, name, line, offset, text_field=_worker["text_field"],
                             errors=_worker["errors"], jsonl=_worker["jsonl"].get(name, False))
        if text is None:
            res.skipped += 1
            continue
        if not text:
            res.empty += 1
            continue
        res.chars += len(text)
        ids = out[in_val(text.encode("utf-8"), vf)]
        ids += tok.encode_ordinary(text)
        ids.append(eot)
    # one array per split and batch: far cheaper to send back than a list per document
    res.train, res.val = (np.array(out[s], dtype=_worker["dtype"]) for s in (False, True))
    return res


def ordered_map(fn: Callable, items: Iterable, workers: int, init: Callable,
                initargs: tuple, ahead: int = 2) -> Iterator:
    """``fn`` over ``items`` in ``workers`` processes, results in input order, with at most
    ``ahead`` tasks per worker in flight (``Pool.imap`` would read all of ``items`` at once,
    and memory would grow with the corpus)."""
    if workers == 1:
        init(*initargs)
        yield from map(fn, items)
        return
    from nanonlp.bpe.pool import process_pool

    with process_pool(workers, init, initargs) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.apply_async(fn, (item,)))
            if len(pending) >= ahead * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def batches(docs: Iterable[RawDoc], max_bytes: int | None = None) -> Iterator[list[RawDoc]]:
    """Group documents into lists of about ``max_bytes`` (default ``BATCH_BYTES``).

    >>> [len(b) for b in batches([(b"ab", "f", 1, 0)] * 5, max_bytes=4)]
    [2, 2, 1]
    """
    max_bytes = max_bytes or BATCH_BYTES
    batch: list[RawDoc] = []
    size = 0
    for doc in docs:
        batch.append(doc)
        size += len(doc[0])
        if size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# ----------------------------------------------------------------------------------------------
# writing shards


class ShardWriter:
    """Appends one split's ids to fixed-size shards; a full shard is renamed into place.

    ``done`` lists the complete shards (file, tokens, sha256); the shard being filled is the
    hidden ``.SPLIT_NNNNNN.bin.partial``, of which ``partial`` ids are kept (a resumed run
    truncates it to the length its resume file recorded).
    """

    def __init__(self, folder: Path, split: str, shard_tokens: int, dtype: np.dtype,
                 done: list[dict] | None = None, partial: int = 0):
        self.folder, self.split, self.shard_tokens, self.dtype = folder, split, shard_tokens, dtype
        self.done = list(done or [])
        self.n = partial  # ids in the shard being filled
        self.path = folder / f".{self.name}.partial"
        final = folder / self.name
        if partial and not self.path.exists() and final.exists():
            os.replace(final, self.path)  # killed after the rename, before the resume file
        with open(self.path, "ab") as f:
            f.truncate(partial * dtype.itemsize)
        self.hash = hashlib.sha256()
        with open(self.path, "rb") as f:  # the kept part, once, so the hash can continue
            while block := f.read(1 << 20):
                self.hash.update(block)
        self.file = open(self.path, "ab")  # noqa: SIM115 (closed by close_shard / close)

    @property
    def name(self) -> str:
        return SHARD.format(split=self.split, index=len(self.done))

    @property
    def tokens(self) -> int:
        return sum(s["tokens"] for s in self.done) + self.n

    def append(self, ids: np.ndarray) -> None:
        while len(ids):
            take = ids[:self.shard_tokens - self.n]
            data = take.astype(self.dtype, copy=False).tobytes()
            self.file.write(data)
            self.hash.update(data)
            self.n += len(take)
            ids = ids[len(take):]
            if self.n == self.shard_tokens:
                self.close_shard()

    def sync(self) -> None:
        """Make the ids written so far durable (before the resume file counts them)."""
        self.file.flush()
        os.fsync(self.file.fileno())

    def close_shard(self) -> None:
        self.sync()
        self.file.close()
        os.replace(self.path, self.folder / self.name)
        self.done.append({"file": self.name, "tokens": self.n, "sha256": self.hash.hexdigest()})
        self.n = 0
        self.hash = hashlib.sha256()
        self.path = self.folder / f".{self.name}.partial"
        self.file = open(self.path, "wb")  # noqa: SIM115

    def finish(self) -> None:
        """Close the last, shorter shard (if it holds anything) and drop the empty partial."""
        if self.n:
            self.close_shard()
        self.file.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Counts:
    """Counters of a prepare run (what meta.json reports; the resume file keeps them)."""
    docs: int = 0  # raw documents read, skipped and empty ones included
    chars: int = 0
    n_bytes: int = 0
    skipped: int = 0
    empty: int = 0


def fingerprint(files: list[Path], settings: dict[str, Any]) -> dict[str, Any]:
    """What a resume file must match: the same files (size, mtime) and the same settings."""
    stats = []
    for p in files:
        st = split_member(p)[0].stat()
        stats.append([os.fspath(p), st.st_size, st.st_mtime_ns])
    return {"files": stats, **settings}


def prepare_documents(files: list[Path], out: Path, tok, tokenizer_file: str | os.PathLike,
                      settings: dict[str, Any], workers: int, shard_tokens: int,
                      max_chars: int | None = None, bar=None) -> dict[str, Any]:
    """Encode the documents of ``files`` into train/val shards in ``out``; return the meta
    entries of the shards (see the module docstring for the layout and the resume rule).

    ``settings`` holds ``val_fraction``, ``text_field`` and ``errors``; ``bar`` (a tqdm bar or
    None) advances by the bytes read.
    """
    dtype = token_dtype(tok.vocab_size)
    key = fingerprint(files, {**settings, "shard_tokens": shard_tokens, "max_chars": max_chars,
                              "tokenizer_sha256": sha256_file(tokenizer_file)})
    state = _load_resume(out, key, dtype.itemsize)
    if state is None:
        clear_folder(out)
        state = {"key": key, "docs": 0, "counts": {}, "train": {}, "val": {}}
    counts = Counts(**state["counts"])
    writers = {s: ShardWriter(out, s, shard_tokens, dtype, state[s].get("done"),
                              state[s].get("partial", 0)) for s in ("train", "val")}
    jsonl = {os.fspath(p): inner_suffix(p) == ".jsonl" for p in files}
    init = (tok, {**settings, "dtype": dtype, "jsonl": jsonl})
    with contextlib.suppress(AttributeError):  # a BPE Tokenizer: its compiled merge loop,
        tok._fast_path()  # loaded once here, so forked workers start with it
    docs = iter_raw_documents(files, settings["text_field"])
    for _ in range(state["docs"]):  # the documents a killed run already wrote
        doc = next(docs)
        if bar is not None:
            bar.update(len(doc[0]))
    if max_chars is not None:
        docs = _first_chars(docs, max_chars - counts.n_bytes)
    snapshot = _snapshot(key, counts, writers)  # the last point where every batch is whole
    try:
        last = time.monotonic()
        for res in ordered_map(encode_documents, batches(docs), workers, start_encoder, init):
            writers["train"].append(res.train)
            writers["val"].append(res.val)
            for name in ("docs", "chars", "n_bytes", "skipped", "empty"):
                setattr(counts, name, getattr(counts, name) + getattr(res, name))
            snapshot = _snapshot(key, counts, writers)
            if bar is not None:
                bar.update(res.n_bytes)
                bar.set_postfix(tokens=f"{writers['train'].tokens + writers['val'].tokens:,}",
                                refresh=False)
            if time.monotonic() - last > CHECKPOINT_SECONDS:
                _save_resume(out, snapshot, writers)
                last = time.monotonic()
        for w in writers.values():
            w.finish()
    except DataError:
        for w in writers.values():
            w.file.close()
        clear_folder(out)  # a bad input: nothing of this run stays behind
        raise
    except BaseException:
        # Ctrl-C: keep what was written up to the last whole batch (a batch cut halfway
        # through append is written again, after the partials are truncated back)
        _save_resume(out, snapshot, writers)
        raise
    (out / RESUME).unlink(missing_ok=True)
    return {"documents": counts.docs - counts.skipped - counts.empty, "characters": counts.chars,
            "skipped_documents": counts.skipped, "empty_documents": counts.empty,
            "tokens": {s: w.tokens for s, w in writers.items()},
            "shards": {s: w.done for s, w in writers.items()}}


def _first_chars(docs: Iterator[RawDoc], budget: int) -> Iterator[RawDoc]:
    for doc in docs:
        if budget <= 0:
            return
        budget -= len(doc[0])
        yield doc


def _load_resume(out: Path, key: dict[str, Any], itemsize: int) -> dict[str, Any] | None:
    """The resume state of an unfinished run with the same fingerprint, else None (a state
    whose complete shards are missing or of another length starts the run afresh)."""
    try:
        state = json.loads((out / RESUME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        return None
    for split in ("train", "val"):
        done = state[split].get("done", [])
        for shard in done:
            path = out / shard["file"]
            if not path.is_file() or path.stat().st_size != shard["tokens"] * itemsize:
                return None
        # the shard being filled: its partial file, or the shard it became after the resume
        # file was written, must hold at least the ids the resume file counts
        name = SHARD.format(split=split, index=len(done))
        have = max((p.stat().st_size for p in (out / f".{name}.partial", out / name)
                    if p.is_file()), default=0)
        if have < state[split].get("partial", 0) * itemsize:
            return None
    return state


def _snapshot(key: dict, counts: Counts, writers: dict) -> dict[str, Any]:
    return {"key": key, "docs": counts.docs, "counts": dataclasses.asdict(counts),
            **{s: {"done": list(w.done), "partial": w.n} for s, w in writers.items()}}


def _save_resume(out: Path, snapshot: dict[str, Any], writers: dict) -> None:
    """Write the resume file, after the ids it counts are on disk."""
    for w in writers.values():
        if not w.file.closed:
            w.sync()
    with atomic_write(out / RESUME) as f:
        json.dump(snapshot, f)


def clear_folder(out: Path) -> None:
    """Remove what a previous prepare left in ``out``: meta.json first (so the folder never
    looks complete with missing shards), then shards, partials and the resume file."""
    (out / "meta.json").unlink(missing_ok=True)
    for pattern in ("train_[0-9]*.bin", "val_[0-9]*.bin", ".*.partial", "train.bin", "val.bin",
                    RESUME):
        for p in out.glob(pattern):
            p.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# reading shards


class TokenStream:
    """The shards of one split as one sequence of ids: ``len`` and slicing, each shard
    memory-mapped (never read whole). A slice may run across a shard boundary, so windows are
    drawn over the whole split as if it were one ``.bin``.

    >>> s = TokenStream([np.arange(3), np.arange(10, 14)])
    >>> len(s), s[2:5].tolist()
    (7, [2, 10, 11])
    """

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = [a for a in arrays if len(a)]
        self.starts = np.cumsum([0] + [len(a) for a in self.arrays])
        self.dtype = arrays[0].dtype if arrays else np.dtype("<u2")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("TokenStream takes contiguous slices only")
        lo, hi, _ = key.indices(len(self))
        if hi <= lo:
            return np.zeros(0, self.dtype)
        k = int(np.searchsorted(self.starts, lo, side="right")) - 1
        parts = []
        while lo < hi:
            a, start = self.arrays[k], int(self.starts[k])
            take = a[lo - start:min(hi, int(self.starts[k + 1])) - start]
            parts.append(take)
            lo += len(take)
            k += 1
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def max(self) -> int:
        return max((int(a.max()) for a in self.arrays), default=0)

    def tolist(self) -> list[int]:
        return self[:].tolist()


def load_shards(folder: Path, meta: dict[str, Any], split: str, verify: bool = True
                ) -> TokenStream:
    """Memory-map the shards of ``split`` that ``meta`` lists, each checked against its size
    and (``verify``) its sha256, so a damaged or swapped shard is found before training."""
    dtype = np.dtype(meta["dtype"]).newbyteorder("<")
    arrays = []
    for shard in meta["shards"].get(split, []):
        path = folder / shard["file"]
        if not path.is_file():
            raise DataError(f"{path}: missing (listed in {folder / 'meta.json'})")
        size = path.stat().st_size
        if size % dtype.itemsize:
            raise DataError(f"{path}: {size:,} bytes is not a whole number of {dtype.name} ids")
        if size != shard["tokens"] * dtype.itemsize:
            raise DataError(f"{path}: {size // dtype.itemsize:,} tokens, but meta.json lists "
                            f"{shard['tokens']:,}; prepare the folder again")
        if verify and sha256_file(path) != shard["sha256"]:
            raise DataError(f"{path}: sha256 differs from meta.json's; the shard is damaged "
                            "or from another run: prepare the folder again")
        arrays.append(np.memmap(path, dtype=dtype, mode="r") if size else np.zeros(0, dtype))
    return TokenStream(arrays)
