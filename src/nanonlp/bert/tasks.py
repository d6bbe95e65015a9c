"""The named fine-tuning tasks (SST-2, sentence polarity, CoNLL-2003) and how their splits
are read: a data set with no dev split (sentence polarity) is shuffled once, with seed 0, and
cut, so that training, evaluation and a benchmark all see the same held-out records.
"""

from __future__ import annotations

from nanonlp.datasets.labelled import holdout
from nanonlp.errors import ConfigError

#: task -> (data set, task kind, {our split: the data set's split})
TASKS: dict[str, tuple[str, str, dict[str, str]]] = {
    "sst2": ("sst2", "sequence", {"train": "train", "val": "dev"}),
    "sentence_polarity": ("sentence_polarity", "sequence", {"train": "all", "val": "all"}),
    "conll2003": ("conll2003", "token", {"train": "train", "val": "dev", "test": "test"}),
}


def load_task(task: str, split: str, dev_fraction: float = 0.1) -> list:
    """The records of a task's split (``train``, ``val``, ``test``): Examples or
    TaggedSentences. A set without a dev split is shuffled once (seed 0) and cut."""
    from nanonlp import datasets as D

    name, _, splits = TASKS[task]
    if split not in splits:
        raise ConfigError(f"task {task} has no {split!r} split; it has {', '.join(splits)}")
    records = list(D.load(name, splits[split]))
    if splits["train"] == splits["val"]:
        records = holdout(records, dev_fraction, split)
    return records
