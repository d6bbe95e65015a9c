"""Run a trained NER pipeline over raw text: one input line in, its entities out.

The JSONL output is the same ``{"text": ..., "entities": [[start, end, label], ...]}`` format
that :func:`nanonlp.ner.convert.read_jsonl` reads, so tagged text can be corrected by hand and
converted back into training data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from nanonlp.errors import ConfigError


@dataclass
class TagConfig:
    model: str = ""  # a pipeline folder, or a training folder (its model-best/ is used)
    input: str = "-"  # UTF-8 text file, one text per line ("-": standard input)
    format: Literal["text", "jsonl"] = "text"  # text: one entity per line; jsonl: one per text
    batch_size: int = 64  # texts per nlp.pipe batch

    def __post_init__(self):
        if not self.model:
            raise ConfigError("tag needs a model folder")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")


def tag(nlp, texts: Iterable[str], batch_size: int = 64) -> Iterator[tuple[str, list]]:
    """Yield ``(text, [(start_char, end_char, label, entity_text), ...])`` per text.

    ``nlp`` is any spaCy pipeline with an ``ner`` (or other entity-setting) component; here a
    rule-based one stands in for a trained model (``spacy.load("runs/ner/model/model-best")``):

    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> nlp.add_pipe("entity_ruler").add_patterns([
    ...     {"label": "PER", "pattern": "Ada Lovelace"}, {"label": "PER", "pattern": "Babbage"},
    ...     {"label": "LOC", "pattern": "London"}])
    >>> for text, ents in tag(nlp, ["Ada Lovelace met Babbage in London."]):
    ...     print(ents)
    [(0, 12, 'PER', 'Ada Lovelace'), (17, 24, 'PER', 'Babbage'), (28, 34, 'LOC', 'London')]
    """
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield doc.text, [(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]


def format_entities(text: str, ents: list, fmt: str) -> str:
    """One output record: JSONL (our JSONL input format) or ``start end label text`` lines.

    >>> format_entities("Ada wrote.", [(0, 3, "PER", "Ada")], "jsonl")
    '{"text": "Ada wrote.", "entities": [[0, 3, "PER"]]}'
    >>> format_entities("Ada wrote.", [(0, 3, "PER", "Ada")], "text")
    '0\\t3\\tPER\\tAda\\n'
    """
    if fmt == "jsonl":
        return json.dumps({"text": text, "entities": [[s, e, lab] for s, e, lab, _ in ents]},
                          ensure_ascii=False)
    return "".join(f"{s}\t{e}\t{lab}\t{t}\n" for s, e, lab, t in ents)
