"""The models a server holds: found in a runs folder or named on the command line, loaded once
at start, then only read.

Requests name a model by its registry name (its path relative to the runs folder, or the path
as it was given on the command line); nothing a request sends is ever opened as a file. Each
kind is loaded by its part's own loader, so the playground shows what the library computes:

    bpe        a ``.model`` file (byte-level BPE or characters)    bpe.formats.load_tokenizer
    vectors    ``.bin`` / ``.npz`` / ``.vec`` / ``.txt`` word vectors  WordVectors.load
    ner        a spaCy pipeline folder (or a training folder)       ner.evaluate.load_pipeline
    translate  a seq2seq checkpoint folder                          Translator.load
    gpt        a GPT checkpoint folder with its tokenizer           gpt.load_gpt
    (chat)     a GPT with ``chat.json`` beside it: a chat model     gpt.chat.load_chat
    bert       a BERT checkpoint folder (MLM or classifier)         bert.load_bert
    index      ``VECS.npy`` of ``bert embed``, with its checkpoint    bert.embed.load_index

The torch models are put in eval mode once and never written again: every request builds its
own tensors and KV cache. spaCy pipelines keep a mutable string store, so each has a lock and
serves one request at a time.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanonlp.errors import DataError, NanonlpError

KINDS = ("bpe", "vectors", "ner", "translate", "gpt", "bert", "index")
#: the checkpoint kinds written by the trainers -> the playground page that shows them
CHECKPOINT_KINDS = {"gpt": "gpt", "bert": "bert", "bert-classifier": "bert",
                    "seq2seq": "translate"}
VECTOR_SUFFIXES = (".bin", ".npz", ".vec", ".txt")
MAX_DEPTH = 6  # how deep discovery looks below the runs folder
MAX_PER_KIND = 8  # models of one kind taken from a runs folder (each is held in memory)


class NotLoaded(NanonlpError):
    """A request named a model kind or name that the server does not hold (HTTP 404)."""


@dataclass
class Loaded:
    """One model held by the server."""

    kind: str  # one of KINDS
    name: str  # how requests name it (never opened as a path)
    obj: Any  # Tokenizer, WordVectors, spaCy Language, Translator, GPT or BERT
    tokenizer: Any = None  # gpt and bert: the checkpoint's tokenizer
    info: dict[str, Any] = field(default_factory=dict)  # shown by /api/health
    lock: threading.Lock | None = None  # spaCy pipelines: one request at a time


class Models:
    """Loaded models by kind and name: ``models.get("gpt")`` is the first GPT."""

    def __init__(self, entries: Iterable[Loaded] = ()):
        self.by_kind: dict[str, dict[str, Loaded]] = {k: {} for k in KINDS}
        for e in entries:
            self.add(e)

    def add(self, entry: Loaded) -> None:
        names = self.by_kind[entry.kind]
        name, n = entry.name, 2
        while name in names:  # two paths that name alike: the second gets a suffix
            name, n = f"{entry.name}#{n}", n + 1
        entry.name = name
        names[name] = entry

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_kind.values())

    def __iter__(self) -> Iterator[Loaded]:
        for kind in KINDS:
            yield from self.by_kind[kind].values()

    def get(self, kind: str, name: str | None = None) -> Loaded:
        """The model ``name`` of ``kind`` (the first one when name is None or empty)."""
        held = self.by_kind.get(kind)
        if not held:
            raise NotLoaded(f"no {kind} model is loaded (start the server with --{kind} "
                            f"{'FILE' if kind in ('bpe', 'vectors') else 'PATH'}, or a runs "
                            f"folder that holds one)")
        if not name:
            return next(iter(held.values()))
        if name not in held:
            raise NotLoaded(f"no {kind} model named {name!r}; loaded: {', '.join(held)}")
        return held[name]

    def tokenizers(self) -> dict[str, Any]:
        """Every tokenizer the server holds: the BPE models, then those of the GPT and BERT
        checkpoints (named ``gpt:NAME``, ``bert:NAME``)."""
        out = {e.name: e.obj for e in self.by_kind["bpe"].values()}
        for kind in ("gpt", "bert"):
            out.update({f"{kind}:{e.name}": e.tokenizer for e in self.by_kind[kind].values()})
        return out

    def health(self) -> list[dict[str, Any]]:
        """One row per model: kind, name and what kind of model it is."""
        return [{"kind": e.kind, "name": e.name, **e.info} for e in self]


# ----------------------------------------------------------------------------------------------
# loading one model of each kind


def load(kind: str, path: str | os.PathLike, name: str | None = None) -> Loaded:
    """Load the model of ``kind`` at ``path`` with its part's own loader."""
    path = Path(path)
    name = name or str(path)
    if kind == "bpe":
        from nanonlp.gpt.data import load_tokenizer

        tok = load_tokenizer(path)
        return Loaded(kind, name, tok, info={"vocab_size": tok.vocab_size,
                                             "type": type(tok).__name__})
    if kind == "vectors":
        from nanonlp.word2vec import WordVectors

        wv = WordVectors.load(path)
        wv.norms  # noqa: B018  (computed once here, so requests only read it)
        return Loaded(kind, name, wv, info={"words": len(wv), "dim": wv.dim})
    if kind == "ner":
        from nanonlp.ner.evaluate import load_pipeline

        nlp = load_pipeline(path)
        labels = sorted({lab for pipe in ("ner", "entity_ruler") if pipe in nlp.pipe_names
                         for lab in nlp.get_pipe(pipe).labels})
        return Loaded(kind, name, nlp, info={"labels": labels, "pipes": nlp.pipe_names},
                      lock=threading.Lock())
    if kind == "translate":
        from nanonlp.seq2seq import Translator

        tr = Translator.load(path)
        return Loaded(kind, name, tr, info={"parameters": tr.model.num_params(),
                                            "src_vocab": len(tr.src_vocab),
                                            "tgt_vocab": len(tr.tgt_vocab)})
    if kind == "gpt":
        from nanonlp.bpe.formats import load_tokenizer
        from nanonlp.gpt.chat import CHAT_FILE, load_chat
        from nanonlp.gpt.model import load_gpt
        from nanonlp.gpt.sample import decoding_layout_

        chat = (path / CHAT_FILE).is_file()  # `gpt finetune --chat` wrote it: the Chat page too
        model, tok = load_chat(path) if chat else (load_gpt(path), load_tokenizer(path))
        decoding_layout_(model)  # once, here: requests share the model and never write to it
        c = model.config
        return Loaded(kind, name, model, tok,
                      info={"parameters": model.num_params(), "n_layer": c.n_layer,
                            "n_head": c.n_head, "block_size": c.block_size,
                            "vocab_size": c.vocab_size, "chat": chat})
    if kind == "bert":
        from nanonlp.bert.data import load_tokenizer as bert_tokenizer
        from nanonlp.bert.model import BertForMaskedLM, load_bert

        model = load_bert(path)
        task = "mlm" if isinstance(model, BertForMaskedLM) else model.task
        info = {"task": task, "parameters": model.num_params(),
                "block_size": model.config.block_size}
        if task != "mlm":
            info["labels"] = model.labels
        embedding = embedding_info(path)
        if embedding is not None:  # a sentence encoder: the BERT page offers similarity
            info["embedding"] = embedding
        return Loaded(kind, name, model, bert_tokenizer(path), info=info)
    raise NanonlpError(f"unknown model kind {kind!r}; kinds: {', '.join(KINDS)}")


