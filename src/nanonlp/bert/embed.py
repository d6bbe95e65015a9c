"""Sentence vectors from any BERT checkpoint, an index of them, and search by meaning.

:func:`embed` encodes each line as ``[CLS] line [SEP]`` (cut to the position table) and pools
the encoder's output: the mean over the real tokens (Reimers & Gurevych 2019: the better
sentence vector of a BERT that was not trained for one) or the [CLS] vector. Identical lines
are encoded once, so they get identical rows, and lines are batched by length, so little of
a batch is padding. A checkpoint of ``bert finetune --task contrastive`` says in
``embedding.json`` which pooling it was trained with, and that is then the default.

An index is two files written by :func:`write_index`:

* ``vecs.npy``: the (N, C) float32 matrix, row i for input line i+1 (``numpy.load`` reads it);
* ``vecs.npy.json``: the lines themselves, the pooling, and two sha256 hashes: of the
  checkpoint's weights (a query must be embedded by the model that embedded the lines) and
  of ``vecs.npy`` (a matrix that is not the one the lines were written with is refused).

:func:`nearest` ranks rows by cosine; :func:`retrieval_scores` gives recall@k and MRR.
Left out: approximate nearest-neighbour indexes (FAISS, HNSW); an exact matrix product is
fast enough for a few hundred thousand lines.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanonlp.bert.contrastive import pool
from nanonlp.bert.data import load_tokenizer, special_ids
from nanonlp.bert.encode import encode_text
from nanonlp.bert.model import POOLING, load_bert
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_write, iter_lines, sha256_file

HEAD_CUT = re.compile(r"(?<=\S) ")  # a space after a non-space: where a head may end
EMBEDDING_FILE = "embedding.json"  # in a checkpoint: the pooling its vectors were trained for
INDEX_FORMAT = "nanonlp-embeddings"
INDEX_VERSION = 1


def checkpoint_embedding(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """How a checkpoint's sentence vectors are made, from its ``embedding.json`` (written by
    ``bert import`` of a sentence-transformers folder, or by ``bert finetune --task
    contrastive``): ``pooling`` (default mean), ``normalize`` (default false) and
    ``max_seq_length`` (tokens per line, [CLS] and [SEP] included; default None, the position
    table), with whatever else the file records."""
    path = Path(checkpoint) / EMBEDDING_FILE
    info: dict[str, Any] = {}
    if path.exists():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            info = None
        if not isinstance(info, dict):
            raise DataError(f"{path}: not a JSON object")
    info = {"pooling": "mean", "normalize": False, "max_seq_length": None, **info}
    if info["pooling"] not in POOLING:
        raise DataError(f"{path}: unknown pooling {info['pooling']!r}")
    if not isinstance(info["normalize"], bool):
        raise DataError(f"{path}: normalize {info['normalize']!r} is not true or false")
    limit = info["max_seq_length"]
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 2):
        raise DataError(f"{path}: max_seq_length {limit!r} is not a whole number >= 2")
    return info


def checkpoint_pooling(checkpoint: str | os.PathLike) -> str:
    """The pooling a checkpoint's ``embedding.json`` names, else ``mean``."""
    return checkpoint_embedding(checkpoint)["pooling"]


@torch.inference_mode()
def embed(model, tok, lines: Sequence[str], *, pooling: str = "mean", batch_size: int = 64,
          max_seq_length: int | None = None, normalize: bool = False,
          dtype: torch.dtype = torch.float32, progress: bool = False) -> np.ndarray:
    """One float32 row per line: the pooled output of ``model``'s encoder (any BERT: MLM,
    classifier or contrastive), each line cut to ``max_seq_length`` tokens ([CLS] and [SEP]
    included; default: the position table), rows scaled to length 1 if ``normalize``.
    :func:`checkpoint_embedding` gives a checkpoint's own settings. ``dtype`` bfloat16 runs
    the encoder under autocast (matrix products in bfloat16, norms, softmax and pooling in
    float32): on a CPU with AVX-512 BF16 about 1.3-1.5x as fast as float32 (which multiplies
    through oneDNN, see :class:`nanonlp.layers.Linear`), the vectors within a cosine of
    about 1e-4 of float32's."""
    from nanonlp.progress import tqdm
    from nanonlp.training.device import autocast

    if pooling not in POOLING:
        raise ConfigError(f"unknown pooling {pooling!r}; choose {', '.join(POOLING)}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    model.eval()
    ids = special_ids(tok)
    c = model.config
    limit = c.block_size if max_seq_length is None else max_seq_length
    if not 2 <= limit <= c.block_size:
        raise ConfigError(f"max_seq_length must be in 2..{c.block_size} (the position "
                          f"table), got {limit}")
    unique = list(dict.fromkeys(lines))  # identical lines: encoded once, identical rows
    heads = splits_at_spaces(tok)

    def encode(text: str) -> list[int]:
        # a long line: tokenize only what can be kept
        head = text_head(text, limit - 2) if heads else text
        row = encode_text(tok, head, ids, limit, c.lowercase)
        if len(row) < limit and len(head) < len(text):  # the head fell short: all of it
            row = encode_text(tok, text, ids, limit, c.lowercase)
        return row

    enc = [encode(t) for t in unique]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))  # batches of like lengths
    dev = next(model.parameters()).device
    out = np.zeros((len(unique), c.n_embd), np.float32)
    bar = tqdm(total=len(unique), unit="line", desc="embed", disable=not progress or None)
    # one autocast context for all batches: it casts each weight to bfloat16 once, not per batch
    with autocast(dev, dtype):
        _embed_batches(model, enc, order, batch_size, pooling, normalize, out, bar)
    bar.close()
    where = {t: i for i, t in enumerate(unique)}
    return out[[where[t] for t in lines]] if len(unique) < len(lines) else out


