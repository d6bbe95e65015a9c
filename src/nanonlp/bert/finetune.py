"""Fine-tune BERT: sequence classification (SST-2, sentence polarity) and token classification
(CoNLL-2003 NER), as in Devlin et al. 2019 section 4.

Sequence tasks put ``[CLS] text [SEP]`` through the encoder and classify the pooled [CLS]
vector. Token tasks encode each word separately (with the leading space a word has in running
text) and label only its first sub-word, the alignment of the BERT paper's NER experiment;
the other sub-words get target -1 (ignored). At prediction time a word takes the label of its
first sub-word, and span F1 is seqeval's (CoNLL's entity-level score).

Fine-tuning starts from a pretrained checkpoint's encoder (``init="pretrained"``) or from the
same architecture freshly initialised (``init="random"``); either way the checkpoint supplies
the shape and the tokenizer, so the two differ only in the starting weights.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from nanonlp.bert.data import TOKENIZER_FILE, load_tokenizer, special_ids
from nanonlp.bert.model import POOLING, BertClassifier, classifier_config, load_bert
from nanonlp.errors import ConfigError, DataError
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import overrides
from nanonlp.training.distributed import DistInfo

KIND = "bert-classifier"  # the checkpoint kind of a fine-tuned BERT

#: task -> (data set, kind, {our split: the data set's split})
TASKS: dict[str, tuple[str, str, dict[str, str]]] = {
    "sst2": ("sst2", "sequence", {"train": "train", "val": "dev"}),
    "sentence_polarity": ("sentence_polarity", "sequence", {"train": "all", "val": "all"}),
    "conll2003": ("conll2003", "token", {"train": "train", "val": "dev", "test": "test"}),
}

#: fine-tuning recipe (BERT section 4: small learning rate, few epochs, warmup, dropout 0.1)
FINETUNE_TRAIN = dict(max_steps=1000, batch_size=32, lr=2e-4, min_lr=2e-5, warmup_steps=100,
                      weight_decay=0.01, beta2=0.98, eval_interval=250, eval_steps=10,
                      out="runs/bert-finetune")


@dataclass
class FinetuneConfig:
    task: str = "sst2"  # sst2, sentence_polarity (sentence labels) or conll2003 (NER tags)
    init: Literal["pretrained", "random"] = "pretrained"  # pretrained encoder, or re-initialised
    dropout: float = 0.1  # dropout while fine-tuning (BERT: 0.1)
    pooling: str = "cls"  # sentence vector: cls ([CLS], BERT's) or mean (of the real tokens)
    max_train: int | None = None  # only the first N training examples (quick/low-resource)
    dev_fraction: float = 0.1  # held out for val when the set has no dev split (sentence_polarity)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose {', '.join(TASKS)}")
        if self.init not in ("pretrained", "random"):
            raise ConfigError(f"init must be pretrained or random, got {self.init!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pooling not in POOLING:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose {' or '.join(POOLING)}")
        if self.max_train is not None and self.max_train < 1:
            raise ConfigError(f"max_train must be >= 1 (or None), got {self.max_train}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")


def load_task(task: str, split: str, dev_fraction: float = 0.1) -> list:
    """The records of a task's split (``train``, ``val``, ``test``): Examples or
    TaggedSentences. A set without a dev split is shuffled once (seed 0) and cut."""
    from nanonlp import datasets as D

    name, _, splits = TASKS[task]
    if split not in splits:
        raise ConfigError(f"task {task} has no {split!r} split; it has {', '.join(splits)}")
    records = list(D.load(name, splits[split]))
    if splits["train"] == splits["val"]:
        order = list(range(len(records)))
        random.Random(0).shuffle(order)
        n_dev = max(1, int(len(records) * dev_fraction))
        keep = order[:n_dev] if split == "val" else order[n_dev:]
        records = [records[i] for i in keep]
    return records


def encode_text(tok, text: str, ids: dict[str, int], block_size: int,
                lower: bool = False) -> list[int]:
    """``[CLS] text [SEP]``, the text cut to fit ``block_size`` (a literal "[MASK]" in the text
    stays ordinary text); ``lower`` lower-cases it first (an uncased model)."""
    body = tok.encode(text.lower() if lower else text, disallowed_special=())[:block_size - 2]
    return [ids["cls_id"], *body, ids["sep_id"]]


def encode_words(tok, words: Sequence[str], tags: Sequence[int] | None,
                 ids: dict[str, int], block_size: int, lower: bool = False
                 ) -> tuple[list[int], list[int], list[int]]:
    """Sub-word ids of a sentence, first-sub-word targets, and where each word starts.

    Each word is encoded as `` word`` (the form it has after a space in running text). The
    targets hold the word's tag at its first sub-word and -1 elsewhere ([CLS], [SEP], later
    sub-words). ``starts[i]`` is word i's first position, or -1 if the sentence was cut before it.
    """
    out, targets, starts = [ids["cls_id"]], [-1], []
    for i, w in enumerate(words):
        w = w.lower() if lower else w
        pieces = tok.encode(" " + w, disallowed_special=()) or [ids["sep_id"]]
        if len(out) + len(pieces) > block_size - 1:
            starts.extend([-1] * (len(words) - i))
            break
        starts.append(len(out))
        targets += [tags[i] if tags is not None else -1] + [-1] * (len(pieces) - 1)
        out += pieces
    return [*out, ids["sep_id"]], [*targets, -1], starts


class LabelledData:
    """Encoded examples per split, padded per batch to the longest row.

    ``batch(split, batch_size, generator)`` returns ``((ids,), targets)``: ids (B, T) padded
    with [PAD]; targets (B,) for sequence tasks, (B, T) padded with -1 for token tasks.
    """

    def __init__(self, splits: dict[str, list[tuple[list[int], Any]]], pad_id: int, token: bool):
        for split, rows in splits.items():
            if not rows:
                raise DataError(f"{split}: no examples")
        self.splits, self.pad_id, self.token = splits, pad_id, token

    def collate(self, rows: list[tuple[list[int], Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        T = max(len(x) for x, _ in rows)
        x = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        y = torch.full((len(rows), T), -1, dtype=torch.long) if self.token \
            else torch.tensor([t for _, t in rows], dtype=torch.long)
        for i, (ids, t) in enumerate(rows):
            x[i, :len(ids)] = torch.tensor(ids)
            if self.token:
                y[i, :len(t)] = torch.tensor(t)
        return x, y

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        rows = self.splits[split]
        pick = torch.randint(len(rows), (batch_size,), generator=generator).tolist()
        x, y = self.collate([rows[i] for i in pick])
        return (x,), y


def label_index(labels: Sequence[str], found: Sequence[str], where: str) -> list[int]:
    """Map label names to their indices; a name not in ``labels`` is a :class:`DataError`.

    >>> label_index(["neg", "pos"], ["pos", "neg"], "dev")
    [1, 0]
    """
    index = {lab: i for i, lab in enumerate(labels)}
    out = []
    for k, lab in enumerate(found):
        if lab not in index:
            raise DataError(f"{where}: label {lab!r} (item {k}) is not in the label set "
                            f"{list(labels)}")
        out.append(index[lab])
    return out


def encode_split(records: list, task_kind: str, tok, labels: list[str], ids: dict[str, int],
                 block_size: int, where: str, lower: bool = False
                 ) -> list[tuple[list[int], Any]]:
    """Encode one split's records against a fixed label set (``lower``: an uncased model)."""
    rows = []
    if task_kind == "sequence":
        targets = label_index(labels, [r.label for r in records], where)
        for r, t in zip(records, targets, strict=True):
            rows.append((encode_text(tok, r.text, ids, block_size, lower), t))
    else:
        for k, r in enumerate(records):
            tags = label_index(labels, r.tags, f"{where} sentence {k}")
            x, y, _ = encode_words(tok, r.tokens, tags, ids, block_size, lower)
            rows.append((x, y))
    return rows


