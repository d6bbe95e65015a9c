"""The training configuration shared by every torch model in nanonlp (GPT, BERT, seq2seq).

Defaults follow nanoGPT's ``train.py`` where the choice is a sensible general default; the
presets of each model override them (see :data:`nanonlp.gpt.config.PRESETS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nanonlp.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class TrainConfig:
    max_steps: int = 2000  # optimizer steps to take (one step = grad_accum micro-batches)
    batch_size: int = 12  # sequences per micro-batch, summed over all processes under DDP
    grad_accum: int = 1  # micro-batches whose gradients add up to one optimizer step
    lr: float = 1e-3  # peak learning rate, reached after the warmup
    min_lr: float = 1e-4  # floor of the cosine decay (nanoGPT: lr / 10)
    warmup_steps: int = 100  # linear warmup from ~0 to lr
    decay_steps: int | None = None  # cosine decay ends here (None: at max_steps)
    weight_decay: float = 0.1  # AdamW decay, on matrices only (not biases, norms)
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.99  # AdamW second-moment decay; 0.99 suits small batches (nanoGPT)
    grad_clip: float = 1.0  # clip the global gradient norm to this (0: no clipping)
    eval_interval: int = 250  # evaluate every this many steps (and at the last step)
    eval_steps: int = 20  # micro-batches per split in an evaluation
    seed: int = 1337  # seeds initialisation, batch sampling and dropout
    device: str = "auto"  # auto (cuda, then mps, then cpu), cpu, cuda, mps
    dtype: str = "auto"  # auto (bfloat16 on CUDA if supported, else float32), float32, ...
    compile: bool = False  # torch.compile the model (worth it on GPU for long runs)
    out: str = "runs/gpt"  # folder for checkpoints (last/, best/), metrics.jsonl, loss.png
    save_interval: int = 0  # also save last/ every this many steps (0: at evaluations only)

    def __post_init__(self):
        positive = ("max_steps", "batch_size", "grad_accum", "eval_interval", "eval_steps")
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
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose {', '.join(DTYPES)}")

    @property
    def lr_decay_steps(self) -> int:
        return self.max_steps if self.decay_steps is None else self.decay_steps
