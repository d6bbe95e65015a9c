"""Fine-tune BERT: sequence classification and token classification (Devlin et al. 2019
section 4), on a named data set (SST-2, sentence polarity, CoNLL-2003) or on your own files.

Sequence tasks put ``[CLS] text [SEP]`` through the encoder, or for a sentence pair
``[CLS] a [SEP] b [SEP]`` with token types 0 then 1 (the input of paraphrase and entailment
tasks; an over-long pair loses tokens from the longer text first), and classify the pooled
[CLS] vector. Token tasks encode each word separately (with the leading space a word has in
running text) and label only its first sub-word, the alignment of the BERT paper's NER
experiment; the other sub-words get target -1 (ignored). At prediction time a word takes the
label of its first sub-word, and span F1 is seqeval's (CoNLL's entity-level score).

Your own files (``task`` sequence, token or contrastive, with ``train``/``dev``/``test``
paths) are read by :mod:`nanonlp.datasets.labelled`; the label set is the training file's and
travels in the checkpoint, with ``finetune.json`` saying whether the inputs are pairs.
``contrastive`` trains sentence vectors instead (:mod:`nanonlp.bert.contrastive`).

Fine-tuning starts from a pretrained checkpoint's encoder (``init="pretrained"``) or from the
same architecture freshly initialised (``init="random"``); either way the checkpoint supplies
the shape and the tokenizer, so the two differ only in the starting weights.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from nanonlp.bert.data import TOKENIZER_FILE, load_tokenizer, special_ids
from nanonlp.bert.model import (
    POOLING,
    BertClassifier,
    BertForMaskedLM,
    classifier_config,
    load_bert,
)
from nanonlp.datasets.records import PairExample
from nanonlp.errors import ConfigError, DataError
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import overrides, resume_configs
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


#: tasks read from your own files (``--train``, ``--dev``, ``--test``) -> the model's task kind
FILE_TASKS = {"sequence": "sequence", "token": "token", "contrastive": "contrastive"}

FINETUNE_FILE = "finetune.json"  # beside the weights: the task, and whether inputs are pairs


@dataclass
class FinetuneConfig:
    """What to fine-tune on. The named tasks (sst2, sentence_polarity, conll2003) read their
    data sets; ``sequence`` (a label per text), ``token`` (a tag per word) and ``contrastive``
    (SimCSE sentence vectors) read ``train`` and, if given, ``dev`` and ``test``. With no
    task, a ``train`` file means ``sequence``, and no file means ``sst2``."""

    task: str | None = None  # named, or sequence/token/contrastive (None: sequence if --train)
    train: str | None = None  # your training file (TSV, CSV, JSONL; CoNLL columns for token)
    dev: str | None = None  # your dev file (None: hold out dev_fraction of --train)
    test: str | None = None  # your test file, scored in the report at the end
    text_column: str | None = None  # header name or 0-based index (None: text or sentence)
    text_pair_column: str | None = None  # a second text (None: text_pair/sentence2 if present)
    label_column: str | None = None  # name or index (None: label; headerless: column 1 of 2)
    header: bool | None = None  # TSV/CSV: the first row names the columns (None: detect it)
    token_column: int = 0  # column files (task token): the word's column
    tag_column: int = -1  # column files: the tag's column
    scheme: str = "bio"  # column files: tag scheme bio, iob1 or bilou (read as BIO)
    init: Literal["pretrained", "random"] = "pretrained"  # pretrained encoder, or re-initialised
    dropout: float = 0.1  # dropout while fine-tuning (BERT: 0.1; SimCSE's noise)
    pooling: str | None = None  # cls or mean of real tokens (None: cls; mean for contrastive)
    temperature: float = 0.05  # contrastive: softmax temperature over cosines (SimCSE: 0.05)
    max_train: int | None = None  # only the first N training examples (quick/low-resource)
    dev_fraction: float = 0.1  # held out for val when there is no dev split or --dev file

    def __post_init__(self):
        from nanonlp.datasets.tags import SCHEMES

        if self.task is None:
            self.task = "sequence" if self.train is not None else "sst2"
        if self.task not in TASKS and self.task not in FILE_TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose "
                              f"{', '.join([*TASKS, *FILE_TASKS])}")
        files = {k: getattr(self, k) for k in ("train", "dev", "test") if getattr(self, k)}
        if self.task in TASKS and files:
            raise ConfigError(f"task {self.task} reads its own data set; --{next(iter(files))} "
                              f"is for --task {', '.join(FILE_TASKS)}")
        if self.task in FILE_TASKS and self.train is None:
            raise ConfigError(f"task {self.task} needs --train FILE")
        if self.task == "contrastive" and self.test is not None:
            raise ConfigError("task contrastive takes --train and --dev; score retrieval with "
                              "`nanonlp bert embed` and `search`")
        if self.init not in ("pretrained", "random"):
            raise ConfigError(f"init must be pretrained or random, got {self.init!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pooling is None:
            self.pooling = "mean" if self.task == "contrastive" else "cls"
        if self.pooling not in POOLING:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose {' or '.join(POOLING)}")
        if self.scheme not in SCHEMES:
            raise ConfigError(f"unknown tag scheme {self.scheme!r}; choose {', '.join(SCHEMES)}")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.max_train is not None and self.max_train < 1:
            raise ConfigError(f"max_train must be >= 1 (or None), got {self.max_train}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")

    @property
    def kind(self) -> str:
        """What the model learns: ``sequence`` (a label per text), ``token`` (a tag per
        word) or ``contrastive`` (sentence vectors)."""
        return TASKS[self.task][1] if self.task in TASKS else FILE_TASKS[self.task]


def holdout(records: list, fraction: float, split: str) -> list:
    """The ``val`` or ``train`` part of records with no dev split: shuffled once (seed 0),
    the first ``fraction`` held out.

    >>> holdout(list(range(10)), 0.2, "val"), holdout(list(range(10)), 0.2, "train")
    ([7, 8], [1, 5, 3, 4, 2, 0, 9, 6])
    """
    order = list(range(len(records)))
    random.Random(0).shuffle(order)
    n_dev = max(1, int(len(records) * fraction))
    keep = order[:n_dev] if split == "val" else order[n_dev:]
    return [records[i] for i in keep]


def load_records(cfg: FinetuneConfig) -> dict[str, list]:
    """The records of every split the task has, ``train``, ``val`` and maybe ``test``:
    a named task's data set, or your files, read and checked (a label or entity type only dev
    or test has, a one-class training file: errors naming the file and line)."""
    from nanonlp.datasets import labelled as L

    if cfg.task in TASKS:
        return {s: load_task(cfg.task, s, cfg.dev_fraction) for s in TASKS[cfg.task][2]}
    paths = {"train": cfg.train, "val": cfg.dev, "test": cfg.test}
    paths = {s: p for s, p in paths.items() if p is not None}
    if cfg.kind == "sequence":
        def read(p):
            return L.read_labelled(p, text_column=cfg.text_column, header=cfg.header,
                                   text_pair_column=cfg.text_pair_column,
                                   label_column=cfg.label_column)
    elif cfg.kind == "token":
        def read(p):
            return L.read_tagged(p, token_column=cfg.token_column, tag_column=cfg.tag_column,
                                 scheme=cfg.scheme)
    else:
        read = L.read_pairs
    records = {s: read(p) for s, p in paths.items()}
    if "val" not in records:
        records["val"] = holdout(records["train"], cfg.dev_fraction, "val")
        records["train"] = holdout(records["train"], cfg.dev_fraction, "train")
    records["train"] = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    if cfg.kind == "sequence":
        labels = L.check_labels(records["train"], cfg.train)
        pairs = {s: isinstance(recs[0], PairExample) for s, recs in records.items()}
        for s, recs in records.items():
            if pairs[s] != pairs["train"]:
                have = "has" if pairs["train"] else "has no"
                raise DataError(f"{paths.get(s, cfg.train)}: the training file {have} a second "
                                "text (text_pair) column, this one must match it")
            if s != "train":
                L.check_known_labels(recs, labels, paths.get(s, cfg.train))
    elif cfg.kind == "token":
        labels = L.tag_labels(records["train"], cfg.train)
        for s in ("val", "test"):
            if s in paths:
                L.check_tags(records[s], labels, paths[s])
    return records


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


def encode_text(tok, text: str, ids: dict[str, int], block_size: int,
                lower: bool = False) -> list[int]:
    """``[CLS] text [SEP]``, the text cut to fit ``block_size`` (a literal "[MASK]" in the text
    stays ordinary text); ``lower`` lower-cases it first (an uncased model)."""
    return encode_example(tok, text, None, ids, block_size, lower)[0]


def truncate_pair(a: list[int], b: list[int], room: int) -> tuple[list[int], list[int]]:
    """Cut the longer of two token lists by one token at a time until both fit in ``room``
    (the ``longest_first`` rule of BERT's and HF's pair encoding).

    >>> truncate_pair([1, 2, 3, 4, 5], [6, 7, 8], 5)
    ([1, 2, 3], [6, 7])
    """
    a, b = list(a), list(b)
    while len(a) + len(b) > room:
        (a if len(a) > len(b) else b).pop()  # a tie cuts the second (BERT's rule)
    return a, b


def encode_example(tok, text: str, pair: str | None, ids: dict[str, int], block_size: int,
                   lower: bool = False) -> tuple[list[int], list[int] | None, bool]:
    """``[CLS] text [SEP]``, or ``[CLS] text [SEP] pair [SEP]`` with token types (0 through
    the first [SEP], 1 after), cut to ``block_size``; also whether anything was cut."""
    def enc(t: str) -> list[int]:
        return tok.encode(t.lower() if lower else t, disallowed_special=())

    a = enc(text)
    if pair is None:
        body = a[:block_size - 2]
        return [ids["cls_id"], *body, ids["sep_id"]], None, len(body) < len(a)
    b = enc(pair)
    ca, cb = truncate_pair(a, b, block_size - 3)
    x = [ids["cls_id"], *ca, ids["sep_id"], *cb, ids["sep_id"]]
    types = [0] * (len(ca) + 2) + [1] * (len(cb) + 1)  # segment A: [CLS] a [SEP]; B: b [SEP]
    return x, types, len(ca) + len(cb) < len(a) + len(b)


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

    A row is ``(ids, target)`` or, for sentence pairs, ``(ids, target, token_types)``.
    ``batch(split, batch_size, generator)`` returns ``((ids,), targets)`` or, with pairs,
    ``((ids, token_types), targets)``: ids (B, T) padded with [PAD], token types (B, T)
    padded with 0; targets (B,) for sequence tasks, (B, T) padded with -1 for token tasks.
    ``truncated`` counts, per split, the rows cut to the position table (set by the caller).
    """

    def __init__(self, splits: dict[str, list[tuple]], pad_id: int, token: bool):
        for split, rows in splits.items():
            if not rows:
                raise DataError(f"{split}: no examples")
        self.splits, self.pad_id, self.token = splits, pad_id, token
        self.truncated: dict[str, int] = {}

    def collate(self, rows: list[tuple]) -> tuple[torch.Tensor, ...]:
        """``(ids, targets)``, or ``(ids, targets, token_types)`` when the rows carry types."""
        T = max(len(r[0]) for r in rows)
        x = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        y = torch.full((len(rows), T), -1, dtype=torch.long) if self.token \
            else torch.tensor([r[1] for r in rows], dtype=torch.long)
        pairs = len(rows[0]) > 2
        tt = torch.zeros((len(rows), T), dtype=torch.long) if pairs else None
        for i, row in enumerate(rows):
            x[i, :len(row[0])] = torch.tensor(row[0])
            if self.token:
                y[i, :len(row[1])] = torch.tensor(row[1])
            if pairs:
                tt[i, :len(row[2])] = torch.tensor(row[2])
        return (x, y) if tt is None else (x, y, tt)

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        rows = self.splits[split]
        pick = torch.randint(len(rows), (batch_size,), generator=generator).tolist()
        x, y, *tt = self.collate([rows[i] for i in pick])
        return (x, *tt), y


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


