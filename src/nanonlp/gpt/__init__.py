"""A decoder-only transformer (GPT) trained from scratch on your text.

:mod:`~nanonlp.gpt.config` (model config, presets), :mod:`~nanonlp.gpt.model` (the model,
load/save), :mod:`~nanonlp.gpt.data` (prepare token arrays, batches), :mod:`~nanonlp.gpt.train`
(trainer set-up, evaluation), :mod:`~nanonlp.gpt.sample` (generation),
:mod:`~nanonlp.gpt.export` (HF ``GPT2LMHeadModel`` folder).
"""

from nanonlp.gpt.config import PRESETS, GPTConfig
from nanonlp.gpt.model import GPT, load_gpt, save_gpt

__all__ = ["GPT", "PRESETS", "GPTConfig", "load_gpt", "save_gpt"]
