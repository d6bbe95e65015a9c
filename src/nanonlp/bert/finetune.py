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
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from nanonlp.bert.data import TOKENIZER_FILE, load_tokenizer, special_ids
from nanonlp.bert.embed import EMBEDDING_FILE, checkpoint_embedding
from nanonlp.bert.encode import collate, encode_example, encode_words, label_index
from nanonlp.bert.model import (
    POOLING,
    BertClassifier,
    BertForMaskedLM,
    classifier_config,
    load_bert,
)
from nanonlp.bert.predict import FINETUNE_FILE
from nanonlp.bert.tasks import TASKS, load_task
from nanonlp.datasets.labelled import holdout, label_set
from nanonlp.datasets.records import PairExample
from nanonlp.errors import ConfigError, DataError
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import overrides, resume_configs
from nanonlp.training.distributed import DistInfo

CHECKPOINT_KIND = "bert-classifier"  # what a fine-tuned BERT's checkpoint says it is

#: the recipe for our own small encoders, from scratch or an hour's pretraining: a higher
#: learning rate than BERT's, which these small, briefly trained models need (bert_sweep)
FINETUNE_TRAIN = dict(max_steps=1000, batch_size=32, lr=2e-4, min_lr=2e-5, warmup_steps=100,
                      weight_decay=0.01, beta2=0.98, eval_interval=250, eval_steps=10,
                      out="runs/bert-finetune")

#: BERT's recipe, for a real pretrained checkpoint (one ``bert import`` brought in): Devlin et
#: al. 2019 appendix A.3 (lr among 5e-5, 3e-5, 2e-5; warmup over the first 10% of the steps,
#: then linear decay to 0; dropout 0.1), AdamW's usual beta2 0.999 as HF's Trainer has it
PRETRAINED_TRAIN = {**FINETUNE_TRAIN, "lr": 5e-5, "min_lr": 0.0, "schedule": "linear",
                    "beta2": 0.999}
WARMUP_FRACTION = 0.1  # BERT's recipe: warm up over this part of the steps


#: tasks read from your own files (``--train``, ``--dev``, ``--test``) -> the model's task kind
FILE_TASKS = {"sequence": "sequence", "token": "token", "contrastive": "contrastive"}


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
    pooling: str | None = None  # cls, mean, max, mean_sqrt_len (None: the checkpoint's, see help)
    epochs: float | None = None  # passes over the training data; sets the steps (None: max_steps)
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
        if self.pooling is not None and self.pooling not in POOLING:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose {', '.join(POOLING)}")
        if self.epochs is not None and not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError(f"epochs must be > 0 (or None), got {self.epochs}")
        if self.scheme not in SCHEMES:
            raise ConfigError(f"unknown tag scheme {self.scheme!r}; choose {', '.join(SCHEMES)}")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.max_train is not None and self.max_train < 1:
            raise ConfigError(f"max_train must be >= 1 (or None), got {self.max_train}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")

    def pooling_for(self, checkpoint: str | os.PathLike) -> str:
        """The pooling asked for, else the one the checkpoint's sentence vectors were trained
        with (its ``embedding.json``: a sentence-transformers folder, a SimCSE run), else mean
        for contrastive training and [CLS] for classifiers (BERT's)."""
        if self.pooling is not None:
            return self.pooling
        if (Path(checkpoint) / EMBEDDING_FILE).exists():
            return checkpoint_embedding(checkpoint)["pooling"]
        return "mean" if self.task_kind == "contrastive" else "cls"

    @property
    def task_kind(self) -> str:
        """What the model learns: ``sequence`` (a label per text), ``token`` (a tag per
        word) or ``contrastive`` (sentence vectors)."""
        return TASKS[self.task][1] if self.task in TASKS else FILE_TASKS[self.task]


