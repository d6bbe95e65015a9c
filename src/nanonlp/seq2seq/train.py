"""Train and evaluate a translator: presets + overrides -> data, vocabularies, a Trainer.

``make_trainer`` reads the pairs (:mod:`nanonlp.seq2seq.data`), builds the vocabularies from
the training split, and hands the model and the batches to the shared training loop
(:class:`nanonlp.training.loop.Trainer`), with the vocabularies and the data config copied into
every checkpoint folder, so ``Translator.load(checkpoint)`` needs nothing else.
``trainer.run(budget_min=...)`` trains it under a wall-clock budget. ``evaluate`` scores
a checkpoint with sacreBLEU corpus BLEU and chrF on a held-out split.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nanonlp.errors import ConfigError, DataError
from nanonlp.seq2seq import data as D
from nanonlp.seq2seq.config import DataConfig, Seq2SeqConfig, presets
from nanonlp.seq2seq.model import KIND, Seq2Seq
from nanonlp.seq2seq.translate import DATA_FILE, SRC_VOCAB, TGT_VOCAB, Translator, check_alpha
from nanonlp.seq2seq.vocab import BPEVocab
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.config import overrides, resume_configs
from nanonlp.training.distributed import DistInfo

OUT = "runs/translate"  # where a run goes unless --train.out says otherwise


@dataclass
class Prepared:
    """Everything one training run reads: configs, pairs, vocabularies, batches."""

    data_config: DataConfig
    pairs: dict[str, list]  # split -> normalised Pair list (train, val, test)
    src_vocab: Any
    tgt_vocab: Any
    batches: D.ParallelData
    stats: dict[str, Any] = field(default_factory=dict)

    def batch(self, split: str, batch_size: int, generator: torch.Generator):
        """The Trainer's data contract, served by the encoded pairs."""
        return self.batches.batch(split, batch_size, generator)


def prepare(cfg: DataConfig, seed: int = 0, vocabs: tuple | None = None) -> Prepared:
    """Read the three splits, build (or reuse) vocabularies, encode train and val."""
    pairs = D.read_splits(cfg)
    src_v, tgt_v = vocabs or D.build_vocabs(cfg, pairs["train"])
    enc = {s: D.encode_pairs(pairs[s], src_v, tgt_v) for s in ("train", "val")}
    if cfg.max_tokens:
        enc["train"] = [(s, t) for s, t in enc["train"]
                        if len(s) - 1 <= cfg.max_tokens and len(t) <= cfg.max_tokens]
        if not enc["train"]:
            raise ConfigError(f"max_tokens {cfg.max_tokens} drops every training pair")
    stats = {"pairs": {s: len(p) for s, p in pairs.items()},
             "train_pairs_used": len(enc["train"]),
             "src_vocab": len(src_v), "tgt_vocab": len(tgt_v),
             "val_unknown_rate": round(D.unknown_rate(enc["val"]), 4)}
    return Prepared(cfg, pairs, src_v, tgt_v, D.ParallelData(enc, seed), stats)


def configs(data: dict[str, Any] | None = None, preset: str = "tutorial",
            model: dict[str, Any] | None = None,
            train: dict[str, Any] | TrainConfig | None = None, *,
            resume: str | os.PathLike | None = None
            ) -> tuple[DataConfig, dict[str, Any], TrainConfig]:
    """Data config, model fields and training config: preset, then the user's overrides.

    Resuming takes the checkpoint's data config and training config (overrides applied on
    top, e.g. a larger ``max_steps``); data and model options cannot change then.
    """
    data, model, train = dict(data or {}), dict(model or {}), overrides(train)
    if resume is not None:
        if data or model:
            raise ConfigError(f"data/model options {sorted({**data, **model})} cannot change "
                              "when resuming")
        mcfg, tcfg = resume_configs(resume, KIND, train)
        path = Path(resume) / DATA_FILE
        try:
            return DataConfig(**json.loads(path.read_text(encoding="utf-8"))), mcfg, tcfg
        except (OSError, ValueError, TypeError) as e:
            raise DataError(f"{path}: not a data config this version reads ({e})") from None
    p = presets(preset)
    model = {**p["model"], **model}
    Seq2SeqConfig(**model)  # bad model options fail now, before the data is read
    return (DataConfig(**{**p["data"], **data}), model,
            TrainConfig(**{"out": OUT, **p["train"], **train}))


