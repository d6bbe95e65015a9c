"""Machine translation: a GRU encoder-decoder with additive attention (Bahdanau et al. 2015).

:mod:`~nanonlp.seq2seq.config` (data/model configs, presets), :mod:`~nanonlp.seq2seq.vocab`
(word and BPE vocabularies, the tutorial's normaliser), :mod:`~nanonlp.seq2seq.data` (pairs,
held-out split, length-bucketed batches), :mod:`~nanonlp.seq2seq.model` (the network),
:mod:`~nanonlp.seq2seq.translate` (greedy and beam search,
:class:`~nanonlp.seq2seq.translate.Translator`),
:mod:`~nanonlp.seq2seq.train` (training on the shared core, BLEU/chrF evaluation),
:mod:`~nanonlp.seq2seq.plot` (attention heatmaps, loss curves).
"""

from nanonlp.seq2seq.config import PRESETS, DataConfig, Seq2SeqConfig, presets
from nanonlp.seq2seq.model import Seq2Seq
from nanonlp.seq2seq.train import evaluate, make_trainer
from nanonlp.seq2seq.translate import Translator, beam_search, greedy

load = Translator.load  # every part has a load(path): a checkpoint folder -> Translator

__all__ = ["PRESETS", "DataConfig", "Seq2Seq", "Seq2SeqConfig", "Translator", "beam_search",
           "evaluate", "greedy", "load", "make_trainer", "presets"]
