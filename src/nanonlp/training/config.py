"""The training configuration shared by every torch model in nanonlp (GPT, BERT, seq2seq).

Each part's presets set ``out`` to the part's own folder (``runs/gpt``, ``runs/bert``, ...);
the default here is only for a Trainer built by hand.

Defaults follow nanoGPT's ``train.py`` where the choice is a sensible general default; the
presets of each model override them (see :data:`nanonlp.gpt.config.PRESETS`).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from nanonlp.errors import ConfigError, DataError
from nanonlp.training.checkpoint import read_meta

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")
SCHEDULE_NAMES = ("cosine", "linear")  # the keys of training.schedule.SCHEDULES
OPTIMIZERS = ("adamw", "muon")  # what training.schedule.make_optimizer builds


@dataclass
class TrainConfig:
    max_steps: int = 2000  # optimizer steps to take (one step = grad_accum micro-batches)
    batch_size: int = 12  # sequences per micro-batch, summed over all processes under DDP
    grad_accum: int = 1  # micro-batches whose gradients add up to one optimizer step
    lr: float = 1e-3  # peak learning rate, reached after the warmup
    min_lr: float = 1e-4  # floor of the decay (nanoGPT: lr / 10)
    warmup_steps: int = 100  # linear warmup from ~0 to lr
    decay_steps: int | None = None  # the decay ends here (None: at max_steps)
    schedule: str = "cosine"  # decay after warmup: cosine (nanoGPT) or linear (BERT fine-tuning)
    optimizer: str = "adamw"  # adamw, or muon: orthogonalised momentum for hidden matrices
    muon_lr: float = 0.02  # muon: peak lr of the hidden matrices (lr's schedule scales it)
    muon_momentum: float = 0.95  # muon: momentum of the hidden matrices (Nesterov)
    weight_decay: float = 0.1  # AdamW decay, on matrices only (not biases, norms)
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.99  # AdamW second-moment decay; 0.99 suits small batches (nanoGPT)
    grad_clip: float = 1.0  # clip the global gradient norm to this (0: no clipping)
    eval_interval: int = 250  # evaluate every this many steps (and at the last step)
    eval_steps: int = 20  # micro-batches per split in an evaluation
    seed: int = 1337  # seeds initialisation, batch sampling and dropout
    device: str = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, mps
    dtype: str = "auto"  # auto (CUDA: bfloat16 if it can, else float32), float32, bfloat16, float16
    compile: bool = False  # torch.compile the model (worth it on GPU for long runs)
    out: str = "runs/train"  # folder for checkpoints (last/, best/), metrics.jsonl, loss.png
    save_interval: int = 0  # also save last/ every this many steps (0: at evaluations only)
    log_interval: int = 10  # read the loss back from the device every this many steps (nanoGPT)

    def __post_init__(self):
        for f in fields(self):  # nan passes every comparison below: refuse it by name first
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value}")
        positive = ("max_steps", "batch_size", "grad_accum", "eval_interval", "eval_steps",
                    "log_interval")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "save_interval"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0 or not 0 <= self.min_lr <= self.lr:
            raise ConfigError(f"need lr > 0 and 0 <= min_lr <= lr, got lr {self.lr}, "
                              f"min_lr {self.min_lr}")
        if self.decay_steps is not None and self.decay_steps < self.warmup_steps:
            raise ConfigError(f"decay_steps {self.decay_steps} is below warmup_steps "
                              f"{self.warmup_steps}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError(f"weight_decay and grad_clip must be >= 0, got "
                              f"{self.weight_decay}, {self.grad_clip}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}; choose {', '.join(DEVICES)}")
        if self.schedule not in SCHEDULE_NAMES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose "
                              f"{', '.join(SCHEDULE_NAMES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose "
                              f"{', '.join(OPTIMIZERS)}")
        if not self.muon_lr > 0 or not 0 <= self.muon_momentum < 1:
            raise ConfigError(f"need muon_lr > 0 and 0 <= muon_momentum < 1, got "
                              f"{self.muon_lr}, {self.muon_momentum}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose {', '.join(DTYPES)}")

    @property
    def lr_decay_steps(self) -> int:
        return self.max_steps if self.decay_steps is None else self.decay_steps


def overrides(train: dict[str, Any] | TrainConfig | None) -> dict[str, Any]:
    """Training overrides as a dict: a whole :class:`TrainConfig` counts as every field.

    >>> overrides({"max_steps": 5})
    {'max_steps': 5}
    >>> overrides(TrainConfig(max_steps=5))["max_steps"]
    5
    """
    if isinstance(train, TrainConfig):
        return asdict(train)
    return dict(train or {})


def resume_configs(checkpoint: str | os.PathLike, kind: str, train: dict[str, Any]
                   ) -> tuple[dict[str, Any], TrainConfig]:
    """The model config (a dict) and training config a run resumed from ``checkpoint``
    follows: the checkpoint's own, with the ``train`` overrides on top (e.g. more steps)."""
    meta = read_meta(checkpoint, kind)
    saved = meta.get("train_config") or {}
    try:
        tcfg = TrainConfig(**{**saved, **train})
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError: it gets the file too
        raise DataError(f"{Path(checkpoint) / 'config.json'}: bad train_config ({e})") from None
    return meta["model_config"], tcfg


def pick_preset(table: dict[str, dict[str, dict[str, Any]]], name: str | None
                ) -> dict[str, Any]:
    """A deep-enough copy of preset ``name`` of ``table`` ({section: {field: value}}), or of
    the whole table when ``name`` is None: callers may change what they get.

    >>> table = {"tiny": {"train": {"max_steps": 5}}}
    >>> p = pick_preset(table, "tiny"); p["train"]["max_steps"] = 6; table["tiny"]["train"]
    {'max_steps': 5}
    >>> pick_preset(table, "huge")
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: unknown preset 'huge'; presets: tiny
    """
    if name is None:
        return {k: pick_preset(table, k) for k in table}
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(table)}")
    return {section: dict(fields) for section, fields in table[name].items()}


def model_config_of(checkpoint: str | os.PathLike, cls: type, saved: Any):
    """``cls.from_dict(saved)`` for the model config a checkpoint saved; a bad one (wrong types,
    unknown fields, a shape over the limits) is an error naming the checkpoint's config.json."""
    try:
        if not isinstance(saved, dict):
            raise TypeError(f"expected a JSON object, got {type(saved).__name__}")
        return cls.from_dict(saved)
    except (TypeError, ValueError) as e:
        raise DataError(f"{Path(checkpoint) / 'config.json'}: bad model_config ({e})") from None


def check_writable(out: str | os.PathLike) -> None:
    """Refuse a run folder that cannot be written before any work is done (a long corpus
    build, say), naming the folder; creating nothing.

    >>> _ = Path("notes.txt").write_text("not a folder")
    >>> check_writable("notes.txt/run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: notes.txt/run: cannot write the run folder here (...)
    """
    path = Path(out).absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{out}: cannot write the run folder here ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{out}: cannot write the run folder here ({parent} is not writable)")