def _embed_batches(model, enc: list[list[int]], order: list[int], batch_size: int,
                   pooling: str, normalize: bool, out: np.ndarray, bar) -> None:
    """Fill ``out``'s rows: the lines ``enc`` in batches of ``batch_size`` in ``order``."""
    c = model.config
    dev = next(model.parameters()).device
    for s in range(0, len(order), batch_size):
        rows = order[s:s + batch_size]
        T = max(len(enc[i]) for i in rows)
        x = torch.full((len(rows), T), c.pad_id, dtype=torch.long)
        for k, i in enumerate(rows):
            x[k, :len(enc[i])] = torch.tensor(enc[i])
        x = x.to(dev)
        v = pool(model.bert(x), x, c.pad_id, pooling)  # (B, C)
        if normalize:
            v = torch.nn.functional.normalize(v, dim=-1)
        out[rows] = v.float().cpu().numpy()
        bar.update(len(rows))


def text_head(text: str, tokens: int, chars_per_token: int = 6) -> str:
    """The start of ``text``, cut before a space that follows a non-space, of about
    ``tokens * chars_per_token`` characters (all of ``text`` when it is not longer). Both
    tokenizers split words at such a space (WordPiece at any whitespace, byte-level BPE's
    patterns start a new chunk there), so whenever the head gives ``tokens`` tokens they are
    the first ``tokens`` of the whole text's (for the tokenizers :func:`splits_at_spaces`
    accepts), and a 5,000-character review cut to 256 tokens is tokenized as 1,500
    characters.

    >>> text_head("one two  three four", tokens=2, chars_per_token=5)
    'one two'
    >>> text_head("short", tokens=2)
    'short'
    """
    budget = tokens * chars_per_token
    if len(text) <= budget:
        return text
    cut = max((m.start() for m in HEAD_CUT.finditer(text, 0, budget + 1)), default=0)
    return text[:cut] if cut else text


def splits_at_spaces(tok) -> bool:
    """Whether ``tok`` never makes a token across a space that follows a non-space (see
    :func:`text_head`): a WordPiece, or a byte-level BPE with GPT-2's or GPT-4's pattern (not
    ``none``, whose merges may cross spaces, nor a pattern of the user's)."""
    from nanonlp.bpe.patterns import GPT2_PATTERN, GPT4_PATTERN
    from nanonlp.bpe.wordpiece import WordPiece

    return isinstance(tok, WordPiece) or getattr(tok, "pattern", None) in (GPT2_PATTERN,
                                                                             GPT4_PATTERN)


def nearest(vecs: np.ndarray, query: np.ndarray, k: int = 10) -> list[tuple[int, float]]:
    """The ``k`` rows of ``vecs`` with the highest cosine to ``query``, best first.

    >>> vecs = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    >>> [(i, round(c, 3)) for i, c in nearest(vecs, np.array([1, 0.2], np.float32), k=2)]
    [(0, 0.981), (2, 0.832)]
    """
    cos = unit(vecs) @ unit(query[None])[0]  # (N,)
    k = min(k, len(cos))
    top = np.argpartition(-cos, k - 1)[:k] if k < len(cos) else np.arange(len(cos))
    top = top[np.argsort(-cos[top], kind="stable")]
    return [(int(i), float(cos[i])) for i in top]


def unit(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    norm = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norm, 1e-12)


