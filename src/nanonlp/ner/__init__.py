"""Named-entity recognition with spaCy: convert data, train, evaluate, tag.

The only part of nanonlp that imports spaCy. We do not re-implement spaCy's model or training
loop: the value here is the pipeline around it (strict converters, config presets, static
vectors from nanonlp's word2vec files, a time budget, evaluation cross-checked with seqeval).

    convert.py   CoNLL / column / JSONL files <-> spaCy DocBin, and back to CoNLL columns
    config.py    presets over `spacy init config`, static vectors via spaCy's vectors init
    train.py     spaCy's train_while_improving with a wall-clock budget; yields Step records
    evaluate.py  per-type P/R/F1 (spaCy Scorer == seqeval), type confusion, JSON, displaCy HTML
    tag.py       run a trained pipeline over raw text
"""
