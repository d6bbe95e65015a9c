"""The training loop shared by GPT, BERT and seq2seq: a :class:`Trainer` whose :meth:`run`
yields one :class:`StepRecord` per optimizer step; the caller prints, plots and saves.

The loop knows two contracts and nothing about the model inside them:

* the model: ``model(*inputs, targets=targets) -> (logits, loss)``;
* the data: ``data.batch(split, batch_size, generator) -> (inputs, targets)``, where ``inputs``
  is a tuple of tensors, ``split`` is ``"train"`` or ``"val"``, and every random choice comes
  from ``generator`` (so a resumed run draws the batches the uninterrupted run would have).

Per step: set the learning rate (warmup + cosine), run ``grad_accum`` micro-batches (under DDP
only the last one all-reduces gradients), clip the global gradient norm, step the optimizer
(AdamW, or Muon: ``TrainConfig.optimizer``). Every
``log_interval`` steps the loss is read back from the device (the only per-step host sync,
so a GPU is not stalled every step). Every ``eval_interval`` steps: mean loss on fixed
train/val batches, ``best/`` saved when val improves, ``last/`` always. A non-finite loss stops
the run with a :class:`DataError` and leaves ``last/`` as it was (the last finite state).
``run(budget_min=...)`` fits the schedule to a wall-clock budget. Ctrl-C saves ``last/`` (the
state at the start of the interrupted step) before the KeyboardInterrupt goes on. This is the
structure of nanoGPT's ``train.py``, written as a generator the way spaCy's
``train_while_improving`` is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from nanonlp.errors import ConfigError, DataError
from nanonlp.training import checkpoint as ckpt
from nanonlp.training.config import TrainConfig
from nanonlp.training.device import autocast, cpu_auto_dtype, enable_tf32, pick_device, pick_dtype
from nanonlp.training.distributed import DistInfo, broadcast_from_main, mean_over_ranks, shard
from nanonlp.training.schedule import SCHEDULES, make_optimizer, set_lr


class Batches(Protocol):
    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]: ...


@dataclass
class StepRecord:
    """What one optimizer step did (JSON-able through ``dataclasses.asdict``)."""

    step: int  # optimizer steps done so far (1 after the first)
    loss: float | None  # mean training loss of this step (None: not a log step)
    lr: float  # learning rate used for this step
    grad_norm: float | None  # global gradient norm before clipping (None: not a log step)
    tokens: int  # target tokens seen so far, all processes together
    tokens_per_s: float | None  # throughput since the last log step (None: not a log step)
    seconds: float  # wall-clock since this run (or resume) began
    eval: dict[str, float] | None = None  # {"train": loss, "val": loss} when evaluated
    best: bool = False  # this evaluation is the best val loss so far (best/ was saved)
    saved: str | None = None  # checkpoint folder written after this step, if any

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Schedule:
    """The step counts of a run that a wall-clock budget may refit."""

    max_steps: int
    warmup_steps: int
    eval_interval: int
    decay_steps: int | None


class Trainer:
    """Owns the model, optimizer, sampler generator and step counter of one training run.

    ``model_config`` (JSON-able) and ``kind`` go into every checkpoint, so the checkpoint
    rebuilds its model; ``extra_files`` (name -> bytes, e.g. the tokenizer) are copied into
    every checkpoint folder. ``resume_from`` continues a run from a checkpoint folder.

    Construction seeds the process's global torch RNG (``torch.manual_seed(seed + rank)``), as
    nanoGPT's ``train.py`` does: dropout draws from the global generator, not from one we can
    pass in, so seeding it is what makes a run (and a resumed run, whose checkpoint restores
    that state) repeatable. Other code in the process sees the reseeded global RNG; batch
    sampling uses the Trainer's own ``generator``.
    """

    def __init__(self, model: torch.nn.Module, data: Batches, config: TrainConfig, *,
                 kind: str, model_config: dict[str, Any],
                 extra_files: dict[str, bytes] | None = None,
                 resume_from: str | Path | None = None, dist: DistInfo | None = None):
        self.config = config
        self.data = data
        self.kind = kind
        self.model_config = model_config
        self.extra_files = extra_files or {}
        self.dist = dist or DistInfo()
        if config.batch_size % self.dist.world_size:
            raise ConfigError(f"batch_size {config.batch_size} does not split evenly over "
                              f"{self.dist.world_size} processes")
        self.device = pick_device(config.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.dtype = pick_dtype(config.dtype, self.device)
        self.dtype_note: str | None = None  # on a CPU, why dtype auto chose what it did
        if config.dtype == "auto" and self.device.type == "cpu":
            self.dtype, self.dtype_note = cpu_auto_dtype()
            # every process follows rank 0's choice: each one's probe could measure otherwise
            bf16 = broadcast_from_main(float(self.dtype == torch.bfloat16), self.dist,
                                       self.device)
            self.dtype = torch.bfloat16 if bf16 else torch.float32
        enable_tf32(self.device)
        self.model = model.to(self.device)
        self.optimizer = self._make_optimizer()
        # float16 gradients underflow without loss scaling; bf16 and fp32 need none
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.tokens = 0
        self.best_val = math.inf
        self.out = Path(config.out)
        # the part of the config a time budget refits (config itself is never changed)
        self.schedule = Schedule(config.max_steps, config.warmup_steps, config.eval_interval,
                                 config.decay_steps)
        self._last_log = (time.perf_counter(), 0)
        self._snapshot: tuple[torch.Tensor, torch.Tensor] | None = None
        self._record: StepRecord | None = None  # the latest step's record (checkpoints keep it)
        self.resumed_record: dict[str, Any] | None = None  # the resumed checkpoint's record
        torch.manual_seed(config.seed + self.dist.rank)  # dropout: different per process
        if resume_from is not None:
            self._resume(Path(resume_from))
        self.engine: torch.nn.Module = self.model
        if config.compile:
            self.engine = torch.compile(self.engine)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.engine = DDP(self.engine, device_ids=ids)

    # ------------------------------------------------------------------------------------------

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        # Muon orthogonalises in the run's precision (bfloat16 on CUDA whatever it is)
        ns = torch.bfloat16 if self.dtype == torch.bfloat16 or self.device.type == "cuda" \
            else torch.float32
        return make_optimizer(self.model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2),
                              optimizer=cfg.optimizer, muon_lr=cfg.muon_lr,
                              muon_momentum=cfg.muon_momentum, ns_dtype=ns)

    def _resume(self, path: Path) -> None:
        meta = ckpt.read_meta(path, self.kind)
        # the moments of one optimizer mean nothing to the other: refuse a switch by name
        saved = (meta.get("train_config") or {}).get("optimizer", "adamw")
        if saved != self.config.optimizer:
            raise ConfigError(f"{path}: trained with optimizer {saved}, and this run asks for "
                              f"{self.config.optimizer}; a resume keeps the checkpoint's "
                              f"optimizer (--train.optimizer {saved}); to switch, start a new "
                              f"run from its weights (gpt train --init {path})")
        if meta["model_config"] != self.model_config:
            theirs = meta["model_config"]
            diff = next(k for k in sorted(set(theirs) | set(self.model_config))
                        if theirs.get(k) != self.model_config.get(k))
            raise DataError(f"{path}: checkpoint is for another model ({diff} = "
                            f"{theirs.get(diff)!r}, this model has "
                            f"{self.model_config.get(diff)!r})")
        state = meta["state"]
        chosen = state.get("dtype")
        if self.dtype_note is not None and chosen in ("float32", "bfloat16"):
            # a resumed run trains in what the run chose, not what a new probe measures now
            self.dtype = getattr(torch, chosen)
            self.dtype_note = f"dtype auto: {chosen}, as chosen when the run began"
            self.optimizer = self._make_optimizer()  # Muon's Newton-Schulz follows the dtype
        ckpt.load_weights(path, self.model, meta)
        ckpt.load_training_state(path, meta, self.optimizer, self.generator)
        try:
            self.step = int(state["step"])
            self.tokens = int(state.get("tokens", 0))
            self.best_val = float(state.get("best_val", math.inf))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{path / 'config.json'}: bad training state {state!r:.80} "
                            f"({type(e).__name__}: {e}); cannot resume from it") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if isinstance(state.get("record"), dict):
            self.resumed_record = state["record"]

    def _batch(self, split: str, generator: torch.Generator
               ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        inputs, targets = self.data.batch(split, self.config.batch_size, generator)
        if self.dist.enabled:
            rows = shard(self.config.batch_size, self.dist)
            inputs, targets = tuple(x[rows] for x in inputs), targets[rows]
        nb = self.device.type == "cuda"
        return (tuple(x.to(self.device, non_blocking=nb) for x in inputs),
                targets.to(self.device, non_blocking=nb))

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean loss over ``eval_steps`` fixed micro-batches of each split.

        The same batches every time (a generator seeded afresh), so successive evaluations
        differ only because the model changed, not because the sample did.
        """
        self.model.eval()
        out = {}
        for split in ("train", "val"):
            g = torch.Generator().manual_seed(self.config.seed + 1)
            total = 0.0
            for _ in range(self.config.eval_steps):
                inputs, targets = self._batch(split, g)
                with autocast(self.device, self.dtype):
                    _, loss = self.model(*inputs, targets=targets)
                total += float(loss * self._micro_weight(targets))
            out[split] = mean_over_ranks(total / self.config.eval_steps, self.dist, self.device)
        self.model.train()
        return out

    def save(self, name: str = "last") -> Path | None:
        """Write checkpoint ``out/name`` (rank 0 only); returns its path."""
        if not self.dist.is_main:
            return None
        gen = self.generator
        cpu_rng = None
        if self._snapshot is not None:
            # interrupted inside a step: save the RNG states from the start of that step
            gen = torch.Generator()
            gen.set_state(self._snapshot[0])
            cpu_rng = torch.get_rng_state()
            torch.set_rng_state(self._snapshot[1])
        try:
            state = {"step": self.step, "tokens": self.tokens, "best_val": self.best_val,
                     "dtype": str(self.dtype).removeprefix("torch."),
                     "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                     # this step's record, so a resume can put back a log line a kill lost
                     "record": None if self._record is None else self._record.to_json()}
            return ckpt.save_checkpoint(
                self.out / name, self.model, kind=self.kind, model_config=self.model_config,
                train_config=dataclasses.asdict(self.used_config()), optimizer=self.optimizer,
                generator=gen, state=state, extra_files=self.extra_files)
        finally:
            if cpu_rng is not None:
                torch.set_rng_state(cpu_rng)

    # ------------------------------------------------------------------------------------------

    def used_config(self) -> TrainConfig:
        """The config this run follows: ``config`` with the schedule a budget fitted."""
        return dataclasses.replace(self.config, **dataclasses.asdict(self.schedule))

    def run(self, budget_min: float | None = None, *, probe: int = 20, recheck: int = 100
            ) -> Iterator[StepRecord]:
        """Train until ``max_steps``, yielding a record after every optimizer step.

        ``budget_min`` holds the run to a wall-clock budget instead. The learning-rate schedule
        needs to know where the run ends, and on a shared machine the speed changes while it
        runs. So after ``probe`` steps, and again every ``recheck`` steps, the schedule's
        ``max_steps`` is re-aimed at the step where the speed so far says the budget runs out
        (the cosine decay follows it). At the first aim, warmup is capped at a tenth of the
        fitted run and the evaluation interval at a quarter, so a short budget still warms up,
        decays and evaluates. Once the budget is spent, one more step ends the run: it
        evaluates and saves, so ``best/`` and ``last/`` are always written. The config itself
        is never changed: :meth:`used_config` gives the fitted one (what checkpoints record).
        Under DDP every process follows rank 0's clock, so all stop at the same step.
        """
        if budget_min is not None and not (math.isfinite(budget_min) and budget_min >= 0):
            raise ConfigError(f"budget_min must be a number >= 0, got {budget_min}")
        budget_s = None if budget_min is None else budget_min * 60
        if budget_s is not None:
            self.schedule.decay_steps = None  # decay over the fitted max_steps
        start, first = time.perf_counter(), self.step
        self._last_log = (start, self.tokens)
        try:
            while self.step < self.schedule.max_steps:
                record = self._one_step(start)
                if budget_s is not None:
                    self._fit_budget(budget_s, start, first, probe, recheck)
                yield record
        except KeyboardInterrupt:
            self.save("last")
            raise

    def _fit_budget(self, budget_s: float, start: float, first: int, probe: int,
                    recheck: int) -> None:
        sched, done = self.schedule, self.step - first
        refit = done == probe or (done > probe and (done - probe) % recheck == 0)
        # under DDP the clock is read only where all processes meet anyway, and rank 0's wins
        if self.dist.enabled and not (refit or self.step % self.config.log_interval == 0):
            return
        elapsed = broadcast_from_main(time.perf_counter() - start, self.dist, self.device)
        if refit:
            fitted = max(self.step + 1, first + int(budget_s * done / max(elapsed, 1e-9)))
            if done == probe:
                sched.warmup_steps = min(sched.warmup_steps, max(1, (fitted - first) // 10))
                sched.eval_interval = min(sched.eval_interval, max(1, (fitted - first) // 4))
            sched.max_steps = fitted
        if elapsed >= budget_s and self.step < sched.max_steps:
            sched.max_steps = self.step + 1  # one more step, which evaluates and saves

    def _micro_weight(self, targets: torch.Tensor) -> torch.Tensor | float:
        """Under DDP, the factor that makes this rank's mean loss a share of the global mean.

        Each model's loss is a mean over its own targets, and DDP averages gradients over
        ranks. With rows of different lengths (padding, masking) the ranks hold different
        numbers of targets, so the average of per-rank means is not the global mean one
        process computes. Weighting rank r's mean by ``world * n_r / N`` makes it so.
        """
        if not self.dist.enabled:
            return 1.0
        ignore = getattr(self.model, "ignore_index", -1)
        n = (targets != ignore).sum().to(torch.float64)
        total = n.clone()
        torch.distributed.all_reduce(total)
        return (n * self.dist.world_size / total.clamp(min=1)).float()

    def _one_step(self, start: float) -> StepRecord:
        cfg, sched = self.config, self.schedule
        lr = SCHEDULES[cfg.schedule](self.step, cfg.lr, cfg.min_lr, sched.warmup_steps,
                                     sched.max_steps if sched.decay_steps is None
                                     else sched.decay_steps)
        set_lr(self.optimizer, lr, cfg.lr, cfg.muon_lr)
        self._snapshot = (self.generator.get_state(), torch.get_rng_state())
        # the loss stays on the device: reading it back each micro-batch would wait for the
        # GPU to finish (a host sync); it is read at log steps only, as nanoGPT does
        loss_sum = torch.zeros((), device=self.device)
        tokens = 0
        for micro in range(cfg.grad_accum):
            inputs, targets = self._batch("train", self.generator)
            last = micro == cfg.grad_accum - 1
            # under DDP, all-reduce gradients once per step, on the last micro-batch
            sync = contextlib.nullcontext() if last or not self.dist.enabled \
                else self.engine.no_sync()
            with sync:
                with autocast(self.device, self.dtype):
                    _, loss = self.engine(*inputs, targets=targets)
                    # the step's gradient is the mean over micro-batches (and processes)
                    loss = loss * self._micro_weight(targets) / cfg.grad_accum
                self.scaler.scale(loss).backward()
            loss_sum += loss.detach().float()
            tokens += targets.numel()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self._snapshot = None
        self.tokens += tokens * self.dist.world_size
        evaluating = self.step % sched.eval_interval == 0 or self.step == sched.max_steps
        saving = evaluating or bool(cfg.save_interval and self.step % cfg.save_interval == 0)
        record = StepRecord(step=self.step, loss=None, lr=lr, grad_norm=None,
                            tokens=self.tokens, tokens_per_s=None,
                            seconds=time.perf_counter() - start)
        # read the loss back at log steps and before every save: a save must never write a
        # state that went non-finite since the last look
        # step 1 is always logged (nanoGPT logs iter 0); a resumed run logs the steps the
        # uninterrupted one would, so the two metrics files are equal
        if saving or self.step == 1 or self.step % cfg.log_interval == 0:
            self._log(record, loss_sum, norm)
        self._record = record
        if saving:
            record.saved = str(self.out / "last")
        if evaluating:
            record.eval = self.evaluate()
            if record.eval["val"] < self.best_val:
                self.best_val = record.eval["val"]
                record.best = True
                self.save("best")
        if saving and self.save("last") is None:
            record.saved = None  # not rank 0: this process wrote nothing
        return record

    def _log(self, record: StepRecord, loss_sum: torch.Tensor, norm: torch.Tensor) -> None:
        """Fill in the record's loss, gradient norm and throughput (a host sync); a
        non-finite loss stops the run."""
        record.loss = mean_over_ranks(float(loss_sum), self.dist, self.device)
        record.grad_norm = float(norm)
        t0, tokens0 = self._last_log
        now = time.perf_counter()
        record.tokens_per_s = (self.tokens - tokens0) / max(now - t0, 1e-9)
        self._last_log = (now, self.tokens)
        # a non-finite loss (or, without loss scaling, gradient) has already been stepped into
        # the weights: keep last/ as the last finite state rather than overwrite it
        if not math.isfinite(record.loss) or (
                not self.scaler.is_enabled() and not math.isfinite(record.grad_norm)):
            what = f"loss {record.loss}" if not math.isfinite(record.loss) \
                else f"gradient norm {record.grad_norm}"
            kept = ""
            with contextlib.suppress(DataError):
                step = ckpt.read_meta(self.out / "last")["state"].get("step")
                kept = f"; {self.out / 'last'} keeps step {step}: resume from it"
            raise DataError(f"training diverged at step {self.step} ({what}); lower lr "
                            f"(now {self.config.lr}) or raise warmup_steps{kept}")