def retrieval_scores(sims: np.ndarray, relevant: Sequence[Collection[int]],
                     exclude: Sequence[int | None] | None = None,
                     ks: tuple[int, ...] = (1, 10)) -> dict[str, float]:
    """Recall@k and mean reciprocal rank of a ranking. ``sims`` (Q, D) scores document d for
    query q; ``relevant[q]`` are the documents that answer q; ``exclude[q]`` is one not to
    rank (the query itself, when the collection holds it). A query's rank is that of its
    best-placed relevant document (a tie counts in the query's favour).

    >>> sims = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.7]])
    >>> retrieval_scores(sims, [{1}, {2}])
    {'queries': 2, 'recall@1': 0.5, 'recall@10': 1.0, 'mrr': 0.75}
    >>> retrieval_scores(sims, [{1}, {2}], exclude=[0, None])["recall@1"]
    1.0
    """
    ranks = []
    for q, rel in enumerate(relevant):
        s = sims[q].astype(np.float64).copy()
        if exclude is not None and exclude[q] is not None:
            s[exclude[q]] = -np.inf
        best = max(s[d] for d in rel)
        others = np.ones(len(s), bool)
        others[list(rel)] = False
        ranks.append(1 + int((s[others] > best).sum()))
    ranks_a = np.array(ranks)
    out: dict[str, float] = {"queries": len(ranks)}
    for k in ks:
        out[f"recall@{k}"] = float((ranks_a <= k).mean()) if ranks else 0.0
    out["mrr"] = float((1.0 / ranks_a).mean()) if ranks else 0.0
    return out


def pair_retrieval(model, tok, pairs: Sequence[tuple[str, str]], pooling: str = "mean",
                   batch_size: int = 64) -> dict[str, float]:
    """Each anchor ranks all the positives: recall@1, recall@10, MRR (a positive text that
    several pairs share answers all of them)."""
    anchors = embed(model, tok, [a for a, _ in pairs], pooling=pooling, batch_size=batch_size)
    positives = [b for _, b in pairs]
    docs = embed(model, tok, positives, pooling=pooling, batch_size=batch_size)
    same: dict[str, set[int]] = {}
    for j, b in enumerate(positives):
        same.setdefault(b, set()).add(j)
    return retrieval_scores(unit(anchors) @ unit(docs).T, [same[b] for b in positives])


# ----------------------------------------------------------------------------------------------
# the index: vecs.npy + vecs.npy.json


def sidecar(path: str | os.PathLike) -> Path:
    """The JSON file beside an index's ``.npy``.

    >>> sidecar("runs/vecs.npy")
    PosixPath('runs/vecs.npy.json')
    """
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_index(out: str | os.PathLike, vecs: np.ndarray, lines: Sequence[str],
                meta: dict[str, Any]) -> Path:
    """Write ``out`` (the matrix) and its sidecar (the lines and ``meta``), each whole."""
    if len(vecs) != len(lines):
        raise ValueError(f"{len(vecs)} rows for {len(lines)} lines")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(vecs, dtype=np.float32))
    data = buf.getvalue()
    out = Path(out)
    for dest in (out, sidecar(out)):  # both checked before either is written
        if dest.is_dir():
            raise DataError(f"{dest}: is a folder; the index needs {out.name} and "
                            f"{sidecar(out).name} to be files")
    body = {"format": INDEX_FORMAT, "version": INDEX_VERSION, **meta, "rows": len(lines),
            "dim": int(vecs.shape[1]), "npy_sha256": hashlib.sha256(data).hexdigest(),
            "lines": list(lines)}
    # both written whole before either is renamed into place
    with atomic_write(out, "wb") as f, atomic_write(sidecar(out)) as g:
        f.write(data)
        json.dump(body, g, ensure_ascii=False)
    return out


def load_index(path: str | os.PathLike) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """The matrix, the lines and the metadata of an index; a mismatched pair is an error."""
    path, side = Path(path), sidecar(path)
    if not path.is_file():
        raise DataError(f"{path}: no such index file (make one with `nanonlp bert embed`)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no {side.name} beside it (the lines of the index); "
                        "make the index with `nanonlp bert embed`") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{side}: not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise DataError(f"{side}: not a nanonlp embeddings index")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get("npy_sha256"):
        raise DataError(f"{path}: is not the matrix {side.name} was written with (its sha256 "
                        "differs); run `nanonlp bert embed` again")
    vecs = read_matrix(data, path)
    lines = meta.pop("lines", None)
    if not isinstance(lines, list) or not all(isinstance(t, str) for t in lines):
        raise DataError(f"{side}: no 'lines' (the list of the index's lines, one per row)")
    if len(lines) != len(vecs):
        raise DataError(f"{side}: {len(lines)} lines for the {len(vecs)} rows of {path.name}")
    if not len(vecs):
        raise DataError(f"{path}: holds no rows (nothing to search)")
    bad = ~np.isfinite(vecs).all(axis=1)
    if bad.any():  # a NaN row would be ranked (NaN compares as neither near nor far)
        i = int(np.argmax(bad))
        what = "nan" if np.isnan(vecs[i]).any() else "inf"
        raise DataError(f"{path}: row {i + 1} ({lines[i][:40]!r}) holds {what}")
    if meta.get("pooling", "mean") not in POOLING:
        raise DataError(f"{side}: unknown pooling {meta.get('pooling')!r}")
    return vecs, lines, meta