def task_labels(records: list, task_kind: str) -> list[str]:
    """The sorted label set of the training records."""
    if task_kind == "sequence":
        found = {r.label for r in records if r.label is not None}
    else:
        found = {t for r in records for t in r.tags}
    return sorted(found)


def checkpoint_tokenizer(checkpoint: str | os.PathLike):
    path = Path(checkpoint) / TOKENIZER_FILE
    if not path.exists():
        raise DataError(f"{checkpoint}: no {TOKENIZER_FILE} beside the weights")
    return load_tokenizer(path)


def make_trainer(data: FinetuneConfig, checkpoint: str | os.PathLike,
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 records: dict[str, list] | None = None,
                 dist: DistInfo | None = None) -> Trainer:
    """A :class:`Trainer` fine-tuning the encoder of ``checkpoint`` on the task ``data``
    names (the checkpoint plays the part a preset plays in the other parts).

    ``model`` overrides fields of the checkpoint's model config that leave the weights'
    shapes alone (usually empty). ``records`` ({"train": [...], "val": [...]}) replaces the task's
    data set (tests, custom data); the label set is the training records'.
    """
    cfg = data
    base = load_bert(checkpoint)
    tok = checkpoint_tokenizer(checkpoint)
    ids = special_ids(tok, str(Path(checkpoint) / TOKENIZER_FILE))
    _, kind, _ = TASKS[cfg.task]
    if records is None:
        records = {s: load_task(cfg.task, s, cfg.dev_fraction) for s in ("train", "val")}
    train_recs = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    labels = task_labels(train_recs, kind)
    config = base.config.__class__(**{**base.config.to_dict(), "dropout": cfg.dropout,
                                      **(model or {})})
    tcfg = TrainConfig(**{**FINETUNE_TRAIN, **overrides(train)})
    net = BertClassifier(config, labels, kind, torch.Generator().manual_seed(tcfg.seed),
                         pooling=cfg.pooling)
    if cfg.init == "pretrained":
        # the encoder only: an MLM head (or another task's label head) is left behind
        net.bert.load_state_dict(base.bert.state_dict())
    B = config.block_size
    batches = LabelledData({s: encode_split(recs if s != "train" else train_recs, kind, tok,
                                         labels, ids, B, f"{cfg.task} {s}", config.lowercase)
                         for s, recs in records.items() if s in ("train", "val")},
                        ids["pad_id"], token=kind == "token")
    tok_bytes = (Path(checkpoint) / TOKENIZER_FILE).read_bytes()
    return Trainer(net, batches, tcfg, kind=KIND, model_config=classifier_config(net),
                   extra_files={TOKENIZER_FILE: tok_bytes}, dist=dist)