def load_records(cfg: FinetuneConfig) -> dict[str, list]:
    """The records of every split the task has, ``train``, ``val`` and maybe ``test``:
    a named task's data set, or your files, read and checked (a label or entity type only dev
    or test has, a one-class training file: errors naming the file and line)."""
    from nanonlp.datasets import labelled as L

    if cfg.task in TASKS:
        return {s: load_task(cfg.task, s, cfg.dev_fraction) for s in TASKS[cfg.task][2]}
    paths = {"train": cfg.train, "val": cfg.dev, "test": cfg.test}
    paths = {s: p for s, p in paths.items() if p is not None}
    if cfg.task_kind == "sequence":
        def read(p):
            return L.read_labelled(p, text_column=cfg.text_column, header=cfg.header,
                                   text_pair_column=cfg.text_pair_column,
                                   label_column=cfg.label_column)
    elif cfg.task_kind == "token":
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
    if cfg.task_kind == "sequence":
        labels = L.label_set(records["train"], "sequence", cfg.train)
        pairs = {s: isinstance(recs[0], PairExample) for s, recs in records.items()}
        for s, recs in records.items():
            if pairs[s] != pairs["train"]:
                have = "has" if pairs["train"] else "has no"
                raise DataError(f"{paths.get(s, cfg.train)}: the training file {have} a second "
                                "text (text_pair) column, this one must match it")
            if s != "train":
                L.check_known_labels(recs, labels, paths.get(s, cfg.train))
    elif cfg.task_kind == "token":
        labels = L.label_set(records["train"], "token", cfg.train)
        for s in ("val", "test"):
            if s in paths:
                L.check_tags(records[s], labels, paths[s])
    return records


