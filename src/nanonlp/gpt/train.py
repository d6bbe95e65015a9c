"""Train and evaluate a GPT: presets + overrides -> a :class:`nanonlp.training.Trainer`.

``make_trainer`` is what ``nanonlp gpt train`` calls: it reads the prepared data folder, builds
the model config from a preset, the data's vocabulary and the user's overrides, and hands the
model, the batches and the tokenizer (copied into every checkpoint, so a checkpoint alone can
sample) to the shared training loop. ``evaluate`` measures a checkpoint on every window of a
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

from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.config import GPTConfig, presets
from nanonlp.gpt.data import TOKENIZER_FILE, TokenData, read_meta
from nanonlp.gpt.model import GPT, load_gpt
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import model_config_of, overrides, resume_configs
from nanonlp.training.device import pick_device
from nanonlp.training.distributed import DistInfo

KIND = "gpt"  # the checkpoint kind this part writes
OUT = "runs/gpt"  # where a run goes unless --train.out says otherwise


def configs(data: str | os.PathLike, preset: str = "nanogpt-cpu",
            model: dict[str, Any] | None = None, train: dict[str, Any] | TrainConfig | None = None,
            *, resume: str | os.PathLike | None = None) -> tuple[GPTConfig, TrainConfig]:
    """The model and training configs: preset, then data vocabulary, then overrides.

    When resuming, the model config is the checkpoint's and the training config is the
    checkpoint's with the overrides applied (e.g. a larger ``max_steps`` to train on).
    """
    meta = read_meta(data)
    model, train = dict(model or {}), overrides(train)
    if resume is not None:
        mcfg_dict, tcfg = resume_configs(resume, KIND, train)
        mcfg = model_config_of(resume, GPTConfig, mcfg_dict)
        if model:
            raise ConfigError(f"model options {sorted(model)} cannot change when resuming")
    else:
        p = presets(preset)
        mcfg = GPTConfig(**{**p["model"], "vocab_size": int(meta["vocab_size"]), **model})
        tcfg = TrainConfig(**{"out": OUT, **p["train"], **train})
    if mcfg.vocab_size < int(meta["vocab_size"]):
        raise ConfigError(f"vocab_size {mcfg.vocab_size} is smaller than the data's "
                          f"vocabulary ({meta['vocab_size']})")
    return mcfg, tcfg


def make_trainer(data: str | os.PathLike, preset: str = "nanogpt-cpu",
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 resume: str | os.PathLike | None = None,
                 dist: DistInfo | None = None) -> Trainer:
    """A ready :class:`Trainer` for a GPT on a prepared data folder (``data``): the preset's
    model and training fields, then the ``model`` / ``train`` overrides; ``resume`` continues
    a checkpoint (its configs, the ``train`` overrides on top)."""
    mcfg, tcfg = configs(data, preset, model, train, resume=resume)
    batches = TokenData.load(data, mcfg.block_size)
    gpt = GPT(mcfg, torch.Generator().manual_seed(tcfg.seed))
    tok = Path(data) / TOKENIZER_FILE
    extra = {TOKENIZER_FILE: tok.read_bytes()} if tok.exists() else {}
    return Trainer(gpt, batches, tcfg, kind=KIND, model_config=mcfg.to_dict(),
                   extra_files=extra, resume_from=resume, dist=dist)


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
def evaluate(checkpoint: str | os.PathLike, data: str | os.PathLike, split: str = "val",
             batch_size: int = 32, max_windows: int | None = None,
             device: str = "auto") -> EvalReport:
    """Mean loss of a checkpoint over consecutive non-overlapping ``block_size`` windows."""
    if max_windows is not None and max_windows < 1:
        raise ConfigError(f"max_windows must be >= 1, got {max_windows}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    model = load_gpt(checkpoint, pick_device(device))
    dev = next(model.parameters()).device
    T = model.config.block_size
    tokens = TokenData.load(data, T)
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
    return EvalReport(split, total / count, count, n)
