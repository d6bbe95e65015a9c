"""The byte-level BPE :class:`Tokenizer`: train, encode, decode, save, load.

Ids 0-255 are the bytes, 256.. are merges in the order they were learned (a merge's id is its
rank), and special tokens come last. Encoding splits text at allowed special tokens, cuts the
rest into chunks with the split regex (for GPT-4's pattern, on long texts, the compiled
scanner of :mod:`nanonlp.bpe.fastsplit`, which gives the same chunks), and applies the merges
to each chunk's UTF-8 bytes, lowest rank first (GPT-2's ``bpe()``, minbpe's ``encode``);
chunk -> ids results are cached, and the chunks a long text adds to the cache are merged in
one call of the numba loop in :mod:`nanonlp.bpe.fastmerge`, which gives the ids of
``Tokenizer._encode_chunk`` (tested).
A tokenizer read from another library's files (:meth:`Tokenizer.from_hf`: GPT-2's
``vocab.json`` numbers the bytes in its own order, HF's trainer puts special tokens first)
keeps that library's ids: ``ids`` maps each token of the rank order to its id, while
``merges``, ``ranks`` and ``vocab`` stay in rank order.
Special tokens follow tiktoken: text that contains one is an error unless it is listed in
``allowed_special`` (then it becomes the special id) or removed from ``disallowed_special``
(then it is encoded as ordinary text).

The model file is text (minbpe's ``.model`` idea, versioned), with a ``.vocab`` file beside it
for people to read; :mod:`nanonlp.bpe.export` writes HF ``tokenizer.json`` and tiktoken ranks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import chain, pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from nanonlp.bpe.config import BPEConfig
from nanonlp.bpe.patterns import (
    GPT4_PATTERN,
    Chunker,
    encode_with_specials,
    pattern_name,
    resolve_pattern,
)
from nanonlp.bpe.pool import process_pool
from nanonlp.bpe.stream import PIECE_CHARS, iter_pieces
from nanonlp.bpe.tokenfile import write_tokens
from nanonlp.bpe.train import MergeStep, batch_texts, count_chunks, learn_merges
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, read_versioned

FORMAT = "nanonlp-bpe"
FORMAT_VERSION = 2  # 2 added the optional "ids" section; a file without one is still version 1
CACHE_SIZE = 1 << 17  # distinct chunks remembered by encode; cleared when full
# new chunks in one text from which a tokenizer starts to use the compiled merge loop: below
# this the pure-Python loop takes under ~10 ms, less than numba needs to load its cached code
FAST_MIN_CHUNKS = 1000
FAST_MIN_CHARS = 1 << 16  # parallel encoding of this much text loads the compiled loop first
# below this much text one process is faster than several: starting a worker (and loading the
# compiled loop in it) costs about 0.3 s, 1 MB of encoding about 0.15 s (tinyshakespeare, 2 cores)
MIN_PARALLEL_CHARS = 4 << 20
MAX_ID = 1 << 32  # token files store ids as uint32 at most (see tokenfile.token_dtype)
# Special ids follow the merges; imported vocabularies leave small gaps (cl100k_base's last
# special is 20 ids past its merges), so a file may place them up to this far past the end.
MAX_SPECIAL_GAP = 1024

SpecialSet = Collection[str] | Literal["all"]


class Tokenizer:
    """Byte-level BPE with a split pattern and special tokens.

    >>> tok = Tokenizer.train("aaabdaaabac", BPEConfig(vocab_size=259, pattern="none",
    ...                                                special=()))
    >>> tok.encode("aaabdaaabac")
    [258, 100, 258, 97, 99]
    >>> tok.decode([258, 100])
    'aaabd'
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = (), pattern: str = "gpt4",
                 special_tokens: dict[str, int] | Sequence[str] = (),
                 ids: Sequence[int] | None = None):
        self.pattern = resolve_pattern(pattern)
        self.merges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        # ranks[(a, b)] is the id the pair merges into; lower id = learned earlier = applied first
        self.ranks: dict[tuple[int, int], int] = {}
        self.vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            n = len(self.vocab)
            if not (0 <= a < n and 0 <= b < n):
                raise DataError(f"merge {n - 256} ({a}, {b}) refers to a token that does not "
                                "exist yet")
            self.ranks[(a, b)] = n
            self.vocab.append(self.vocab[a] + self.vocab[b])
        # ids[k]: the id of token k of the rank order (bytes, then merges); None: ids are ranks
        self.ids: list[int] | None = None
        self._by_id: list[bytes | None] = self.vocab  # id -> token bytes (None: not ordinary)
        if ids is not None and list(ids) != list(range(len(self.vocab))):
            self._set_ids(ids)
        n_ordinary = len(self._by_id)
        if not isinstance(special_tokens, dict):
            special_tokens = {s: n_ordinary + i for i, s in enumerate(special_tokens)}
        self.special_tokens: dict[str, int] = dict(special_tokens)
        self.special_ids: dict[int, str] = {i: s for s, i in self.special_tokens.items()}
        for s, i in self.special_tokens.items():
            if not isinstance(s, str) or not s:
                raise DataError(f"special token {s!r} is not a non-empty string")
            if i < 0 or (i < n_ordinary and self._by_id[i] is not None):
                raise DataError(f"special token {s!r} has id {i}, which an ordinary token has")
            if i >= MAX_ID:
                raise DataError(f"special token {s!r} has id {i}, beyond the largest id a "
                                f"token file can hold ({MAX_ID - 1})")
        if len(self.special_ids) != len(self.special_tokens):
            raise DataError(f"two special tokens share an id: {self.special_tokens}")
        self._split = Chunker(self.pattern) if self.pattern else None
        self._cache: dict[str, list[int]] = {}
        # (rank table, id of each token) as fastmerge reads them, built on first use
        self._fast: tuple[tuple, list[int]] | None = None

    def _set_ids(self, ids: Sequence[int]) -> None:
        ids = [int(i) for i in ids]
        if len(ids) != len(self.vocab):
            raise DataError(f"{len(ids)} ids for {len(self.vocab)} tokens (256 bytes + "
                            f"{len(self.merges)} merges)")
        if len(set(ids)) != len(ids) or min(ids) < 0 or max(ids) >= MAX_ID:
            raise DataError("token ids must be distinct and in 0..2**32-1")
        self.ids = ids
        self._by_id = [None] * (max(ids) + 1)
        for k, i in enumerate(ids):
            self._by_id[i] = self.vocab[k]

    # ------------------------------------------------------------------------------------------
    # train

    @classmethod
    def train(cls, source: str | Iterable[str] = (), config: BPEConfig | None = None, *,
              files: Sequence[str | os.PathLike] = (),
              progress: Callable[[MergeStep], None] | None = None) -> Tokenizer:
        """Learn a tokenizer from a text, an iterable of texts (documents), and/or files.

        Texts stream: files are read a megabyte at a time, and big corpora are counted on all
        cores. Chunks never cross a text, a special token, or (for pattern ``none``) a line of
        a file.
        ``progress`` is called with each :class:`MergeStep` (all at the end when merging
        runs compiled: :func:`~nanonlp.bpe.train.learn_merges`).
        """
        config = config or BPEConfig()
        pattern = resolve_pattern(config.pattern)
        texts = [source] if isinstance(source, str) else source
        file_texts = (piece for f in files
                      for piece in iter_pieces(f, by_line=not pattern, specials=config.special))
        counts = count_chunks(chain(texts, file_texts), pattern, config.special, config.workers)
        if not counts:
            where = ", ".join(map(str, files)) if files else "the texts given"
            raise DataError(f"nothing to train on: {where} hold(s) no text")
        chunk_counts: dict[bytes, int] = {}
        for chunk, n in counts.items():
            b = chunk.encode("utf-8")
            chunk_counts[b] = chunk_counts.get(b, 0) + n
        merges = []
        for step in learn_merges(chunk_counts, config.num_merges):
            merges.append(step.pair)
            if progress is not None:
                progress(step)
        return cls(merges, pattern, list(config.special))

    @classmethod
    def from_hf(cls, path: str | os.PathLike) -> Tokenizer:
        """A Hugging Face byte-level BPE (GPT-2's ``vocab.json`` + ``merges.txt``, or a
        ``tokenizer.json``; a folder or the file) with HF's ids: :mod:`nanonlp.bpe.from_hf`."""
        from nanonlp.bpe.from_hf import read_hf

        parts = read_hf(path)
        try:
            return cls(parts.merges, parts.pattern, parts.special_tokens, parts.ids)
        except (DataError, ConfigError) as e:  # e.g. a special token on an ordinary id
            raise DataError(f"{parts.where}: {e}") from None

    # ------------------------------------------------------------------------------------------
    # encode

    @property
    def vocab_size(self) -> int:
        """Byte tokens + merges + special tokens (ids run from 0 to vocab_size - 1)."""
        return max(len(self._by_id), max(self.special_ids, default=-1) + 1)

    def split(self, text: str) -> list[str]:
        """The chunks ``text`` is cut into before merging (the split pattern's matches).

        GPT-4's pattern has a compiled scanner (:mod:`nanonlp.bpe.fastsplit`, the same chunks
        about four times faster), used once this tokenizer has loaded compiled code anyway or
        the text is long enough to make it worth loading.
        """
        if not self._split:
            return [text] if text else []
        if self.pattern == GPT4_PATTERN and (self._fast is not None or
                                             len(text) >= FAST_MIN_CHARS):
            from nanonlp.bpe.fastsplit import split_gpt4

            return split_gpt4(text)
        return self._split.findall(text)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` with no special-token handling (a special is plain text here)."""
        chunks = self.split(text)
        cache = self._cache
        pieces = list(map(cache.get, chunks))  # each chunk's ids, None where not cached yet
        where = [i for i, ids in enumerate(pieces) if ids is None]
        if where:  # encode the new chunks, all in one batch
            new = list(dict.fromkeys(chunks[i] for i in where))  # in order of appearance
            if len(cache) + len(new) > CACHE_SIZE:
                cache.clear()  # the pieces already found keep their lists
            cache.update(zip(new, self._encode_chunks(new)))
            for i in where:
                pieces[i] = cache[chunks[i]]
        return list(chain.from_iterable(pieces))

    def _encode_chunks(self, chunks: list[str]) -> list[list[int]]:
        """The ids of each chunk: ``_encode_chunk`` on each, or once a batch was big enough
        to repay loading compiled code, :func:`~nanonlp.bpe.fastmerge.merge_chunks` on all of
        them at once (the same ids; the compiler runs once per install)."""
        data = [chunk.encode("utf-8") for chunk in chunks]
        # once loaded, the compiled loop is faster even for one chunk (8 us against 12)
        if self._fast is not None or len(data) >= FAST_MIN_CHUNKS:
            from nanonlp.bpe.fastmerge import merge_chunks  # numba: imported when it pays

            return merge_chunks(data, *self._fast_path())
        encoded = [self._encode_chunk(b) for b in data]
        if self.ids is not None:  # rank order -> this tokenizer's ids
            ids = self.ids
            encoded = [[ids[k] for k in e] for e in encoded]
        return encoded

    def encode(self, text: str, *, allowed_special: SpecialSet = (),
               disallowed_special: SpecialSet = "all") -> list[int]:
        """Encode ``text``; special tokens follow tiktoken's ``Encoding.encode`` rules.

        A special token in ``allowed_special`` (or ``"all"``) becomes its id. One that is
        neither allowed nor removed from ``disallowed_special`` (default: all of them) is an
        error, because text from users that smuggles in ``<|endoftext|>`` is usually a bug.
        """
        return encode_with_specials(text, self.special_tokens, allowed_special,
                                    disallowed_special, self.encode_ordinary)

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply merges to one chunk's bytes, always the lowest-ranked pair present first.

        Merging every occurrence of the best pair at once gives the same result as merging
        the leftmost one and looking again, because the pair stays the lowest-ranked one.
        """
        ids = list(data)
        ranks = self.ranks
        while len(ids) >= 2:
            best = min(pairwise(ids), key=lambda p: ranks.get(p, 1 << 62))
            new_id = ranks.get(best)
            if new_id is None:  # no pair of this chunk was ever merged
                break
            # reference.merge(ids, best, new_id), inlined: a call per merge step costs about 3%
            # of chunk encoding (A/B on tinyshakespeare, 4,096 ids); a test checks they agree
            a, b = best
            out = []
            i = 0
            n = len(ids)
            while i < n:
                if ids[i] == a and i + 1 < n and ids[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            ids = out
        return ids

    def _fast_path(self) -> tuple[tuple, list[int]]:
        """What ``fastmerge.merge_chunks`` needs besides the chunks: the rank table and the
        id of each token (one int object per id); built, and numba's code loaded, once."""
        if self._fast is None:
            from nanonlp.bpe import fastmerge

            table = fastmerge.rank_table(self.ranks)
            ids = self.ids or list(range(len(self.vocab)))
            fastmerge.merge_chunks([b"ab"], table, ids)  # load the compiled code now
            if self.pattern == GPT4_PATTERN:  # and the split's, which split() now takes
                from nanonlp.bpe.fastsplit import split_gpt4

                split_gpt4("a b")
            self._fast = (table, ids)
        return self._fast

    def encode_batch(self, texts: Sequence[str], *, workers: int = 1,
                     allowed_special: SpecialSet = (),
                     disallowed_special: SpecialSet = "all") -> list[list[int]]:
        """Encode many texts, over up to ``workers`` processes (0 = all cores; fewer than
        ``MIN_PARALLEL_CHARS`` characters in all stay in this one); order is kept."""
        kwargs = {"allowed_special": allowed_special, "disallowed_special": disallowed_special}
        workers = _check_workers(workers)
        total = sum(map(len, texts))
        if workers == 1 or total < MIN_PARALLEL_CHARS:  # workers is a cap, not an order
            return [self.encode(text, **kwargs) for text in texts]
        out: list[list[int]] = []
        shards = batch_texts(texts, _shard_chars(total, workers))
        for ids, lengths in self._encode_shards(shards, workers, kwargs, total):
            out += [part.tolist() for part in np.split(ids, np.cumsum(lengths)[:-1])]
        return out

    def _encode_shards(self, shards: Iterable[list[str]], workers: int, kwargs: dict,
                       total_chars: int) -> Iterator[tuple[np.ndarray, list[int]]]:
        """Each shard's ids, all its texts one after another, with the length of each text.

        A shard is many texts (a megabyte or so), so a worker answers with one array per
        shard rather than a Python list per text: pickling a million ints as a list costs
        more than encoding them. Workers are forked where the platform can fork, so they
        start with this tokenizer's chunk cache and compiled merge loop.
        """
        if total_chars >= FAST_MIN_CHARS:  # load the compiled code once, before the fork
            self._fast_path()
        with process_pool(workers, _init_encoder, (self, kwargs)) as pool:
            yield from pool.imap(_encode_shard, shards)

    def encode_file(self, src: str | os.PathLike, dst: str | os.PathLike, *, workers: int = 1,
                    allowed_special: SpecialSet = "all",
                    disallowed_special: SpecialSet = "all") -> int:
        """Encode a UTF-8 file into a token array (``.npy`` or raw, see ``tokenfile``).

        The array always equals ``encode(whole file)`` with the same special-token arguments.
        With a split pattern the file streams in ~1 MB pieces cut where the pattern would cut
        anyway; with pattern ``none`` the whole text is one chunk, so the whole file is read
        into memory and encoded at once (``workers`` does not help there). Special tokens in
        the file are allowed by default (documents joined with ``<|endoftext|>`` are the
        usual input). Returns the number of tokens written.
        """
        kwargs = {"allowed_special": allowed_special, "disallowed_special": disallowed_special}
        workers = _check_workers(workers)
        size = os.path.getsize(src) if os.path.isfile(src) else PIECE_CHARS
        if size < MIN_PARALLEL_CHARS:  # workers is a cap: a small file is faster in one
            workers = 1
        piece_chars = PIECE_CHARS
        if workers > 1:  # a few pieces per worker, so that workers share a small file too
            piece_chars = max(1 << 16, min(PIECE_CHARS, size // (4 * workers) + 1))
        pieces = iter_pieces(src, specials=self.special_tokens, piece_chars=piece_chars)
        if not self.pattern:  # one chunk: a cut anywhere could change the merges
            pieces = iter(["".join(pieces)])
        if workers == 1:
            ids = (self.encode(piece, **kwargs) for piece in pieces)
        else:
            shards = ([piece] for piece in pieces)
            ids = (a for a, _ in self._encode_shards(shards, workers, kwargs, size))
        return write_tokens(dst, ids, self.vocab_size)

    def __getstate__(self) -> dict:
        # what a spawned worker receives: the caches stay behind (they refill as it encodes)
        state = dict(self.__dict__)
        state["_cache"] = {}
        state["_fast"] = None
        return state

    # ------------------------------------------------------------------------------------------
    # decode

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes the ids stand for (special tokens as their UTF-8 text)."""
        parts = []
        by_id = self._by_id
        n = len(by_id)
        for i in ids:
            t = by_id[i] if 0 <= i < n else None
            if t is not None:
                parts.append(t)
            elif i in self.special_ids:
                parts.append(self.special_ids[i].encode("utf-8"))
            else:
                raise DataError(f"token id {i} is not in the vocabulary (ids 0..."
                                f"{self.vocab_size - 1})")
        return b"".join(parts)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text for ``ids``: exact for the output of encode; ids that split a UTF-8
        character decode with U+FFFD (``errors="replace"``) or raise (``"strict"``)."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors=errors)
        except UnicodeDecodeError as e:
            raise DataError(f"ids decode to invalid UTF-8 at byte {e.start} "
                            f"({data[e.start:e.start + 4]!r}); use errors='replace'") from None

    # ------------------------------------------------------------------------------------------
    # save / load

    def save(self, prefix: str | os.PathLike) -> Path:
        """Write ``prefix.model`` (what :meth:`load` reads) and ``prefix.vocab`` (for people).

        The model file is text (:meth:`model_text`): a version line, the split pattern and each
        special token as JSON strings, then one merge ``a b`` per line in rank order, and for a
        tokenizer with its own ids (:meth:`from_hf`) the id of each token in rank order.
        """
        prefix = Path(prefix)
        model = prefix.with_name(prefix.name + ".model")
        with atomic_write(model) as f:
            f.write(self.model_text())
        ids = self.ids or range(len(self.vocab))
        with atomic_write(prefix.with_name(prefix.name + ".vocab")) as f:
            f.write(f"# {len(self.vocab)} tokens + {len(self.special_tokens)} special; "
                    f"pattern {pattern_name(self.pattern)}. Not read back: see the .model file\n")
            for i in range(256):
                f.write(f"{ids[i]}\t[{render_token(self.vocab[i])}]\n")
            for (a, b), i in self.ranks.items():
                f.write(f"{ids[i]}\t[{render_token(self.vocab[i])}]\t<- "
                        f"[{render_token(self.vocab[a])}] [{render_token(self.vocab[b])}]\n")
            for s, i in self.special_tokens.items():
                f.write(f"{i}\t{s}\tspecial\n")
        return model

    def model_text(self) -> str:
        """The ``.model`` file's text (what :meth:`save` writes and :meth:`load` reads)."""
        version = 1 if self.ids is None else FORMAT_VERSION  # older readers read a v1 file
        lines = [f"{FORMAT} {version}", f"pattern {json.dumps(self.pattern, ensure_ascii=False)}",
                 f"special {len(self.special_tokens)}"]
        lines += [f"{json.dumps(s, ensure_ascii=False)} {i}"
                  for s, i in self.special_tokens.items()]
        lines.append(f"merges {len(self.merges)}")
        lines += [f"{a} {b}" for a, b in self.merges]
        if self.ids is not None:
            lines.append(f"ids {len(self.ids)}")
            lines += [str(i) for i in self.ids]
        return "\n".join(lines) + "\n"

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a ``.model`` file written by :meth:`save` (a bad or newer file is an error)."""
        path = Path(path)
        if not path.exists() and path.with_name(path.name + ".model").exists():
            path = path.with_name(path.name + ".model")
        lines = read_versioned(path, FORMAT, FORMAT_VERSION, "BPE model")
        head = lines[0].split(" ")
        lineno = 1

        def take(prefix: str) -> str:
            nonlocal lineno
            lineno += 1
            line = lines[lineno - 1] if lineno <= len(lines) else ""
            if not line.startswith(prefix + " "):
                raise DataError(f"{path}:{lineno}: expected '{prefix} ...', got {line[:40]!r}")
            return line[len(prefix) + 1:]

        def count(prefix: str) -> int:
            value = take(prefix)
            if not value.isdigit():
                raise DataError(f"{path}:{lineno}: bad count {value!r}")
            return int(value)

        def bad(what: str) -> DataError:
            return DataError(f"{path}:{lineno}: {what}")

        try:
            pattern = json.loads(take("pattern"))
            if not isinstance(pattern, str):
                raise bad(f"the pattern must be a JSON string, got {pattern!r}")
            specials = {}
            special_lines = {}
            for _ in range(count("special")):
                lineno += 1
                text, _, i = lines[lineno - 1].rpartition(" ")
                name, i = json.loads(text), int(i)
                if not isinstance(name, str) or not name:
                    raise bad(f"a special token must be a non-empty JSON string, got {name!r}")
                if not 0 <= i < MAX_ID:
                    raise bad(f"special token id {i} is out of range (0...{MAX_ID - 1})")
                specials[name] = i
                special_lines[name] = lineno
            merges = []
            for _ in range(count("merges")):
                lineno += 1
                a, b = lines[lineno - 1].split(" ")
                merges.append((int(a), int(b)))
            ids = None
            if int(head[1]) >= 2 and lineno < len(lines) and lines[lineno].startswith("ids "):
                n = count("ids")
                ids = [int(line) for line in lines[lineno:lineno + n] if line]
                if len(ids) < n:
                    raise bad(f"{n} ids announced, {len(ids)} found")
                lineno += n
        except DataError:
            raise
        except (ValueError, IndexError):
            line = lines[lineno - 1] if lineno <= len(lines) else "<end of file>"
            raise DataError(f"{path}:{lineno}: corrupt line {line[:40]!r}") from None
        if any(line.strip() for line in lines[lineno:]):
            raise DataError(f"{path}:{lineno + 1}: unexpected text after the last merge"
                            + (" or id" if ids else ""))
        # an id far past the vocabulary would make every embedding that size (4e9 rows)
        limit = 256 + len(merges) + len(specials) + MAX_SPECIAL_GAP
        for name, i in specials.items():
            if i >= limit:
                raise DataError(f"{path}:{special_lines[name]}: special token {name!r} has id "
                                f"{i:,}, but the model has {256 + len(merges):,} ordinary "
                                f"tokens and {len(specials)} special ones (ids up to "
                                f"{limit - 1:,} accepted)")
        try:
            return cls(merges, pattern, specials, ids)
        except (DataError, ConfigError) as e:  # e.g. a pattern that is not a valid regex
            raise DataError(f"{path}: {e}") from None

    def __repr__(self) -> str:
        return (f"Tokenizer(vocab_size={self.vocab_size}, pattern="
                f"{pattern_name(self.pattern)!r}, special={list(self.special_tokens)})")


def render_token(token: bytes) -> str:
    """A token as readable text: invalid UTF-8 as U+FFFD, control characters escaped.

    >>> render_token(b"hi\\n"), render_token(b"\\xe2\\x82")
    ('hi\\\\u000a', '�')
    """
    text = token.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in text)


def _check_workers(workers: int) -> int:
    if workers < 0:
        raise ConfigError(f"workers must be >= 0 (0: all cores), got {workers}")
    return workers or os.cpu_count() or 1



_worker_tok: tuple[Tokenizer, dict] | None = None


def _init_encoder(tok: Tokenizer, kwargs: dict) -> None:
    global _worker_tok
    _worker_tok = (tok, kwargs)


def _encode_shard(texts: list[str]) -> tuple[np.ndarray, list[int]]:
    tok, kwargs = _worker_tok
    encoded = [tok.encode(text, **kwargs) for text in texts]
    ids = np.fromiter(chain.from_iterable(encoded), dtype=np.uint32)
    return ids, [len(e) for e in encoded]


def _shard_chars(total_chars: int, workers: int) -> int:
    """Characters per shard of parallel encoding: a few shards per worker, so none waits long
    for the last one (64 K to 4 M).

    >>> _shard_chars(10 ** 8, 2)
    4194304
    """
    return max(1 << 16, min(1 << 22, total_chars // (4 * workers)))