def encode_rows(records: list, task_kind: str, tok, labels: list[str], ids: dict[str, int],
                block_size: int, where: str, lower: bool = False
                ) -> tuple[list[tuple], int]:
    """Encode one split's records against a fixed label set (``lower``: an uncased model);
    also how many were cut to ``block_size``."""
    rows, cut = [], 0
    if task_kind == "sequence":
        targets = label_index(labels, [r.label for r in records], where)
        for r, t in zip(records, targets, strict=True):
            x, types, was_cut = encode_example(tok, r.text, getattr(r, "text_pair", None), ids,
                                               block_size, lower)
            rows.append((x, t) if types is None else (x, t, types))
            cut += was_cut
    else:
        for k, r in enumerate(records):
            tags = label_index(labels, r.tags, f"{where} sentence {k}")
            x, y, starts = encode_words(tok, r.tokens, tags, ids, block_size, lower)
            rows.append((x, y))
            cut += bool(starts) and starts[-1] < 0
    return rows, cut


def encode_split(records: list, task_kind: str, tok, labels: list[str], ids: dict[str, int],
                 block_size: int, where: str, lower: bool = False) -> list[tuple]:
    """Encode one split's records against a fixed label set (``lower``: an uncased model)."""
    return encode_rows(records, task_kind, tok, labels, ids, block_size, where, lower)[0]


