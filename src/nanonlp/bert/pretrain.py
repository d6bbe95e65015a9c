"""Pretrain a BERT with masked-LM: text -> tokenizer -> packed blocks -> the shared Trainer.

``prepare_corpus`` reads the sources, trains (or loads) the BPE tokenizer with BERT's special
tokens, packs the lines into blocks and writes them into a folder (``train.npy``, ``val.npy``,
``tokenizer.model``, ``meta.json``), which a later run with the same settings reuses.
``make_trainer`` builds the model from a preset and hands it, the masked batches and the
tokenizer (copied into every checkpoint) to :class:`nanonlp.training.Trainer`;
``trainer.run(budget_min=...)`` trains it for a wall-clock budget instead of a step count.
``mlm_accuracy`` measures masked-token accuracy, the figure BERT papers report beside the loss.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanonlp.bert.config import BertConfig, presets
from nanonlp.bert.data import (
    TOKENIZER_FILE,
    MLMData,
    load_tokenizer,
    pack_sentences,
    read_texts,
    special_ids,
    train_tokenizer,
)
from nanonlp.bert.model import BertForMaskedLM
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_dir, sha256_file
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import (
    check_writable,
    model_config_of,
    overrides,
    resume_configs,
)
from nanonlp.training.distributed import DistInfo, main_first

KIND = "bert"  # the checkpoint kind of a pretrained (MLM) BERT
OUT = "runs/bert"  # where a run goes unless --train.out says otherwise

#: the unlabelled English text in shared/data the issue names (SST-2 itself is left out)
DEFAULT_SOURCES = "wikitext-2:valid,wikitext-2:test,text8:head,brown,movie_reviews"


@dataclass
class PretrainConfig:
    sources: str = DEFAULT_SOURCES  # comma-separated data sets (name or name:split) or files
    data: str = "runs/bert-data"  # folder for the packed blocks and tokenizer (reused if same)
    tokenizer: str | None = None  # a BPE .model with [CLS] [SEP] [MASK] [PAD]; None: train one
    vocab_size: int = 8192  # vocabulary of the tokenizer trained when none is given
    max_chars: int | None = None  # read only about this many characters (quick runs)
    val_fraction: float = 0.02  # last blocks held out for the val loss
    mask_prob: float = 0.15  # share of tokens predicted (BERT: 0.15)
    lowercase: bool = False  # lower-case the text first: an uncased BERT (as bert-base-uncased)
    workers: int = 1  # processes that tokenize the text

    def __post_init__(self):
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0 < self.mask_prob < 1:
            raise ConfigError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"max_chars must be >= 1 (or None), got {self.max_chars}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")


def prepare_corpus(cfg: PretrainConfig, block_size: int) -> dict[str, Any]:
    """Tokenize and pack the sources into ``cfg.data``; returns its meta (reused when the
    folder already holds the same sources, tokenizer settings and block size)."""
    folder = Path(cfg.data)
    # a given tokenizer counts by content, so editing the file on disk re-packs the corpus
    tok_sha = sha256_file(cfg.tokenizer) if cfg.tokenizer and Path(cfg.tokenizer).is_file() \
        else None
    want = {"sources": cfg.sources, "tokenizer": cfg.tokenizer, "tokenizer_sha256": tok_sha,
            "vocab_size": cfg.vocab_size,
            "max_chars": cfg.max_chars, "val_fraction": cfg.val_fraction,
            "block_size": block_size, "lowercase": cfg.lowercase}
    meta = _reusable(folder, want)
    if meta is not None:
        return meta
    lines = list(read_texts(cfg.sources, cfg.max_chars))
    if cfg.lowercase:
        lines = [line.lower() for line in lines]
    if not lines:
        raise DataError(f"{cfg.sources}: no text")
    tok = load_tokenizer(cfg.tokenizer) if cfg.tokenizer else \
        train_tokenizer(lines, cfg.vocab_size, cfg.workers)
    ids = special_ids(tok)
    encoded = tok.encode_batch(lines, workers=cfg.workers, disallowed_special=())
    blocks = pack_sentences(encoded, block_size, ids["cls_id"], ids["sep_id"], ids["pad_id"])
    n_val = max(1, int(len(blocks) * cfg.val_fraction))
    if len(blocks) < 2:
        raise DataError(f"{cfg.sources}: too little text for a train and a val block")
    meta = {"settings": want, "vocab_size": tok.vocab_size, **ids, "lines": len(lines),
            "characters": sum(len(s) + 1 for s in lines),
            "tokens": int(sum(len(e) for e in encoded)),
            "blocks": {"train": len(blocks) - n_val, "val": n_val}}
    # the whole folder is built aside and swapped in: a kill leaves the old corpus or the new
    # one, never new arrays beside an old meta.json (which a later run would trust)
    with atomic_dir(folder, keep_others=True) as tmp:
        for split, arr in (("train", blocks[:-n_val]), ("val", blocks[-n_val:])):
            with open(tmp / f"{split}.npy", "wb") as f:
                np.save(f, arr.astype(np.int32), allow_pickle=False)
        tok.save(tmp / "tokenizer")
        meta["tokenizer_file_sha256"] = sha256_file(tmp / TOKENIZER_FILE)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def _reusable(folder: Path, want: dict[str, Any]) -> dict[str, Any] | None:
    """The meta of a corpus folder built with the settings ``want``, if every file in it is
    what its meta.json says (the arrays' block counts and width, the tokenizer's hash);
    otherwise None, and the caller builds it again (it is a cache: a damaged or foreign
    folder costs a rebuild, never a run on mismatched files)."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("settings") != want:
            return None
        for split in ("train", "val"):
            arr = np.load(folder / f"{split}.npy", mmap_mode="r", allow_pickle=False)
            if arr.ndim != 2 or arr.shape != (meta["blocks"][split], want["block_size"]):
                return None
        if sha256_file(folder / TOKENIZER_FILE) != meta.get("tokenizer_file_sha256"):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def load_corpus(folder: str | os.PathLike, mask_prob: float = 0.15) -> MLMData:
    """The :class:`MLMData` of a folder :func:`prepare_corpus` wrote."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        splits = {s: np.load(folder / f"{s}.npy", allow_pickle=False) for s in ("train", "val")}
    except FileNotFoundError as e:
        raise DataError(f"{folder}: not a prepared corpus ({Path(e.filename).name} is "
                        "missing)") from None
    except (ValueError, json.JSONDecodeError) as e:
        raise DataError(f"{folder}: damaged corpus files ({e})") from None
    return MLMData(splits, vocab_size=meta["vocab_size"], cls_id=meta["cls_id"],
                   sep_id=meta["sep_id"], mask_id=meta["mask_id"], pad_id=meta["pad_id"],
                   mask_prob=mask_prob)


def configs(meta: dict[str, Any], preset: str = "mini",
            model: dict[str, Any] | None = None,
            train: dict[str, Any] | TrainConfig | None = None
            ) -> tuple[BertConfig, TrainConfig]:
    """Model and training configs: preset, then the corpus's vocabulary and ids, then overrides."""
    p = presets(preset)
    ids = {k: meta[k] for k in ("cls_id", "sep_id", "mask_id", "pad_id")}
    lower = bool(meta["settings"].get("lowercase", False))  # the model remembers the casing
    if "lowercase" in (model or {}) and bool(model["lowercase"]) != lower:
        raise ConfigError(f"model lowercase={model['lowercase']} but the corpus was packed with "
                          f"lowercase={lower}: set the corpus's lowercase instead")
    mcfg = BertConfig(**{**p["model"], "vocab_size": int(meta["vocab_size"]), **ids,
                         "lowercase": lower, **(model or {})})
    tcfg = TrainConfig(**{"out": OUT, **p["train"], **overrides(train)})
    return mcfg, tcfg


