"""An encoder-only transformer (BERT) pretrained with masked-LM and fine-tuned for
classification and NER.

:mod:`~nanonlp.bert.config` (model config, presets), :mod:`~nanonlp.bert.model` (encoder, MLM
and classifier heads, load/save), :mod:`~nanonlp.bert.data` (special tokens, packing, dynamic
masking), :mod:`~nanonlp.bert.pretrain` (corpus, trainer set-up, time budgets, masked-token
accuracy), :mod:`~nanonlp.bert.encode` (text, pairs and words into encoder input, padded batches),
:mod:`~nanonlp.bert.tasks` (the named tasks SST-2, sentence polarity, CoNLL-2003),
:mod:`~nanonlp.bert.finetune` (training on a task or your own files),
:mod:`~nanonlp.bert.predict` (inference: fill-mask, labels, probabilities, tags, entities),
:mod:`~nanonlp.bert.report` (evaluate: accuracy, per-class and span scores),
:mod:`~nanonlp.bert.contrastive` (SimCSE sentence vectors),
:mod:`~nanonlp.bert.embed` (embeddings, index, search), :mod:`~nanonlp.bert.export` (HF
``BertForMaskedLM`` folder).
"""

from nanonlp.bert import finetune, pretrain
from nanonlp.bert.config import PRESETS, SPECIALS, BertConfig, presets
from nanonlp.bert.model import BertClassifier, BertForMaskedLM, load_bert, save_bert
from nanonlp.bert.pretrain import make_trainer
from nanonlp.bert.report import evaluate

load = load_bert  # every part has a load(path): a checkpoint folder -> MLM or classifier

__all__ = ["PRESETS", "SPECIALS", "BertClassifier", "BertConfig", "BertForMaskedLM",
           "evaluate", "finetune", "load", "load_bert", "make_trainer", "presets", "pretrain",
           "save_bert"]
