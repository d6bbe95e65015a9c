"""Named-entity recognition with spaCy: convert data, train, evaluate, tag.

The only part of nanonlp that imports spaCy. We do not re-implement spaCy's model or training
loop: the value here is the pipeline around it (strict converters, config presets, static
vectors from nanonlp's word2vec files, a time budget, evaluation cross-checked with seqeval).
It follows the shape of the other parts where spaCy allows: ``load``, ``evaluate(model, data)``
and ``fit``; there is no ``make_trainer``, because the loop is spaCy's own (``train`` yields
its steps).

    convert.py   CoNLL / column / JSONL files <-> spaCy DocBin, and back to CoNLL columns
    config.py    presets over `spacy init config`, static vectors via spaCy's vectors init
    train.py     spaCy's train_while_improving with a budget; yields Step records; fit() + bar
    evaluate.py  per-type P/R/F1 (spaCy Scorer == seqeval), type confusion, JSON, displaCy HTML
    tag.py       run a trained pipeline over raw text
"""

from nanonlp.ner.convert import ConvertConfig, convert
from nanonlp.ner.evaluate import EvalReport, EvaluateConfig, evaluate, load_pipeline
from nanonlp.ner.tag import tag
from nanonlp.ner.train import NERTrainConfig, fit, train

load = load_pipeline  # every part has a load(path): a pipeline (or training) folder -> Language

__all__ = ["ConvertConfig", "EvalReport", "EvaluateConfig", "NERTrainConfig", "convert",
           "evaluate", "fit", "load", "load_pipeline", "tag", "train"]