def task_labels(records: list, task_kind: str) -> list[str]:
    """The sorted label set of the training records: their labels, or for tags ``O`` and
    ``B-``/``I-`` of every entity type they have."""
    if task_kind == "sequence":
        return sorted({r.label for r in records if r.label is not None})
    found = {t for r in records for t in r.tags}
    types = {t[2:] for t in found if t[:2] in ("B-", "I-")}
    return sorted(found | {f"{p}-{t}" for t in types for p in "BI"})


def checkpoint_tokenizer(checkpoint: str | os.PathLike):
    path = Path(checkpoint) / TOKENIZER_FILE
    if not path.exists():
        raise DataError(f"{checkpoint}: no {TOKENIZER_FILE} beside the weights")
    return load_tokenizer(path)


def checkpoint_task(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """What ``finetune.json`` says of a fine-tuned checkpoint (``{}`` for one without it)."""
    path = Path(checkpoint) / FINETUNE_FILE
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{path}: not JSON") from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: expected a JSON object")
    return info


def make_trainer(data: FinetuneConfig, checkpoint: str | os.PathLike,
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 records: dict[str, list] | None = None,
                 resume: str | os.PathLike | None = None,
                 dist: DistInfo | None = None) -> Trainer:
    """A :class:`Trainer` fine-tuning the encoder of ``checkpoint`` on the task ``data``
    names (the checkpoint plays the part a preset plays in the other parts). ``resume``
    continues an interrupted fine-tuning from its ``last/`` (its training config, the
    ``train`` overrides on top; the same task and data).

    ``model`` overrides fields of the checkpoint's model config that leave the weights'
    shapes alone (usually empty). ``records`` ({"train": [...], "val": [...]}, as
    :func:`load_records` returns) replaces reading the task's data; the label set is the
    training records'. ``task="contrastive"`` trains sentence vectors instead
    (:class:`~nanonlp.bert.contrastive.SimCSE` on (anchor, positive) records). How many rows
    were cut to the position table is in ``trainer.data.truncated``.
    """
    cfg = data
    if cfg.kind == "contrastive":
        if resume is not None:
            raise ConfigError("--resume is not supported for --task contrastive; start it again")
        return _contrastive_trainer(cfg, checkpoint, model, train, records, dist)
    if resume is not None:  # the interrupted run's recipe, not the defaults
        _, tcfg = resume_configs(resume, KIND, overrides(train))
    else:
        tcfg = TrainConfig(**{**FINETUNE_TRAIN, **overrides(train)})
    base = load_bert(checkpoint)
    tok = checkpoint_tokenizer(checkpoint)
    ids = special_ids(tok, str(Path(checkpoint) / TOKENIZER_FILE))
    kind = cfg.kind
    if records is None:
        records = load_records(cfg)
    train_recs = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    labels = task_labels(train_recs, kind)
    config = base.config.__class__(**{**base.config.to_dict(), "dropout": cfg.dropout,
                                      **(model or {})})
    net = BertClassifier(config, labels, kind, torch.Generator().manual_seed(tcfg.seed),
                         pooling=cfg.pooling)
    if cfg.init == "pretrained":
        # the encoder only: an MLM head (or another task's label head) is left behind
        net.bert.load_state_dict(base.bert.state_dict())
    splits, truncated = {}, {}
    for s in ("train", "val"):
        recs = train_recs if s == "train" else records[s]
        splits[s], truncated[s] = encode_rows(recs, kind, tok, labels, ids, config.block_size,
                                              f"{cfg.train or cfg.task} {s}", config.lowercase)
    batches = LabelledData(splits, ids["pad_id"], token=kind == "token")
    batches.truncated = truncated
    pairs = kind == "sequence" and isinstance(train_recs[0], PairExample)
    info = {"task": cfg.task, "kind": kind, "text_pair": pairs, "labels": labels}
    files = {TOKENIZER_FILE: (Path(checkpoint) / TOKENIZER_FILE).read_bytes(),
             FINETUNE_FILE: json.dumps(info, indent=1).encode()}
    return Trainer(net, batches, tcfg, kind=KIND, model_config=classifier_config(net),
                   extra_files=files, resume_from=resume, dist=dist)


