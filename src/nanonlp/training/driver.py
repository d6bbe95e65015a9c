"""The training driver every torch trainer goes through: ``gpt train``, ``translate train``,
``bert pretrain`` and ``bert finetune`` on the command line, and the same call in a script.

:func:`fit` runs a :class:`~nanonlp.training.loop.Trainer` to its end (or to a wall-clock
budget) and does the bookkeeping around the loop, once, for every model:

* a progress bar (rank 0 only), with the loss and throughput of the latest log step;
* ``OUT/metrics.jsonl``: one JSON line per log step, appended as it happens, so a killed
  run loses at most the line being written, and a resumed run continues the same file;
* ``OUT/loss.png`` redrawn at every evaluation;
* ``OUT/train_config.json``: the model and training configs the run actually used (with the
  schedule a budget fitted), written once the first step is done and again at the end, so a
  run that never started leaves none behind;
* Ctrl-C saves ``OUT/last`` and ends with :class:`Interrupted`, whose message says how to
  resume.

The driver never exits the process and never prints outside rank 0.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanonlp.fileio import atomic_write
from nanonlp.progress import tqdm
from nanonlp.training.checkpoint import clean_run_folder
from nanonlp.training.loop import StepRecord, Trainer
from nanonlp.training.metrics import MetricsLog, plot_losses


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`: ``OUT/last`` was saved; the message says how to resume."""


@dataclass
class FitResult:
    """What :func:`fit` leaves behind."""

    steps: int  # optimizer steps done (all runs of this folder together)
    best_val: float  # best val loss seen (inf if never evaluated)
    last: StepRecord | None  # the record of the final step (None: no step was run)
    out: Path  # the run folder: best/, last/, metrics.jsonl, loss.png, train_config.json

    def summary(self) -> str:
        """One line naming the results and where they are."""
        o = self.out
        return (f"best val loss {self.best_val:.4f}; checkpoints {o / 'best'}, {o / 'last'}; "
                f"metrics {o / 'metrics.jsonl'}, curve {o / 'loss.png'}")


def describe(trainer: Trainer, title: str, budget_min: float | None = None) -> str:
    """The line a run starts with: size, device, processes, steps, budget, folder."""
    d = trainer.dist
    procs = f" x {d.world_size} processes" if d.enabled else ""
    budget = f" (or {budget_min:g} min)" if budget_min else ""
    n = sum(p.numel() for p in trainer.model.parameters())
    dtype = str(trainer.dtype).removeprefix("torch.")
    dtype = "" if dtype == "float32" else f" ({dtype} autocast)"
    if trainer.dtype_note:  # dtype auto on a CPU: say what was chosen, and why
        dtype = f" ({trainer.dtype_note})"
    return (f"{title}: {n:,} parameters on {trainer.device}{dtype}{procs}; step "
            f"{trainer.step} -> "
            f"{trainer.schedule.max_steps}{budget}; writing {trainer.out}")


def write_run_config(trainer: Trainer, info: dict[str, Any] | None = None) -> Path | None:
    """``OUT/train_config.json``: ``info`` (e.g. preset, data) and the configs in use."""
    if not trainer.dist.is_main:
        return None
    path = trainer.out / "train_config.json"
    body = {**(info or {}), "kind": trainer.kind, "model": trainer.model_config,
            "train": dataclasses.asdict(trainer.used_config()), "step": trainer.step}
    with atomic_write(path) as f:
        json.dump(body, f, indent=1)
    return path


def fit(trainer: Trainer, title: str, *, budget_min: float | None = None,
        info: dict[str, Any] | None = None, progress: bool = True,
        say: Callable[[str], None] | None = print) -> FitResult:
    """Train to the end (or for ``budget_min`` minutes) with bar, metrics, curve and config.

    ``info`` goes into ``train_config.json`` beside the configs; ``say`` prints the opening
    line and the evaluations (None: silent). Only rank 0 writes or prints.
    """
    main = trainer.dist.is_main
    say = say if main and say is not None else None
    if main:  # what a killed run left: a half-drawn loss.png, a half-written checkpoint
        clean_run_folder(trainer.out)
    log = MetricsLog(trainer.out / "metrics.jsonl", resume_step=trainer.step,
                     last_record=trainer.resumed_record) if main else None
    if say:
        say(describe(trainer, title, budget_min))
    bar = tqdm(total=trainer.schedule.max_steps, initial=trainer.step, unit="step", desc=title,
               disable=not (main and progress) or None)
    rec, started = None, False
    try:
        for rec in trainer.run(budget_min):
            bar.total = trainer.schedule.max_steps  # a time budget refits it as it goes
            bar.update(1)
            if not main:
                continue
            if not started:
                started = True
                write_run_config(trainer, info)
            if rec.loss is not None:
                log.add(rec.to_json())
                bar.set_postfix({"loss": f"{rec.loss:.3f}", "tok/s": f"{rec.tokens_per_s:,.0f}",
                                 "lr": f"{rec.lr:.1e}"})
            if rec.eval:
                plot_losses(log.records, trainer.out / "loss.png", title)
                if say:
                    bar.write(f"step {rec.step}: train {rec.eval['train']:.4f}, val "
                              f"{rec.eval['val']:.4f}{' (best)' if rec.best else ''}")
    except KeyboardInterrupt:
        bar.close()
        if main:
            log.flush()
            if started:
                write_run_config(trainer, info)
        last = trainer.out / "last"
        raise Interrupted(f"interrupted at step {trainer.step}; saved {last} (resume with "
                          f"--resume {last})") from None
    bar.close()
    if main:
        log.flush()
        if started:
            write_run_config(trainer, info)
    return FitResult(trainer.step, trainer.best_val, rec, trainer.out)
