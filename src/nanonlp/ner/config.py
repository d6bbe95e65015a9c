"""spaCy training configs for NER: presets on top of ``spacy init config``, and static vectors.

Every preset starts from the config that ``spacy init config --lang en --pipeline ner
--optimize {efficiency,accuracy}`` writes for CPU (we call the same function,
``spacy.cli.init_config.init_config``), then applies a short, visible list of overrides:

* ``spacy-efficiency`` / ``spacy-accuracy``: spaCy's config with no change except that the
  accuracy config's ``en_core_web_lg`` vectors (a download) are dropped. The baselines.
* ``efficiency`` / ``accuracy``: ours, see :data:`OUR_OVERRIDES`. The changes are the ones
  that pay off in a short CPU budget on CoNLL-2003: bigger hash-embedding tables (CoNLL's names
  collide in 5,000 NORM rows), parameter averaging (Polyak averaging; evaluation and the saved
  model use the averaged weights), and a fixed batch of 1,000 words (several times more words
  per second on CPU than spaCy's compounding 100 -> 1,000 words, and half as many dev
  evaluations per word trained in the same budget). ``efficiency`` is also wider
  (:data:`EFFICIENCY_OVERRIDES`): with the speed-ups it still converges inside 30 minutes.

What else was tried on the same benchmark and not kept (beam search, extra state tokens,
mention replacement, upper-casing, character pretraining), with its test F1, is in
BENCHMARKS.md, section ner, "Variants tried and not kept".

Static vectors come from a word2vec C text file (nanonlp's word2vec, gensim, fastText ``.vec``),
converted by spaCy's own ``convert_vectors`` (what ``spacy init vectors`` runs) into a small
pipeline folder that ``[initialize] vectors`` points at; the embedding layer then sets
``include_static_vectors = true`` (Mikolov et al. 2013 vectors as extra input features).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_dir

Preset = Literal["efficiency", "accuracy", "spacy-efficiency", "spacy-accuracy"]
PRESETS = ("efficiency", "accuracy", "spacy-efficiency", "spacy-accuracy")

#: Our changes to spaCy's generated config, as dotted config paths.
OUR_OVERRIDES: dict[str, object] = {
    # 5,000 NORM rows are shared by ~20k CoNLL word types: more rows, fewer hash collisions.
    "components.tok2vec.model.embed.rows": [20000, 2000, 5000, 2500],
    # Polyak averaging: the averaged weights are steadier than the last step's.
    "training.optimizer.use_averages": True,
    # A fixed batch of 1,000 words from the first step (spaCy compounds 100 -> 1,000).
    "training.batcher.size": 1000,
}

#: And for ``efficiency`` only: wider token vectors and NER hidden layer (96 -> 128, 64 -> 128),
#: about twice the cost per word for a higher ceiling (spaCy's default converges in about 20 of
#: 30 CPU minutes on CoNLL-2003; BENCHMARKS.md, ner). ``accuracy`` is 256 wide already.
EFFICIENCY_OVERRIDES: dict[str, object] = {
    "components.tok2vec.model.encode.width": 128,
    "components.ner.model.hidden_width": 128,
}


def base_config(preset: str):
    """The ``spacy init config`` config (a ``thinc.Config``) under ``preset``.

    >>> base_config("spacy-efficiency")["components"]["tok2vec"]["model"]["encode"]["width"]
    96
    >>> base_config("efficiency")["components"]["tok2vec"]["model"]["encode"]["width"]
    128
    """
    from spacy.cli.init_config import init_config

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    optimize = "accuracy" if preset.endswith("accuracy") else "efficiency"
    cfg = init_config(lang="en", pipeline=["ner"], optimize=optimize, gpu=False, silent=True)
    # The accuracy template names en_core_web_lg's vectors: a download we cannot do offline.
    cfg["paths"]["vectors"] = None
    cfg["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = False
    if not preset.startswith("spacy-"):
        extra = EFFICIENCY_OVERRIDES if preset == "efficiency" else {}
        for dotted, value in {**OUR_OVERRIDES, **extra}.items():
            set_dotted(cfg, dotted, value)
    return cfg


def set_dotted(cfg, dotted: str, value) -> None:
    """Set ``cfg["a"]["b"]["c"] = value`` for ``dotted = "a.b.c"``, creating sections.

    >>> c = {"a": {"b": {}}}; set_dotted(c, "a.b.c", 1); c
    {'a': {'b': {'c': 1}}}
    """
    *sections, key = dotted.split(".")
    node = cfg
    for s in sections:
        node = node.setdefault(s, {})
    node[key] = value


def check_override(cfg, dotted: str) -> None:
    """Refuse an override whose key is not in ``cfg``: a typo would otherwise be ignored.

    A key may be missing only inside a block that names a registered function (``@...``):
    there it is an argument left at its default, which spaCy checks when it resolves.

    >>> check_override({"training": {"dropout": 0.1}}, "training.dropot")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: override 'training.dropot': no key 'dropot' in [training] (...)
    """
    *sections, key = dotted.split(".")
    node = cfg
    for depth, s in enumerate(sections):
        if not isinstance(node, dict) or s not in node or not isinstance(node[s], dict):
            where = ".".join(sections[:depth]) or "the config"
            have = ", ".join(k for k, v in node.items() if isinstance(v, dict)) \
                if isinstance(node, dict) else ""
            raise ConfigError(f"override {dotted!r}: no section {s!r} in "
                              f"{'[' + where + ']' if depth else where}"
                              + (f" (it has {have})" if have else ""))
        node = node[s]
    if key not in node and not any(k.startswith("@") for k in node):
        have = ", ".join(node)
        raise ConfigError(f"override {dotted!r}: no key {key!r} in [{'.'.join(sections)}]"
                          + (f" (it has {have})" if have else ""))


def parse_override(item: str) -> tuple[str, object]:
    """Parse ``"section.key=value"`` (value as JSON when it parses, else a string).

    >>> parse_override("training.dropout=0.2")
    ('training.dropout', 0.2)
    >>> parse_override("nlp.lang=en")
    ('nlp.lang', 'en')
    """
    import json

    key, sep, raw = item.partition("=")
    if not sep or not key.strip() or "." not in key:
        raise ConfigError(f"override {item!r}: expected section.key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def init_vectors(word2vec_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 attr: str = "ORTH") -> int:
    """Turn a word2vec C text file into a spaCy vectors pipeline folder; return the row count.

    This is ``spacy init vectors en FILE OUT`` through the same library function. ``attr`` says
    how tokens find their vector: ``ORTH`` by exact text; ``LOWER`` for vectors trained on
    lower-cased text (text8), so that "Paris" and "PARIS" find the row of "paris". spaCy 3.8
    does not save a ``LOWER`` vectors attribute to disk (only floret vectors keep theirs), so
    for ``LOWER`` we add the title-case and upper-case spellings as extra keys of each row:
    the table stays the same size and any spaCy version reads it.
    """
    import spacy
    from spacy.training.initialize import convert_vectors

    if attr not in ("ORTH", "LOWER"):
        raise ConfigError(f"vectors attr must be ORTH or LOWER, got {attr!r}")
    path = Path(word2vec_path)
    if not path.is_file():
        raise DataError(f"{path}: no such vectors file")
    with path.open("rb") as f:
        header = f.readline().split()
    if len(header) != 2 or not all(h.isdigit() for h in header):
        raise DataError(f"{path}:1: expected the word2vec text header 'N_WORDS DIM', "
                        f"got {b' '.join(header)[:40]!r}")
    nlp = spacy.blank("en")
    try:
        convert_vectors(nlp, path, truncate=0, prune=-1, name="nanonlp.vectors")
    except ValueError as e:  # spaCy's E094 & co: a row with the wrong number of values
        raise DataError(f"{path}: spaCy cannot read these vectors ({e})") from None
    vectors = nlp.vocab.vectors
    if attr == "LOWER":
        strings = nlp.vocab.strings
        for key, row in list(vectors.key2row.items()):
            word = strings[key]
            for variant in {word.title(), word.upper()} - {word}:
                vkey = strings.add(variant)
                if vkey not in vectors.key2row:
                    vectors.add(vkey, row=row)
    with atomic_dir(out_dir) as tmp:
        nlp.to_disk(tmp)
    return vectors.shape[0]
