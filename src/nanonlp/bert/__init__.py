"""An encoder-only transformer (BERT) pretrained with masked-LM and fine-tuned for
classification and NER.

:mod:`~nanonlp.bert.config` (model config, presets), :mod:`~nanonlp.bert.model` (encoder, MLM
and classifier heads, load/save), :mod:`~nanonlp.bert.data` (special tokens, packing, dynamic
masking), :mod:`~nanonlp.bert.pretrain` (corpus, trainer set-up, time budgets, masked-token
accuracy), :mod:`~nanonlp.bert.finetune` (SST-2, sentence polarity, CoNLL-2003),
:mod:`~nanonlp.bert.predict` (fill-mask, labels, tags), :mod:`~nanonlp.bert.export` (HF
``BertForMaskedLM`` folder).
"""

from nanonlp.bert.config import PRESETS, SPECIALS, BertConfig
from nanonlp.bert.model import BertClassifier, BertForMaskedLM, load_bert, save_bert

__all__ = ["PRESETS", "SPECIALS", "BertClassifier", "BertConfig", "BertForMaskedLM",
           "load_bert", "save_bert"]