def make_trainer(data: dict[str, Any] | None = None, preset: str = "tutorial",
                 model: dict[str, Any] | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 resume: str | os.PathLike | None = None, dist: DistInfo | None = None,
                 prepared: Prepared | None = None) -> Trainer:
    """A ready :class:`~nanonlp.training.loop.Trainer` for a
    :class:`~nanonlp.seq2seq.model.Seq2Seq` sized to the vocabularies.

    ``data``, ``model`` and ``train`` override the preset's fields; ``prepared`` reuses pairs
    and vocabularies already read (:func:`prepare`), and then ``data`` must be None. The
    trainer's ``data`` is the :class:`Prepared` (its ``stats``, ``pairs``) batches included.
    """
    dcfg, model, tcfg = configs(data, preset, model, train, resume=resume)
    if prepared is None:
        prepared = prepare(dcfg, tcfg.seed)
    elif data:
        raise ConfigError("give data options or an already prepared data set, not both")
    mcfg = Seq2SeqConfig(**{**model, "src_vocab": len(prepared.src_vocab),
                            "tgt_vocab": len(prepared.tgt_vocab)})
    net = Seq2Seq(mcfg, torch.Generator().manual_seed(tcfg.seed))
    extra = {SRC_VOCAB: prepared.src_vocab.to_bytes(), TGT_VOCAB: prepared.tgt_vocab.to_bytes(),
             DATA_FILE: json.dumps(dataclasses.asdict(prepared.data_config), indent=1).encode()}
    if isinstance(prepared.src_vocab, BPEVocab):
        extra[prepared.src_vocab.model_file] = Path(prepared.data_config.vocab).read_bytes()
    return Trainer(net, prepared, tcfg, kind=KIND, model_config=mcfg.to_dict(),
                   extra_files=extra, resume_from=resume, dist=dist)


@dataclass
class EvalReport:
    split: str  # held-out split scored
    bleu: float  # sacreBLEU corpus BLEU (tokenize="none": both sides normalised alike)
    chrf: float  # sacreBLEU chrF
    sentences: int  # distinct source sentences translated
    references: int  # references per sentence, at most
    beam: int  # beam width (1: greedy)
    seconds: float  # decoding time
    samples: list[dict[str, str]]  # a few (source, reference, hypothesis)
    bleu_signature: str = ""


def score(hypotheses: list[str], references: list[list[str]]) -> tuple[float, float, str]:
    """Corpus BLEU and chrF of hypotheses against one or more references per sentence.

    >>> round(score(["a b c d"], [["a b c d"]])[0], 1)
    100.0
    """
    import sacrebleu

    n = max(len(r) for r in references)
    # sacreBLEU wants one stream per reference slot; a sentence with fewer references has None
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(n)]
    bleu = sacrebleu.metrics.BLEU(tokenize="none", force=True)
    b = bleu.corpus_score(hypotheses, streams)
    c = sacrebleu.metrics.CHRF().corpus_score(hypotheses, streams)
    return b.score, c.score, str(bleu.get_signature())


def evaluate(model: Translator | str | os.PathLike, data: list | str = "test",
             split: str | None = None, beam: int = 5, alpha: float = 1.0,
             max_sentences: int | None = None, n_samples: int = 5) -> EvalReport:
    """sacreBLEU BLEU and chrF of a translator; each distinct source is translated once and
    scored against all of its references. The same shape as every part's ``evaluate``.

    ``model`` is a :class:`Translator` or a checkpoint folder. ``data`` is a list of
    normalised pairs, a split of the data the checkpoint was trained on (``train``, ``val``,
    ``test``), or a source of pairs (a TSV file or ``SRC,TGT`` files, read with the
    checkpoint's normalisation and no filter). ``split`` names the data in the report.
    """
    check_alpha(alpha)  # before the checkpoint and the data are read
    if max_sentences is not None and max_sentences < 1:
        raise ConfigError(f"max_sentences must be >= 1, got {max_sentences}")
    translator = model if isinstance(model, Translator) else Translator.load(model)
    if isinstance(data, str):
        cfg = DataConfig(**translator.data) if translator.data else DataConfig()
        if data in D.SPLITS:
            split, pairs = split or data, D.read_pairs(cfg, data)
        else:
            cfg = dataclasses.replace(cfg, source=data, filter="none")
            split, pairs = split or data, D.read_all(cfg)
    else:
        split, pairs = split or "test", data
    sources, refs = D.group_references(pairs)
    if max_sentences:
        sources, refs = sources[:max_sentences], refs[:max_sentences]
    # a normalised source may hold only unknown words: it gets an empty translation
    keep = [i for i, s in enumerate(sources) if any(
        x != D.UNK for x in translator.src_vocab.encode(s))]
    t0 = time.perf_counter()
    out = translator.translate([sources[i] for i in keep], beam=beam, alpha=alpha)
    seconds = time.perf_counter() - t0
    hyps = [""] * len(sources)
    for i, tr in zip(keep, out):
        hyps[i] = tr.text
    bleu, chrf, sig = score(hyps, refs)
    samples = [{"source": sources[i], "reference": refs[i][0], "translation": hyps[i]}
               for i in range(min(n_samples, len(sources)))]
    return EvalReport(split, bleu, chrf, len(sources), max(len(r) for r in refs), beam,
                      seconds, samples, sig)


