"""Sentence encoders the server holds: what a checkpoint's ``embedding.json`` offers the BERT
page (similarity of two texts), and the search indexes of the Search page with the encoder
that embedded each.

An index is the pair ``VECS.npy`` + ``VECS.npy.json`` written by ``nanonlp bert embed``
(:func:`nanonlp.bert.embed.write_index`), read with :func:`~nanonlp.bert.embed.load_index`.
Its sidecar records the checkpoint folder it was embedded with and the sha256 of that
checkpoint's ``model.safetensors``; as ``nanonlp bert search`` does, an index is served only
with a checkpoint whose weights have that hash. The checkpoint is the one named as
``--index CKPT::VECS.npy``, else the folder the sidecar names (or one the server holds that
embeds as it does: the same weights and ``embedding.json`` cut), else one the server holds with
those weights (the runs folder moved). Each encoder is loaded once and shared by every index
it embedded (and by the BERT page when it serves the same folder); a query is embedded with
the index's pooling and the checkpoint's cut and ranked with
:func:`~nanonlp.bert.embed.nearest`, so the page's answer is ``bert search``'s.

Left out: indexes built or extended by the server (requests never name files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanonlp.bert.embed import (
    checkpoint_embedding,
    embed,
    load_index,
    nearest,
    unit,
)
from nanonlp.errors import DataError
from nanonlp.fileio import sha256_file
from nanonlp.serve.models import Loaded

SEP = "::"  # --index CKPT::VECS.npy: the checkpoint that embedded the index, then the index
WEIGHTS = "model.safetensors"


def split_spec(spec: str | os.PathLike) -> tuple[str | None, str]:
    """An ``--index`` value as ``(checkpoint or None, index path)``.

    >>> split_spec("runs/minilm::runs/vecs.npy")
    ('runs/minilm', 'runs/vecs.npy')
    >>> split_spec("vecs.npy")
    (None, 'vecs.npy')
    """
    spec = os.fspath(spec)
    if SEP in spec:
        ckpt, path = spec.split(SEP, 1)
        return ckpt, path
    return None, spec


def similarity(model, tok, a: str, b: str, embedding: dict[str, Any]) -> float:
    """Cosine of the two texts' sentence vectors (:func:`nanonlp.bert.embed.embed` with the
    checkpoint's pooling and cut; its normalisation does not change a cosine)."""
    va, vb = unit(embed(model, tok, [a, b], pooling=embedding["pooling"],
                        max_seq_length=embedding["max_seq_length"]))
    return float(va @ vb)


@dataclass
class SearchIndex:
    """An index held by the server: its matrix, its lines, and the encoder of its queries."""

    vecs: np.ndarray  # (N, C) float32, as bert embed wrote it
    lines: list[str]
    pooling: str  # the index's, as bert embed recorded it
    max_seq_length: int | None  # the checkpoint's cut (None: its position table)
    encoder: Loaded  # the BERT checkpoint that embedded the lines

    def search(self, query: str, k: int) -> list[tuple[float, int, str]]:
        """The ``k`` nearest lines to ``query`` as ``(cosine, row, line)``, best first."""
        q = embed(self.encoder.obj, self.encoder.tokenizer, [query], pooling=self.pooling,
                  max_seq_length=self.max_seq_length)
        return [(c, i, self.lines[i]) for i, c in nearest(self.vecs, q[0], k)]


class Encoders:
    """BERT checkpoint folders by resolved path, each hashed and loaded at most once."""

    def __init__(self):
        self.held: dict[Path, Loaded] = {}
        self.hashes: dict[Path, str | None] = {}

    def add(self, path: str | os.PathLike, entry: Loaded) -> None:
        """A checkpoint the server loaded already (for the BERT page): indexes share it."""
        self.held[Path(path).resolve()] = entry

    def sha256(self, path: str | os.PathLike) -> str | None:
        key = Path(path).resolve()
        if key not in self.hashes:
            weights = key / WEIGHTS
            self.hashes[key] = sha256_file(weights) if weights.is_file() else None
        return self.hashes[key]

    def get(self, path: str | os.PathLike) -> Loaded:
        from nanonlp.serve.models import load

        key = Path(path).resolve()
        if key not in self.held:
            self.held[key] = load("bert", path)
        return self.held[key]


def load_search(spec: str | os.PathLike, encoders: Encoders, name: str | None = None) -> Loaded:
    """The index of an ``--index`` value (``VECS.npy`` or ``CKPT::VECS.npy``) with its
    encoder; an index whose checkpoint is not found, or another one, is a DataError."""
    ckpt, path = split_spec(spec)
    vecs, lines, meta = load_index(path)
    want, recorded = meta.get("weights_sha256"), meta.get("checkpoint")
    found = _checkpoint_of(ckpt, recorded, want, encoders)
    if found is None:
        if ckpt is not None:
            raise DataError(f"{path}: was embedded by another model ({recorded}), not {ckpt}; "
                            f"serve it with that one, or embed the lines again")
        raise DataError(f"{path}: no checkpoint here has the weights it was embedded with "
                        f"({recorded}); name it as --index CKPT{SEP}{path}, or embed the lines "
                        "again")
    encoder = encoders.get(found)
    width = encoder.obj.config.n_embd
    if vecs.shape[1] != width:
        raise DataError(f"{path}: rows of width {vecs.shape[1]}, but the vectors of {found} "
                        f"have width {width}")
    index = SearchIndex(vecs, lines, meta.get("pooling", "mean"),
                        checkpoint_embedding(found)["max_seq_length"], encoder)
    return Loaded("index", name or path, index, encoder.tokenizer,
                  info={"lines": len(lines), "dim": int(vecs.shape[1]),
                        "pooling": index.pooling, "checkpoint": encoder.name})


def _checkpoint_of(ckpt: str | None, recorded: Any, want: Any, encoders: Encoders
                   ) -> str | Path | None:
    """The folder an index is served with: ``ckpt`` if its weights are the index's; else a
    held checkpoint that embeds as the sidecar's folder does (same weights, same cut), else
    that folder; else (the folder moved) a held checkpoint with the same weights."""
    if ckpt is not None:
        return ckpt if encoders.sha256(ckpt) == want else None
    held = [c for c in encoders.held if encoders.sha256(c) == want]
    if isinstance(recorded, str) and encoders.sha256(recorded) == want:
        def cut(c):
            return checkpoint_embedding(c)["max_seq_length"]

        return next((c for c in held if cut(c) == cut(recorded)), recorded)
    return held[0] if held else None