def discover(runs: str | os.PathLike, left: list | None = None) -> list[tuple[str, Path]]:
    """``(kind, path)`` of each model below ``runs``, in path order, at most
    ``MAX_PER_KIND`` of a kind: checkpoint folders (``best/`` when a run has both ``best/``
    and ``last/``), spaCy pipelines (``model-best/`` of a training folder), nanonlp tokenizer
    files outside prepared data folders, word-vector files with a word2vec header, and
    search indexes (a ``.npy`` with its ``.npy.json``, beside a checkpoint or inside it).
    Hidden folders and symbolic links are not followed. Models past the limit are appended
    to ``left`` when it is given.
    """
    root = Path(runs)
    if not root.is_dir():
        raise DataError(f"{runs}: no such runs folder")
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in _walk(root):
        kind = _folder_kind(folder)
        if kind is not None:
            dirs.clear()  # a model folder's contents belong to it, but for its indexes
            if not _shadowed(folder):
                found.append((kind, folder))
            found += [("index", folder / f) for f in sorted(files) if _is_index(folder / f)]
            continue
        for f in sorted(files):
            file_kind = _file_kind(folder / f)
            if file_kind is not None:
                found.append((file_kind, folder / f))
    found.sort(key=lambda kp: kp[1].as_posix())
    counts: dict[str, int] = {}
    kept = []
    for kind, path in found:
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] <= MAX_PER_KIND:
            kept.append((kind, path))
        elif left is not None:
            left.append((kind, path))
    return kept


def _walk(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    base = len(root.parts)
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and len(here.parts) - base < MAX_DEPTH)
        yield here, dirs, files


def _folder_kind(folder: Path) -> str | None:
    cfg = folder / "config.json"
    if cfg.is_file():
        try:
            meta = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(meta, dict) and meta.get("format") == "nanonlp-checkpoint":
            return CHECKPOINT_KINDS.get(meta.get("kind"))
    if (folder / "meta.json").is_file() and (folder / "config.cfg").is_file():
        return "ner"  # a spaCy pipeline folder
    return None


def _shadowed(folder: Path) -> bool:
    """``last/`` beside a ``best/``, ``model-last/`` beside a ``model-best/``: the same run."""
    twin = {"last": "best", "model-last": "model-best"}.get(folder.name)
    return twin is not None and (folder.parent / twin).is_dir()


def _is_index(path: Path) -> bool:
    """A ``bert embed`` matrix: ``.npy`` with its sidecar ``.npy.json`` of the lines."""
    return path.suffix == ".npy" and path.with_name(path.name + ".json").is_file()


_HEADER = re.compile(rb"\s*\d+ \d+\s*$")


def _file_kind(path: Path) -> str | None:
    suffix = path.suffix
    if suffix == ".model":
        if (path.parent / "meta.json").exists():
            return None  # a prepared data folder's tokenizer: served with its model
        head = _first_line(path)
        return "bpe" if head.startswith((b"nanonlp-bpe", b"nanonlp-char")) else None
    if suffix == ".npz":
        return "vectors"
    if _is_index(path):
        return "index"
    if suffix in VECTOR_SUFFIXES and _HEADER.fullmatch(_first_line(path)):
        return "vectors"  # word2vec's "N D" header line
    return None


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.readline(200).rstrip(b"\r\n")
    except OSError:
        return b""


def embedding_info(checkpoint: str | os.PathLike) -> dict[str, Any] | None:
    """What a checkpoint's ``embedding.json`` says (its pooling, the length its lines are cut
    to, and whether it has an MLM head: a sentence-transformers folder has none), or None
    without one."""
    from nanonlp.bert.embed import EMBEDDING_FILE, checkpoint_embedding

    if not (Path(checkpoint) / EMBEDDING_FILE).is_file():
        return None
    spec = checkpoint_embedding(checkpoint)  # the library's reading and checks of the file
    return {"pooling": spec["pooling"], "max_seq_length": spec["max_seq_length"],
            "mlm_head": spec.get("mlm_head") is not False}
