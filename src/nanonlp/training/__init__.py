"""The torch training core shared by GPT, BERT and seq2seq.

:mod:`~nanonlp.training.loop` (the :class:`Trainer` whose ``run()`` yields step records, and
:func:`run_for`, which holds it to a wall-clock budget),
:mod:`~nanonlp.training.config` (:class:`TrainConfig`), :mod:`~nanonlp.training.schedule`
(AdamW groups, warmup + cosine), :mod:`~nanonlp.training.checkpoint` (safetensors + JSON, no
pickle), :mod:`~nanonlp.training.device` (device, autocast dtype),
:mod:`~nanonlp.training.distributed` (torchrun / DDP), :mod:`~nanonlp.training.metrics`
(JSON lines, loss PNG).
"""

from nanonlp.training.config import TrainConfig
from nanonlp.training.loop import StepRecord, Trainer, run_for

__all__ = ["StepRecord", "TrainConfig", "Trainer", "run_for"]
