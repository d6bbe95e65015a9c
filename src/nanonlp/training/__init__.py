"""The torch training core shared by GPT, BERT and seq2seq.

:mod:`~nanonlp.training.loop` (the :class:`Trainer` whose ``run()`` yields step records, and
holds a run to a wall-clock budget with ``run(budget_min=...)``),
:mod:`~nanonlp.training.driver` (:func:`fit`: progress bar, metrics, loss curve, Ctrl-C, the
one way every command trains), :mod:`~nanonlp.training.config` (:class:`TrainConfig`),
:mod:`~nanonlp.training.schedule` (AdamW groups, warmup + cosine),
:mod:`~nanonlp.training.checkpoint` (safetensors + JSON, no pickle),
:mod:`~nanonlp.training.device` (device, autocast dtype),
:mod:`~nanonlp.training.distributed` (torchrun / DDP), :mod:`~nanonlp.training.metrics`
(JSON lines, loss PNG).
"""

from nanonlp.training.config import TrainConfig
from nanonlp.training.driver import FitResult, Interrupted, fit
from nanonlp.training.loop import StepRecord, Trainer

__all__ = ["FitResult", "Interrupted", "StepRecord", "TrainConfig", "Trainer", "fit"]