def _contrastive_trainer(cfg: FinetuneConfig, checkpoint: str | os.PathLike,
                         model: dict[str, Any] | None, train, records: dict[str, list] | None,
                         dist: DistInfo | None) -> Trainer:
    """SimCSE on (anchor, positive) records: a ``bert`` checkpoint whose encoder is tuned."""
    from nanonlp.bert.contrastive import PairData, SimCSE

    tcfg = TrainConfig(**{**FINETUNE_TRAIN, **overrides(train)})
    base = load_bert(checkpoint)
    tok = checkpoint_tokenizer(checkpoint)
    ids = special_ids(tok, str(Path(checkpoint) / TOKENIZER_FILE))
    if records is None:
        records = load_records(cfg)
    train_recs = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    if cfg.dropout == 0 and all(a == b for a, b in train_recs):
        raise ConfigError("single sentences (their own positives) need dropout > 0: its noise "
                          "is all that tells the two copies apart (SimCSE uses 0.1)")
    config = base.config.__class__(**{**base.config.to_dict(), "dropout": cfg.dropout,
                                      **(model or {})})
    net = SimCSE(config, cfg.pooling, cfg.temperature, torch.Generator().manual_seed(tcfg.seed))
    if cfg.init == "pretrained":
        if isinstance(base, BertForMaskedLM):  # the MLM head too, so fill-mask still works
            net.load_state_dict(base.state_dict())
        else:
            net.bert.load_state_dict(base.bert.state_dict())
    B, lower = config.block_size, config.lowercase
    splits, truncated = {}, {}
    for s in ("train", "val"):
        rows, cut = [], 0
        for a, b in (train_recs if s == "train" else records[s]):
            ea, eb = (encode_example(tok, t, None, ids, B, lower) for t in (a, b))
            rows.append((ea[0], eb[0]))
            cut += ea[2] or eb[2]
        splits[s], truncated[s] = rows, cut
    data = PairData(splits, ids["pad_id"])
    data.truncated = truncated
    info = {"task": "contrastive", "method": "simcse", "pooling": cfg.pooling,
            "temperature": cfg.temperature, "pairs": any(a != b for a, b in train_recs)}
    files = {TOKENIZER_FILE: (Path(checkpoint) / TOKENIZER_FILE).read_bytes(),
             "embedding.json": json.dumps(info, indent=1).encode()}
    return Trainer(net, data, tcfg, kind="bert", model_config=config.to_dict(),
                   extra_files=files, dist=dist)