def make_trainer(data: PretrainConfig, preset: str = "mini",
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 resume: str | os.PathLike | None = None,
                 dist: DistInfo | None = None) -> Trainer:
    """A ready :class:`Trainer` for MLM pretraining on the corpus ``data`` describes (packed
    first if needed). ``resume`` continues a checkpoint: its model and training configs, the
    ``train`` overrides on top. Every config is checked before the corpus is built, so a bad
    option costs nothing."""
    if resume is not None:
        if model:
            raise ConfigError(f"model options {sorted(model)} cannot change when resuming")
        saved, tcfg = resume_configs(resume, KIND, overrides(train))
        mcfg = model_config_of(resume, BertConfig, saved)
        check_writable(tcfg.out)
    else:
        p = presets(preset)
        BertConfig(**{**p["model"], **(model or {})})  # bad model options fail before packing
        check_writable(TrainConfig(**{"out": OUT, **p["train"], **overrides(train)}).out)
        mcfg = tcfg = None
    block = mcfg.block_size if mcfg else int({**p["model"], **(model or {})}["block_size"])
    with main_first(dist or DistInfo()):  # rank 0 packs the corpus; the others reuse it
        meta = prepare_corpus(data, block)
    if mcfg is None:
        mcfg, tcfg = configs(meta, preset, model, train)
    elif mcfg.vocab_size != int(meta["vocab_size"]):
        raise ConfigError(f"{resume}: the checkpoint's vocabulary ({mcfg.vocab_size}) is not "
                          f"the corpus's ({meta['vocab_size']}); resume with the same --data")
    corpus = load_corpus(data.data, data.mask_prob)
    bert = BertForMaskedLM(mcfg, torch.Generator().manual_seed(tcfg.seed))
    tok = (Path(data.data) / TOKENIZER_FILE).read_bytes()
    return Trainer(bert, corpus, tcfg, kind=KIND, model_config=mcfg.to_dict(),
                   extra_files={TOKENIZER_FILE: tok}, resume_from=resume, dist=dist)


@torch.no_grad()
def mlm_accuracy(model: BertForMaskedLM, data: MLMData, split: str = "val", batches: int = 20,
                 batch_size: int = 32, seed: int = 0) -> dict[str, float]:
    """Masked-token accuracy and loss on fixed masked batches of a split."""
    model.eval()
    dev = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    right = total = 0
    loss_sum = 0.0
    for _ in range(batches):
        (x,), y = data.batch(split, batch_size, g)
        x, y = x.to(dev), y.to(dev)
        logits, loss = model(x, targets=y)  # logits (N, V) over masked positions only
        keep = y.reshape(-1) != -1
        right += int((logits.argmax(-1) == y.reshape(-1)[keep]).sum())
        n = int(keep.sum())
        total += n
        loss_sum += float(loss) * n
    return {"accuracy": right / max(total, 1), "loss": loss_sum / max(total, 1),
            "tokens": total}

