"""Train a spaCy NER pipeline through spaCy's own training loop, with a time budget.

:func:`train` is ``spacy train`` (``spacy.training.loop.train``) taken apart at one seam: spaCy's
``train_while_improving`` generator does the updates, evaluation, patience (early stopping)
and ``max_steps``; we iterate it ourselves instead of through ``spacy.training.loop.train`` so
that we can

* stop at a wall-clock budget (``budget_min``, the flag every nanonlp trainer takes; spaCy has
  only steps and epochs), and
* yield one :class:`Step` record per update, which the caller displays (the CLI's progress
  bar, the tour's plot) rather than spaCy's console logger printing from inside the loop.

Everything else is spaCy's: ``init_nlp`` builds and initialises the pipeline from the config,
``create_train_batches`` / ``create_evaluation_callback`` / ``update_meta`` /
``create_before_to_disk_callback`` are imported from ``spacy.training.loop``, and the checkpoint
logic (``model-last`` every evaluation, ``model-best`` when it improved, averaged weights when
the optimizer keeps them) mirrors its ``save_checkpoint``. The output folder therefore holds
``model-best/`` and ``model-last/``, ordinary pipelines that ``spacy.load`` opens.
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import atomic_dir, atomic_write
from nanonlp.ner.config import (
    PRESETS,
    Preset,
    base_config,
    check_override,
    init_vectors,
    parse_override,
    set_dotted,
)
from nanonlp.ner.convert import load_docbin


@dataclass
class NERTrainConfig:
    train: str = ""  # training data: a .spacy DocBin (see `nanonlp ner convert`)
    dev: str = ""  # development data (.spacy) for evaluation and early stopping
    out: str = "runs/ner"  # output folder: model-best/, model-last/, config.cfg
    preset: Preset = "efficiency"  # config preset; spacy-* are spaCy's own configs, untouched
    vectors: str | None = None  # word2vec text file of static vectors (None: no vectors)
    vectors_attr: Literal["ORTH", "LOWER"] = "ORTH"  # LOWER: vectors of lower-cased text
    seed: int = 0  # spaCy's training seed (data order, dropout, initial weights)
    max_steps: int = 20000  # stop after this many updates (spaCy's default)
    budget_min: float | None = None  # stop after this many minutes of wall clock (None: no limit)
    max_minutes: float | None = None  # deprecated: the old name of budget_min (still read)
    patience: int = 1600  # stop when dev F1 has not improved for this many steps (0: never)
    eval_frequency: int = 200  # evaluate on dev every N steps
    overrides: tuple[str, ...] = ()  # extra config settings, section.key=value (JSON values)

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; presets: {', '.join(PRESETS)}")
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.max_minutes is not None:
            warnings.warn("NERTrainConfig.max_minutes is deprecated; use budget_min",
                          DeprecationWarning, stacklevel=3)
            if self.budget_min is not None and self.budget_min != self.max_minutes:
                raise ConfigError(f"budget_min {self.budget_min} and its old name max_minutes "
                                  f"{self.max_minutes} disagree; give budget_min only")
            self.budget_min, self.max_minutes = self.max_minutes, None
        if self.budget_min is not None and not (math.isfinite(self.budget_min)
                                                and self.budget_min > 0):
            raise ConfigError(f"budget_min must be > 0 or None, got {self.budget_min}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.eval_frequency < 1:
            raise ConfigError(f"eval_frequency must be >= 1, got {self.eval_frequency}")
        if self.overrides:  # a key spaCy does not have is a typo: refuse it before any work
            cfg = base_config(self.preset)
            for item in self.overrides:
                check_override(cfg, parse_override(item)[0])


@dataclass
class Step:
    """One update of the training loop, as the caller sees it."""

    step: int
    epoch: int
    seconds: float  # since training started (initialisation excluded)
    words: int  # training words seen so far
    loss: float  # NER loss accumulated since the last evaluation
    dev_f1: float | None = None  # set on evaluation steps
    dev_scores: dict = field(default_factory=dict)  # ents_p, ents_r, ents_f, ents_per_type
    best: bool = False  # this evaluation is the best so far (model-best was written)
    stopped: str = ""  # on the last record: why training stopped


def build_config(config: NERTrainConfig, vectors_dir: str | None = None):
    """The full spaCy config for ``config``: preset, data paths, budget, seed, overrides."""
    cfg = base_config(config.preset)
    cfg["paths"]["train"] = str(config.train)
    cfg["paths"]["dev"] = str(config.dev)
    cfg["system"]["seed"] = config.seed
    cfg["training"]["max_steps"] = config.max_steps
    cfg["training"]["patience"] = config.patience
    cfg["training"]["eval_frequency"] = config.eval_frequency
    if vectors_dir is not None:
        cfg["paths"]["vectors"] = str(vectors_dir)
        cfg["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = True
    for item in config.overrides:
        dotted, value = parse_override(item)
        check_override(cfg, dotted)
        set_dotted(cfg, dotted, value)
    return cfg


def check_data(config: NERTrainConfig) -> None:
    """Refuse missing, non-DocBin or empty training and dev files, before any work (spaCy
    fails on an empty corpus with an assertion deep in its loop)."""
    import spacy

    for name in ("train", "dev"):
        path = getattr(config, name)
        if not path or not Path(path).is_file():
            raise DataError(f"{name} data {path!r}: no such file (make one with "
                            "`nanonlp ner convert`)")
        if Path(path).suffix != ".spacy":
            raise DataError(f"{name} data {path}: expected a .spacy DocBin (make one with "
                            "`nanonlp ner convert`)")
        if not any(len(doc) for doc in load_docbin(path, spacy.blank("en").vocab)):
            raise DataError(f"{name} data {path}: no documents with tokens")


def initialize(config: NERTrainConfig):
    """``spacy.training.loop.train`` up to the point where it starts iterating: the run
    folder with ``config.cfg`` (and the vectors), the initialised pipeline and the resolved
    ``[training]`` section. A run that fails here leaves no folder it made behind."""
    import spacy
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training.initialize import init_nlp
    from spacy.util import fix_random_seed, registry, resolve_dot_names
    from thinc.api import ConfigValidationError

    out = Path(config.out)
    vectors_dir = out / "vectors" if config.vectors else None
    cfg = build_config(config, vectors_dir)  # a bad override fails here, before any file
    created = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        if vectors_dir is not None:
            init_vectors(config.vectors, vectors_dir, attr=config.vectors_attr)
        with atomic_write(out / "config.cfg") as f:
            f.write(cfg.to_str())
        fix_random_seed(config.seed)
        try:
            nlp = init_nlp(spacy.util.load_config(out / "config.cfg", interpolate=False))
            resolved = nlp.config.interpolate()
            T = registry.resolve(resolved["training"], schema=ConfigSchemaTraining)
        except ConfigValidationError as e:  # e.g. an override of the wrong type
            first = (e.errors or [{}])[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "?"
            raise ConfigError(f"spaCy refuses the config: {where}: "
                              f"{first.get('msg', e.title)}") from None
        corpora = resolve_dot_names(resolved, [T["train_corpus"], T["dev_corpus"]])
    except BaseException:
        if created:  # we made the run folder for a run that never started: take it away
            shutil.rmtree(created[-1], ignore_errors=True)
        raise
    return nlp, T, corpora


def train(config: NERTrainConfig) -> Iterator[Step]:
    """Train as ``config`` says, yielding a :class:`Step` after every update.

    The best pipeline (by dev entity F1) is in ``{out}/model-best`` when the iterator ends;
    the final weights are in ``{out}/model-last``; the config used is ``{out}/config.cfg``.
    """
    from spacy.training.loop import (
        clean_output_dir,
        create_before_to_disk_callback,
        create_evaluation_callback,
        create_train_batches,
        train_while_improving,
        update_meta,
    )

    check_data(config)
    nlp, T, (train_corpus, dev_corpus) = initialize(config)
    out = Path(config.out)
    optimizer = T["optimizer"]
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
    evaluate = create_evaluation_callback(nlp, dev_corpus, T["score_weights"])
    steps = train_while_improving(
        nlp, optimizer,
        create_train_batches(nlp, train_corpus, T["batcher"], T["max_epochs"]),
        evaluate,
        dropout=T["dropout"], accumulate_gradient=T["accumulate_gradient"],
        patience=T["patience"], max_steps=T["max_steps"], eval_frequency=T["eval_frequency"],
        exclude=T["frozen_components"], annotating_components=T["annotating_components"],
        before_update=T["before_update"],
    )

    def save(info: dict, best: bool) -> None:
        # spaCy's save_checkpoint: the averaged weights go to disk when there are any.
        # Each folder is built aside and swapped in whole: an interrupted save leaves the
        # previous pipeline loadable, never a mix of two steps.
        update_meta(T, nlp, info)
        with nlp.use_params(optimizer.averages), atomic_dir(out / "model-last") as tmp:
            before_to_disk(nlp).to_disk(tmp)
        if best:
            with atomic_dir(out / "model-best") as tmp:
                shutil.copytree(out / "model-last", tmp, dirs_exist_ok=True)

    clean_output_dir(out)  # removes model-best/ and model-last/ of an earlier run
    deadline = None if config.budget_min is None else \
        time.perf_counter() + 60 * config.budget_min
    start = time.perf_counter()
    pending: Step | None = None  # held back one update so the last record can say why it stopped
    info: dict = {}
    last_saved = False  # model-last already holds the final weights
    for _batch, info, is_best in steps:
        if pending is not None:
            yield pending
        pending = Step(step=info["step"], epoch=info["epoch"],
                       seconds=time.perf_counter() - start, words=info["words"],
                       loss=float(info["losses"].get("ner", 0.0)))
        last_saved = is_best is not None
        if last_saved:
            save(info, is_best)
            _scores(pending, info, is_best)
        if deadline is not None and time.perf_counter() > deadline:
            pending.stopped = f"time budget of {config.budget_min:g} min"
            if is_best is None:
                # The updates since the last evaluation would be lost: evaluate them now, as
                # train_while_improving does (averaged weights when there are any).
                with nlp.use_params(optimizer.averages):
                    score, other = evaluate()
                info["checkpoints"].append((score, info["step"]))
                best = score >= max(s for s, _ in info["checkpoints"])
                info.update(score=score, other_scores=other)
                save(info, best)
                last_saved = True
                _scores(pending, info, best)
            break
    if pending is None:
        return
    if not pending.stopped:
        best_step = -max((s, -st) for s, st in info["checkpoints"])[1]
        pending.stopped = (f"max_steps {config.max_steps}" if pending.step >= config.max_steps
                           else f"no dev improvement for {config.patience} steps "
                                f"(best at step {best_step})")
    if not last_saved:
        save(info, False)
    yield pending


@dataclass
class FitResult:
    """What :func:`fit` leaves behind: the last step record and the best dev F1 (0-1)."""

    last: Step | None
    best_f1: float | None
    out: Path

    def summary(self) -> str:
        """The lines ``nanonlp ner train`` ends with."""
        lines = []
        if self.last is not None:
            s = self.last
            lines.append(f"stopped: {s.stopped} (step {s.step}, epoch {s.epoch}, "
                         f"{s.seconds / 60:.1f} min); best dev F1 {100 * (self.best_f1 or 0):.2f}")
        lines.append(f"pipeline: {self.out}/model-best (spacy.load opens it)")
        return "\n".join(lines)


def fit(config: NERTrainConfig, *, progress: bool = True) -> FitResult:
    """Train to the end (or the budget) with a progress bar showing the loss and dev F1,
    the counterpart of :func:`nanonlp.training.fit` for spaCy's loop."""
    from nanonlp.progress import tqdm

    best, last, bar = None, None, None
    try:
        for step in train(config):
            if bar is None:  # made at the first step, so a setup error is the only line
                bar = tqdm(total=config.max_steps, unit="step", desc="ner train",
                           disable=not progress or None)
            bar.update(step.step + 1 - bar.n)
            if step.dev_f1 is not None:
                best = step.dev_f1 if best is None else max(best, step.dev_f1)
                bar.set_postfix(loss=f"{step.loss:.1f}", dev_f1=f"{100 * step.dev_f1:.2f}",
                                best=f"{100 * best:.2f}")
            last = step
    finally:
        if bar is not None:
            bar.close()
    return FitResult(last, best, Path(config.out))


def _scores(record: Step, info: dict, best: bool) -> None:
    record.dev_f1 = float(info["score"])
    record.dev_scores = dict(info["other_scores"])
    record.best = bool(best)