class LabelledData:
    """Encoded examples per split, drawn at random and padded per batch to the longest row
    (:func:`~nanonlp.bert.encode.collate`).

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

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        rows = self.splits[split]
        pick = torch.randint(len(rows), (batch_size,), generator=generator).tolist()
        x, y, *tt = collate([rows[i] for i in pick], self.pad_id, self.token)
        return (x, *tt), y


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


def is_pretrained(checkpoint: str | os.PathLike) -> bool:
    """Whether a checkpoint is a real pretrained model that ``bert import`` brought in (it
    then gets BERT's fine-tuning recipe, :data:`PRETRAINED_TRAIN`), not one of our own."""
    from nanonlp.training.checkpoint import read_meta

    return bool(read_meta(checkpoint).get("state", {}).get("imported_from"))


def train_config(checkpoint: str | os.PathLike, train: dict[str, Any] | TrainConfig | None,
                 epochs: float | None, n_train: int) -> TrainConfig:
    """The training config of a new fine-tuning run: the checkpoint's recipe (BERT's for an
    imported model, ours otherwise), ``epochs`` turned into steps (BERT's warmup scaled to
    them), then what ``train`` sets explicitly on top.

    >>> import tempfile; from nanonlp.bert import BertConfig, BertForMaskedLM, save_bert
    >>> tiny = BertConfig(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16)
    >>> ckpt = save_bert(BertForMaskedLM(tiny), tempfile.mkdtemp())
    >>> c = train_config(ckpt, {"batch_size": 10}, epochs=2, n_train=95)
    >>> c.max_steps, c.lr, c.schedule   # ceil(2 * 95 / 10) steps, our own recipe
    (19, 0.0002, 'cosine')
    """
    given = overrides(train)
    if epochs is not None and "max_steps" in given:
        raise ConfigError("give --epochs or --train.max_steps, not both")
    recipe = dict(PRETRAINED_TRAIN if is_pretrained(checkpoint) else FINETUNE_TRAIN)
    if epochs is not None:
        per_step = given.get("batch_size", recipe["batch_size"]) * given.get("grad_accum", 1)
        recipe["max_steps"] = max(1, math.ceil(epochs * n_train / per_step))
    if recipe.get("schedule") == "linear":  # BERT's warmup is a fraction of the steps
        recipe["warmup_steps"] = round(WARMUP_FRACTION * given.get("max_steps",
                                                                   recipe["max_steps"]))
    return TrainConfig(**{**recipe, **given})


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
    if cfg.task_kind == "contrastive":
        if resume is not None:
            raise ConfigError("--resume is not supported for --task contrastive; start it again")
        return _contrastive_trainer(cfg, checkpoint, model, train, records, dist)
    if records is None:
        records = load_records(cfg)
    train_recs = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    if resume is not None:  # the interrupted run's recipe, not the defaults
        _, tcfg = resume_configs(resume, CHECKPOINT_KIND, overrides(train))
    else:
        tcfg = train_config(checkpoint, train, cfg.epochs, len(train_recs))
    base = load_bert(checkpoint)
    tok = load_tokenizer(checkpoint)
    ids = special_ids(tok, str(Path(checkpoint) / TOKENIZER_FILE))
    task_kind = cfg.task_kind
    labels = label_set(train_recs, task_kind, cfg.train or cfg.task)
    config = base.config.__class__(**{**base.config.to_dict(), "dropout": cfg.dropout,
                                      **(model or {})})
    net = BertClassifier(config, labels, task_kind, torch.Generator().manual_seed(tcfg.seed),
                         pooling=cfg.pooling_for(checkpoint))
    if cfg.init == "pretrained":
        # the encoder only: an MLM head (or another task's label head) is left behind
        net.bert.load_state_dict(base.bert.state_dict())
    splits, truncated = {}, {}
    for s in ("train", "val"):
        recs = train_recs if s == "train" else records[s]
        splits[s], truncated[s] = encode_rows(recs, task_kind, tok, labels, ids, config.block_size,
                                              f"{cfg.train or cfg.task} {s}", config.lowercase)
    batches = LabelledData(splits, ids["pad_id"], token=task_kind == "token")
    batches.truncated = truncated
    pairs = task_kind == "sequence" and isinstance(train_recs[0], PairExample)
    info = {"task": cfg.task, "kind": task_kind, "text_pair": pairs, "labels": labels}
    files = {TOKENIZER_FILE: (Path(checkpoint) / TOKENIZER_FILE).read_bytes(),
             FINETUNE_FILE: json.dumps(info, indent=1).encode()}
    return Trainer(net, batches, tcfg, kind=CHECKPOINT_KIND, model_config=classifier_config(net),
                   extra_files=files, resume_from=resume, dist=dist)


def _contrastive_trainer(cfg: FinetuneConfig, checkpoint: str | os.PathLike,
                         model: dict[str, Any] | None, train, records: dict[str, list] | None,
                         dist: DistInfo | None) -> Trainer:
    """SimCSE on (anchor, positive) records: a ``bert`` checkpoint whose encoder is tuned."""
    from nanonlp.bert.contrastive import PairData, SimCSE

    if records is None:
        records = load_records(cfg)
    train_recs = records["train"][:cfg.max_train] if cfg.max_train else records["train"]
    tcfg = train_config(checkpoint, train, cfg.epochs, len(train_recs))
    base = load_bert(checkpoint)
    tok = load_tokenizer(checkpoint)
    ids = special_ids(tok, str(Path(checkpoint) / TOKENIZER_FILE))
    if cfg.dropout == 0 and all(a == b for a, b in train_recs):
        raise ConfigError("single sentences (their own positives) need dropout > 0: its noise "
                          "is all that tells the two copies apart (SimCSE uses 0.1)")
    config = base.config.__class__(**{**base.config.to_dict(), "dropout": cfg.dropout,
                                      **(model or {})})
    pooling = cfg.pooling_for(checkpoint)
    net = SimCSE(config, pooling, cfg.temperature, torch.Generator().manual_seed(tcfg.seed))
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
    # what the checkpoint's vectors were (a sentence-transformers folder's length limit and
    # normalisation), then what this training makes them
    before = checkpoint_embedding(checkpoint) if (Path(checkpoint) / EMBEDDING_FILE).exists() \
        else {}
    info = {**before, "task": "contrastive", "method": "simcse", "pooling": pooling,
            "temperature": cfg.temperature, "pairs": any(a != b for a, b in train_recs),
            "mlm_head": isinstance(base, BertForMaskedLM) and before.get("mlm_head", True)}
    files = {TOKENIZER_FILE: (Path(checkpoint) / TOKENIZER_FILE).read_bytes(),
             EMBEDDING_FILE: json.dumps(info, indent=1).encode()}
    return Trainer(net, data, tcfg, kind="bert", model_config=config.to_dict(),
                   extra_files=files, dist=dist)


