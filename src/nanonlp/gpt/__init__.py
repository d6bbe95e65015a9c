"""A decoder-only transformer (GPT) trained from scratch on your text.

:mod:`~nanonlp.gpt.config` (model config, presets), :mod:`~nanonlp.gpt.model` (the model,
load/save), :mod:`~nanonlp.gpt.data` (prepare token arrays, batches), :mod:`~nanonlp.gpt.train`
(trainer set-up, evaluation), :mod:`~nanonlp.gpt.sample` (generation),
:mod:`~nanonlp.gpt.export` (HF ``GPT2LMHeadModel`` folder).
"""

from nanonlp.gpt.config import PRESETS, GPTConfig, presets
from nanonlp.gpt.model import GPT, load_gpt, save_gpt
from nanonlp.gpt.train import evaluate, make_trainer

load = load_gpt  # every part has a load(path): here, a checkpoint folder -> GPT

__all__ = ["GPT", "PRESETS", "GPTConfig", "evaluate", "load", "load_gpt", "make_trainer",
           "presets", "save_gpt"]