@torch.no_grad()
def predict_labels(model: BertClassifier, tok, texts: Sequence[str],
                   batch_size: int = 64) -> list[str]:
    """The label of each text (sequence classifier)."""
    model.eval()
    ids = special_ids(tok)
    data = LabelledData({"x": [(0, 0)]}, ids["pad_id"], token=False)
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(texts), batch_size):
        rows = [(encode_text(tok, t, ids, model.config.block_size, model.config.lowercase), 0)
                for t in texts[s:s + batch_size]]
        x, _ = data.collate(rows)
        logits, _ = model(x.to(dev))
        out += [model.labels[i] for i in logits.argmax(-1).tolist()]
    return out


@torch.no_grad()
def predict_tags(model: BertClassifier, tok, sentences: Sequence[Sequence[str]],
                 batch_size: int = 64, default: str = "O") -> list[list[str]]:
    """The tag of each word (token classifier): its first sub-word's label; a word cut off by
    the position table gets ``default``."""
    model.eval()
    ids = special_ids(tok)
    data = LabelledData({"x": [(0, 0)]}, ids["pad_id"], token=True)
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(sentences), batch_size):
        enc = [encode_words(tok, w, None, ids, model.config.block_size, model.config.lowercase)
               for w in sentences[s:s + batch_size]]
        x, _ = data.collate([(e[0], e[1]) for e in enc])
        pred = model(x.to(dev))[0].argmax(-1).tolist()  # (B, T)
        for row, (_, _, starts) in zip(pred, enc, strict=True):
            out.append([model.labels[row[p]] if p >= 0 else default for p in starts])
    return out


def evaluate(model: BertClassifier, tok, records: list, batch_size: int = 64) -> dict[str, float]:
    """Accuracy (sequence task) or seqeval span precision/recall/F1 (token task), in %."""
    if model.task == "sequence":
        pred = predict_labels(model, tok, [r.text for r in records], batch_size)
        right = sum(p == r.label for p, r in zip(pred, records, strict=True))
        return {"accuracy": 100.0 * right / max(len(records), 1), "examples": len(records)}
    from seqeval.metrics import f1_score, precision_score, recall_score

    pred = predict_tags(model, tok, [r.tokens for r in records], batch_size)
    gold = [list(r.tags) for r in records]
    return {"f1": 100.0 * float(f1_score(gold, pred)),
            "precision": 100.0 * float(precision_score(gold, pred)),
            "recall": 100.0 * float(recall_score(gold, pred)), "sentences": len(records)}
