"""Train and evaluate a GPT: presets + overrides -> a :class:`nanonlp.training.Trainer`.

``make_trainer`` is what ``nanonlp gpt train`` calls: it reads the prepared data folder, builds
the model config from a preset, the data's vocabulary and the user's overrides, and hands the
model, the batches and the tokenizer (copied into every checkpoint, so a checkpoint alone can
sample) to the shared training loop; ``init`` starts from another checkpoint's weights and model
config instead of a random GPT (a model ``nanonlp gpt import`` brought in from transformers,
trained further on the user's text). ``evaluate`` measures a checkpoint on every window of a
split rather than on random batches, so the figure is exact and repeatable.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanonlp.bpe.formats import TOKENIZER_FILE
from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.config import GPTConfig, presets
from nanonlp.gpt.data import TokenData, read_meta
from nanonlp.gpt.model import GPT, load_gpt
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import model_config_of, overrides, resume_configs
from nanonlp.training.device import pick_device
from nanonlp.training.distributed import DistInfo

KIND = "gpt"  # the checkpoint kind this part writes
OUT = "runs/gpt"  # where a run goes unless --train.out says otherwise
#: model fields a run from ``init`` may set: the rest are the checkpoint's (its weights'
#: shapes); block_size may only shrink (the position table is cut, as nanoGPT's crop_block_size)
INIT_OVERRIDES = ("dropout", "block_size")


def configs(data: str | os.PathLike, preset: str = "nanogpt-cpu",
            model: dict[str, Any] | None = None, train: dict[str, Any] | TrainConfig | None = None,
            *, resume: str | os.PathLike | None = None,
            init: str | os.PathLike | None = None,
            vocab_size: int | None = None) -> tuple[GPTConfig, TrainConfig]:
    """The model and training configs: preset, then data vocabulary, then overrides.

    When resuming, the model config is the checkpoint's and the training config is the
    checkpoint's with the overrides applied (e.g. a larger ``max_steps`` to train on). From
    ``init``, the model config is that checkpoint's (only :data:`INIT_OVERRIDES` may change)
    and the training config the preset's with the overrides. ``vocab_size`` reads a nanoGPT
    folder (no ``meta.json``) or pads a prepared one's vocabulary (nanoGPT's 50,304).
    """
    meta = read_meta(data, vocab_size)
    model, train = dict(model or {}), overrides(train)
    if resume is not None and init is not None:
        raise ConfigError("give --resume (continue a run) or --init (start a new run from a "
                          "checkpoint's weights), not both")
    if init is not None:
        base = init_config(init)
        fixed = sorted(set(model) - set(INIT_OVERRIDES))
        if fixed:
            raise ConfigError(f"model options {fixed} come from the --init checkpoint {init}; "
                              f"only {', '.join(INIT_OVERRIDES)} can change")
        if model.get("block_size", base.block_size) > base.block_size:
            raise ConfigError(f"block_size {model['block_size']} is longer than the --init "
                              f"checkpoint's position table ({base.block_size})")
        mcfg = GPTConfig(**{**base.to_dict(), **model})
        tcfg = TrainConfig(**{"out": OUT, **presets(preset)["train"], **train})
    elif resume is not None:
        mcfg_dict, tcfg = resume_configs(resume, KIND, train)
        mcfg = model_config_of(resume, GPTConfig, mcfg_dict)
        if model:
            raise ConfigError(f"model options {sorted(model)} cannot change when resuming")
    else:
        p = presets(preset)
        mcfg = GPTConfig(**{**p["model"], "vocab_size": vocab_size or int(meta["vocab_size"]),
                            **model})
        tcfg = TrainConfig(**{"out": OUT, **p["train"], **train})
    if mcfg.vocab_size < int(meta["vocab_size"]):
        raise ConfigError(f"vocab_size {mcfg.vocab_size} is smaller than the data's "
                          f"vocabulary ({meta['vocab_size']})")
    return mcfg, tcfg


def make_trainer(data: str | os.PathLike, preset: str = "nanogpt-cpu",
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 resume: str | os.PathLike | None = None,
                 init: str | os.PathLike | None = None,
                 dist: DistInfo | None = None, vocab_size: int | None = None) -> Trainer:
    """A ready :class:`Trainer` for a GPT on a prepared data folder (``data``): the preset's
    model and training fields, then the ``model`` / ``train`` overrides; ``resume`` continues
    a checkpoint (its configs, the ``train`` overrides on top); ``init`` starts from a
    checkpoint's weights and model config (the data must be tokenized with its tokenizer);
    ``vocab_size`` is for a folder of nanoGPT's ``train.bin``/``val.bin`` (no ``meta.json``)."""
    mcfg, tcfg = configs(data, preset, model, train, resume=resume, init=init,
                         vocab_size=vocab_size)
    if init is not None:
        check_same_tokenizer(init, data)
    batches = TokenData.load(data, mcfg.block_size, vocab_size)
    gpt = GPT(mcfg, torch.Generator().manual_seed(tcfg.seed))
    if init is not None:
        init_weights(gpt, init)
    tok = Path(data) / TOKENIZER_FILE
    extra = {TOKENIZER_FILE: tok.read_bytes()} if tok.exists() else {}
    return Trainer(gpt, batches, tcfg, kind=KIND, model_config=mcfg.to_dict(),
                   extra_files=extra, resume_from=resume, dist=dist)