@torch.no_grad()
def predict_proba(model: BertClassifier, tok, texts: Sequence[str],
                  pairs: Sequence[str] | None = None, batch_size: int = 64) -> torch.Tensor:
    """Label probabilities (N, L) of each text (or text pair), sequence classifier."""
    model.eval()
    ids = special_ids(tok)
    data = LabelledData({"x": [(0, 0)]}, ids["pad_id"], token=False)
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(texts), batch_size):
        rows = []
        for k in range(s, min(s + batch_size, len(texts))):
            x, types, _ = encode_example(tok, texts[k], None if pairs is None else pairs[k],
                                         ids, model.config.block_size, model.config.lowercase)
            rows.append((x, 0) if types is None else (x, 0, types))
        x, _, *tt = data.collate(rows)
        logits, _ = model(x.to(dev), *(t.to(dev) for t in tt))
        out.append(logits.float().softmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros((0, len(model.labels)))


def predict_labels(model: BertClassifier, tok, texts: Sequence[str],
                   batch_size: int = 64, pairs: Sequence[str] | None = None) -> list[str]:
    """The label of each text (or text pair: ``pairs[i]`` is text i's second text)."""
    probs = predict_proba(model, tok, texts, pairs, batch_size)
    return [model.labels[i] for i in probs.argmax(-1).tolist()]


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


def predict_records(model: BertClassifier, tok, records: list, batch_size: int = 64) -> list:
    """Predictions for labelled records: a label per Example/PairExample, or a tag list per
    TaggedSentence."""
    if model.task == "sequence":
        pairs = [r.text_pair for r in records] if records and \
            isinstance(records[0], PairExample) else None
        return predict_labels(model, tok, [r.text for r in records], batch_size, pairs)
    return predict_tags(model, tok, [r.tokens for r in records], batch_size)


def evaluate(model: BertClassifier, tok, records: list, batch_size: int = 64) -> dict[str, float]:
    """Accuracy (sequence task) or seqeval span precision/recall/F1 (token task), in %."""
    pred = predict_records(model, tok, records, batch_size)
    if model.task == "sequence":
        right = sum(p == r.label for p, r in zip(pred, records, strict=True))
        return {"accuracy": 100.0 * right / max(len(records), 1), "examples": len(records)}
    from seqeval.metrics import f1_score, precision_score, recall_score

    gold = [list(r.tags) for r in records]
    return {"f1": 100.0 * float(f1_score(gold, pred)),
            "precision": 100.0 * float(precision_score(gold, pred)),
            "recall": 100.0 * float(recall_score(gold, pred)), "sentences": len(records)}