def read_matrix(data: bytes, path: Path) -> np.ndarray:
    """The float32 (rows, width) matrix held by the ``.npy`` bytes ``data``. The header is
    checked against the bytes that follow it before anything is allocated, and an object
    array (a pickle) is refused, never loaded.

    >>> buf = io.BytesIO()
    >>> np.save(buf, np.eye(2, dtype=np.float64))
    >>> read_matrix(buf.getvalue(), Path("v.npy")).dtype
    dtype('float32')
    >>> read_matrix(b"[1, 2]", Path("v.npy"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.DataError: v.npy: not a .npy matrix (...)
    """
    from numpy.lib import format as npy

    f = io.BytesIO(data)
    try:
        version = npy.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]}")
        read_header = npy.read_array_header_1_0 if version == (1, 0) else \
            npy.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
    except Exception as e:  # numpy's header parser: ValueError, SyntaxError, TokenError, ...
        why = str(e).strip().splitlines()[0][:80] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: not a .npy matrix ({why})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects (a pickle), not numbers; an index is "
                        "never unpickled")
    if len(shape) != 2:
        raise DataError(f"{path}: an array of shape {shape}, expected a matrix (rows, width)")
    if not np.issubdtype(dtype, np.floating):
        raise DataError(f"{path}: holds {dtype}, expected float32")
    count, start = shape[0] * shape[1], f.tell()
    if len(data) - start != count * dtype.itemsize:
        raise DataError(f"{path}: not a .npy matrix (its header announces {shape} of {dtype}, "
                        f"{count * dtype.itemsize:,} bytes, and {len(data) - start:,} follow)")
    vecs = np.frombuffer(data, dtype, count, start)
    return vecs.reshape(shape, order="F" if fortran else "C").astype(np.float32)


def embed_file(checkpoint: str | os.PathLike, path: str | os.PathLike,
               out: str | os.PathLike, *, pooling: str | None = None, batch_size: int = 64,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
               progress: bool = True) -> dict[str, Any]:
    """Embed every line of a UTF-8 text file into the index ``out``; returns its metadata
    (``dtype``: what the encoder computed in; the matrix is float32 either way)."""
    lines = [line for _, line in iter_lines(path)]
    if not lines:
        raise DataError(f"{os.fspath(path)}: no lines (an empty file)")
    spec = checkpoint_embedding(checkpoint)
    how = pooling or spec["pooling"]
    model = load_bert(checkpoint, device)
    tok = load_tokenizer(checkpoint)
    vecs = embed(model, tok, lines, pooling=how, batch_size=batch_size, progress=progress,
                 max_seq_length=spec["max_seq_length"], normalize=spec["normalize"],
                 dtype=dtype)
    meta = {"source": os.fspath(path), "checkpoint": os.fspath(checkpoint), "pooling": how,
            "dtype": str(dtype).removeprefix("torch."),
            "weights_sha256": sha256_file(Path(checkpoint) / "model.safetensors")}
    write_index(out, vecs, lines, meta)
    return {**meta, "rows": len(lines), "dim": int(vecs.shape[1])}


def search(checkpoint: str | os.PathLike, index: str | os.PathLike, queries: Sequence[str],
           k: int = 10, device: str | torch.device = "cpu"
           ) -> list[list[tuple[float, int, str]]]:
    """For each query, the ``k`` nearest lines of ``index`` as ``(cosine, row, line)``."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if not queries:
        raise ConfigError("no query to search for")
    for n, query in enumerate(queries, 1):
        if not query.strip():
            raise ConfigError(f"query {n} is empty: give a sentence to search for")
    vecs, lines, meta = load_index(index)
    model = load_bert(checkpoint, device)
    if sha256_file(Path(checkpoint) / "model.safetensors") != meta.get("weights_sha256"):
        raise DataError(f"{index}: was embedded by another model ({meta.get('checkpoint')}), "
                        f"not {checkpoint}; search with that one, or embed the lines again")
    if vecs.shape[1] != model.config.n_embd:
        raise DataError(f"{index}: rows of width {vecs.shape[1]}, but the model's vectors have "
                        f"width {model.config.n_embd}")
    tok = load_tokenizer(checkpoint)
    spec = checkpoint_embedding(checkpoint)  # the cut the lines were embedded with
    q = embed(model, tok, list(queries), pooling=meta.get("pooling", "mean"),
              max_seq_length=spec["max_seq_length"])
    return [[(c, i, lines[i]) for i, c in nearest(vecs, v, k)] for v in q]