def init_config(checkpoint: str | os.PathLike) -> GPTConfig:
    """The model config of a GPT checkpoint (a wrong folder is a :class:`DataError`)."""
    from nanonlp.training.checkpoint import read_meta as read_checkpoint_meta

    try:
        return GPTConfig.from_dict(read_checkpoint_meta(checkpoint, KIND)["model_config"])
    except (ConfigError, TypeError) as e:
        raise DataError(f"{checkpoint}: bad GPT config in config.json ({e})") from None


def check_same_tokenizer(checkpoint: str | os.PathLike, data: str | os.PathLike) -> None:
    """Refuse data tokenized by another tokenizer than the checkpoint's: its ids would mean
    other tokens to the model (a vocabulary that merely fits is not enough)."""
    ours, theirs = Path(checkpoint) / TOKENIZER_FILE, Path(data) / TOKENIZER_FILE
    if ours.is_file() and theirs.is_file() and ours.read_bytes() != theirs.read_bytes():
        raise ConfigError(f"{data}: tokenized with another tokenizer than {checkpoint}'s; "
                          f"prepare it with `nanonlp gpt prepare --tokenizer {ours} ...`")


@torch.no_grad()
def init_weights(model: GPT, checkpoint: str | os.PathLike) -> None:
    """Copy a checkpoint's weights into ``model`` (the same shapes, but for a position table
    that may be shorter: its first ``block_size`` rows are kept)."""
    sd = load_gpt(checkpoint).state_dict()
    if "transformer.wpe.weight" in sd:
        sd["transformer.wpe.weight"] = sd["transformer.wpe.weight"][:model.config.block_size]
    model.load_state_dict(sd)


@dataclasses.dataclass
class EvalReport:
    split: str  # which split was measured
    loss: float  # mean cross-entropy per token, nats
    tokens: int  # tokens predicted
    windows: int  # block_size windows evaluated

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)


@torch.no_grad()
def evaluate(model: GPT | str | os.PathLike, data: str | os.PathLike, split: str = "val",
             batch_size: int = 32, max_windows: int | None = None,
             device: str = "auto", vocab_size: int | None = None) -> EvalReport:
    """Mean loss of a checkpoint (a folder, or a loaded :class:`GPT`, which stays on its
    device) over consecutive non-overlapping ``block_size`` windows of a prepared data
    folder's ``split``: the same shape as every part's ``evaluate``."""
    if max_windows is not None and max_windows < 1:
        raise ConfigError(f"max_windows must be >= 1, got {max_windows}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(model, str | os.PathLike):
        model = load_gpt(model, pick_device(device))
    was_training = model.training
    model.eval()  # no dropout; put back as it was at the end
    dev = next(model.parameters()).device
    T = model.config.block_size
    tokens = TokenData.load(data, T, vocab_size)
    if split not in tokens.splits:
        raise ConfigError(f"unknown split {split!r}; choose train or val")
    if tokens.vocab_size > model.config.vocab_size:
        raise DataError(f"{data}: vocabulary of {tokens.vocab_size} does not fit the model's "
                        f"{model.config.vocab_size}")
    arr = tokens.splits[split]
    n = (len(arr) - 1) // T
    if max_windows is not None:
        n = min(n, max_windows)
    total, count = 0.0, 0
    for s in range(0, n, batch_size):
        k = min(batch_size, n - s)
        rows = np.asarray(arr[s * T:(s + k) * T + 1], dtype=np.int64)
        x = torch.from_numpy(rows[:-1].reshape(k, T)).to(dev)  # (k, T)
        y = torch.from_numpy(rows[1:].reshape(k, T)).to(dev)  # (k, T)
        _, loss = model(x, y)
        total += float(loss) * k * T
        count += k * T
    model.train(was_training)
    return EvalReport(split, total / count, count, n)
