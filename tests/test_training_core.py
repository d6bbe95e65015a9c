"""The shared training loop: schedule, parameter groups, exact resume, Ctrl-C, checkpoints."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.data import TokenData
from nanonlp.gpt.model import GPT, load_gpt
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.checkpoint import read_meta
from nanonlp.training.metrics import MetricsLog, plot_losses
from nanonlp.training.schedule import cosine_lr, param_groups

pytestmark = pytest.mark.usefixtures("torch_one_thread")


MODEL = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.1)


def data(seed=0):
    rng = np.random.default_rng(seed)
    # a learnable pattern (counting mod 11) with some noise
    train = (np.arange(3000) % 11 + (rng.random(3000) < 0.1)).astype(np.uint16) % 11
    val = (np.arange(500) % 11).astype(np.uint16)
    return TokenData({"train": train, "val": val}, block_size=8, vocab_size=11)


def trainer(tmp_path, steps, resume=None, **kw):
    kw.setdefault("log_interval", 1)  # every step's loss, so runs compare step by step
    cfg = TrainConfig(max_steps=steps, batch_size=4, grad_accum=2, lr=1e-2, warmup_steps=2,
                      decay_steps=10, eval_interval=3, eval_steps=2, device="cpu",
                      out=str(tmp_path), **kw)
    model = GPT(MODEL, torch.Generator().manual_seed(0))
    return Trainer(model, data(), cfg, kind="gpt", model_config=MODEL.to_dict(),
                   resume_from=resume)


def test_cosine_schedule_shape():
    lrs = [cosine_lr(s, 1.0, 0.1, 10, 100) for s in range(120)]
    assert lrs[9] == pytest.approx(10 / 11) and lrs[10] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert lrs[100] == lrs[119] == 0.1
    assert cosine_lr(55, 1.0, 0.1, 10, 100) == pytest.approx(0.55)


def test_param_groups_decay_matrices_only():
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16,
                          bias=True))
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0
    n = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())  # tied weight counted once


def test_loss_falls_and_records(tmp_path):
    t = trainer(tmp_path, 9)
    recs = list(t.run())
    assert [r.step for r in recs] == list(range(1, 10))
    assert recs[-1].loss < recs[0].loss
    assert [r.step for r in recs if r.eval] == [3, 6, 9]
    assert recs[0].tokens == 4 * 2 * 8 and recs[0].tokens_per_s > 0
    assert (tmp_path / "best" / "model.safetensors").exists()
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for r in recs:
        log.add(r.to_json())
    log.flush()
    assert len(MetricsLog(tmp_path / "metrics.jsonl", resume_step=6).records) == 6
    assert plot_losses(log.records, tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_equals_uninterrupted(tmp_path):
    full = [r.loss for r in trainer(tmp_path / "a", 8).run()]
    first = trainer(tmp_path / "b", 6)  # evaluates (and saves last/) at step 6
    assert [r.loss for r in first.run()] == full[:6]
    meta = read_meta(tmp_path / "b" / "last", "gpt")
    assert meta["state"]["step"] == 6
    resumed = trainer(tmp_path / "c", 8, resume=tmp_path / "b" / "last")
    assert resumed.step == 6
    assert [r.loss for r in resumed.run()] == full[6:]  # dropout and batches replay exactly


def test_ctrl_c_saves_then_resumes_exactly(tmp_path):
    full = [r.loss for r in trainer(tmp_path / "a", 5).run()]
    t = trainer(tmp_path / "b", 5, save_interval=0)
    real_batch, calls = t.data.batch, {"n": 0}

    def interrupted(split, n, g):  # Ctrl-C during the 2nd micro-batch of step 4
        if split == "train":
            calls["n"] += 1
            if calls["n"] == 10:
                raise KeyboardInterrupt
        return real_batch(split, n, g)

    t.data.batch = interrupted
    with pytest.raises(KeyboardInterrupt):
        for _ in t.run():
            pass
    assert read_meta(tmp_path / "b" / "last")["state"]["step"] == 3  # evals draw too
    resumed = trainer(tmp_path / "c", 5, resume=tmp_path / "b" / "last")
    assert [r.loss for r in resumed.run()] == full[3:]


def test_checkpoint_reload_gives_same_logits(tmp_path):
    t = trainer(tmp_path, 3)
    list(t.run())
    model = load_gpt(tmp_path / "last")
    x = torch.arange(8)[None] % 11
    t.model.eval()
    assert torch.equal(model(x)[0], t.model(x)[0])
    cfg = json.loads((tmp_path / "last" / "config.json").read_text())
    assert cfg["aliases"] == {"lm_head.weight": "transformer.wte.weight"}


def test_bad_checkpoints(tmp_path):
    t = trainer(tmp_path, 3)
    list(t.run())
    last = tmp_path / "last"
    # another model kind
    meta = json.loads((last / "config.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({**meta, "kind": "bert"}))
    with pytest.raises(DataError, match=r"a 'bert' checkpoint, not a 'gpt' one"):
        load_gpt(other)
    # another GPT shape: resuming refuses, naming the field
    with pytest.raises(DataError, match=r"checkpoint is for another model \(n_embd = 16"):
        cfg = TrainConfig(max_steps=4, device="cpu", out=str(tmp_path / "x"))
        big = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=32, dropout=0.1)
        Trainer(GPT(big), data(), cfg, kind="gpt", model_config=big.to_dict(), resume_from=last)
    # truncated weights
    blob = (last / "model.safetensors").read_bytes()
    (last / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"model.safetensors: corrupt safetensors file"):
        load_gpt(last)
    (last / "config.json").write_text("{not json")
    with pytest.raises(DataError, match=r"corrupt checkpoint config"):
        load_gpt(last)
    with pytest.raises(DataError, match=r"no such checkpoint folder"):
        load_gpt(tmp_path / "nowhere")


def test_train_config_errors():
    with pytest.raises(ConfigError, match=r"batch_size must be >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match=r"unknown device 'tpu'"):
        TrainConfig(device="tpu")
    with pytest.raises(ConfigError, match=r"min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)


def test_divergence_is_reported(tmp_path):
    t = trainer(tmp_path, 3)
    with torch.no_grad():
        t.model.transformer.wte.weight.fill_(math.nan)
    with pytest.raises(DataError, match=r"training diverged at step 1"):
        list(t.run())


def test_divergence_keeps_last_good_checkpoint(tmp_path):
    # last/ is saved at step 3 (eval); step 4's loss is NaN and its NaN gradients are stepped
    # into the weights: last/ must stay the finite step-3 state, not be overwritten
    t = trainer(tmp_path, 8)
    forward, boom = t.model.forward, []

    def nan_forward(idx, targets=None):
        logits, loss = forward(idx, targets=targets)
        return logits, loss * math.nan if boom else loss

    t.model.forward = nan_forward
    with pytest.raises(DataError, match=r"diverged at step 4 \(loss nan\).*last keeps step 3"):
        for rec in t.run():
            if rec.step == 3:
                boom.append(True)
    assert read_meta(tmp_path / "last")["state"]["step"] == 3
    model = load_gpt(tmp_path / "last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer(tmp_path / "again", 8, resume=tmp_path / "last").step == 3


def test_failed_save_leaves_previous_checkpoint_whole(tmp_path, monkeypatch):
    from nanonlp.training import checkpoint as ckpt

    t = trainer(tmp_path, 3)
    list(t.run())
    before = {k: v.clone() for k, v in load_gpt(tmp_path / "last").state_dict().items()}
    real = ckpt.write_tensors

    def disk_full(path, tensors):
        if path.name == "optimizer.safetensors":  # after model.safetensors was written
            raise OSError(28, "No space left on device")
        real(path, tensors)

    monkeypatch.setattr(ckpt, "write_tensors", disk_full)
    with torch.no_grad():
        for p in t.model.parameters():
            p.zero_()
    t.step = 99
    with pytest.raises(OSError, match="No space left"):
        t.save("last")
    assert read_meta(tmp_path / "last")["state"]["step"] == 3
    after = load_gpt(tmp_path / "last").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(ckpt, "write_tensors", real)
    assert trainer(tmp_path / "again", 4, resume=tmp_path / "last").step == 3
    t.save("last")  # a save that succeeds replaces the folder whole
    assert read_meta(tmp_path / "last")["state"]["step"] == 99
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("key, value, message", [
    ("version", "2", r"'version' must be an integer, got '2'"),
    ("aliases", [], r"'aliases' must be an object, got \[\]"),
    ("model_config", None, r"'model_config' must be an object, got None"),
    ("state", {}, r"bad training state \{\}"),
])
def test_checkpoint_config_of_wrong_types(tmp_path, key, value, message):
    t = trainer(tmp_path, 3)
    list(t.run())
    cfg = tmp_path / "last" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), key: value}))
    with pytest.raises(DataError, match=r"last/config.json: " + message):
        trainer(tmp_path / "again", 4, resume=tmp_path / "last")


def test_unknown_device_is_a_config_error():
    from nanonlp.training.device import pick_device

    for name in ("foo", "cuda:x", ""):
        with pytest.raises(ConfigError, match=rf"unknown device {name!r}"):
            pick_device(name)


def test_bfloat16_autocast_on_the_cpu(tmp_path, monkeypatch):
    import warnings

    from nanonlp.training import device

    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="float16 is for CUDA"):
        device.pick_dtype("float16", cpu)
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert device.pick_dtype("bfloat16", cpu) == torch.bfloat16
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = trainer(tmp_path, 6, dtype="bfloat16")
    assert t.dtype == torch.bfloat16
    recs = list(t.run())
    assert recs[-1].loss < recs[0].loss  # it trains; the weights and checkpoints stay float32
    assert all(p.dtype == torch.float32 for p in load_gpt(tmp_path / "last").parameters())
    with torch.no_grad():
        x = torch.zeros(1, 8, dtype=torch.long)
        with device.autocast(cpu, torch.bfloat16):
            assert t.model(x)[0].dtype == torch.bfloat16  # the forward ran in bfloat16


def test_log_interval_reads_the_loss_at_log_and_save_steps_only(tmp_path):
    """The loss stays on the device between log steps (no host sync per step); the steps it
    is read at show exactly what reading it every step shows."""
    every = list(trainer(tmp_path / "a", 9).run())
    sparse = list(trainer(tmp_path / "b", 9, log_interval=4).run())
    logged = [r.step for r in sparse if r.loss is not None]
    assert logged == [1, 3, 4, 6, 8, 9]  # the first, every 4th, and the evaluated (saved) ones
    for a, b in zip(every, sparse, strict=True):
        if b.loss is not None:
            assert b.loss == a.loss and b.grad_norm == a.grad_norm and b.tokens_per_s > 0
        else:
            assert b.grad_norm is None and b.tokens_per_s is None
    assert torch.equal(load_gpt(tmp_path / "a" / "last").transformer.wte.weight,
                       load_gpt(tmp_path / "b" / "last").transformer.wte.weight)


class _FakeClock:
    """perf_counter for the budget: each read after a step advances by that step's cost."""

    def __init__(self, cost):
        self.t, self.cost, self.steps = 0.0, cost, 0

    def __call__(self):
        return self.t

    def step_done(self):
        self.steps += 1
        self.t += self.cost(self.steps)


def test_budget_reaims_when_the_machine_speeds_up(tmp_path, monkeypatch):
    """A machine that is slow for the first steps and 4x faster later: fitting max_steps once
    from the first 20 steps would stop at half the budget (the bug BERT's 45-minute
    pretraining hit); re-aiming every `recheck` steps uses the whole budget, and the run still
    ends on an evaluated, saved step."""
    from nanonlp.training import loop

    clock = _FakeClock(lambda step: 1.0 if step <= 20 else 0.25)
    monkeypatch.setattr(loop.time, "perf_counter", clock)
    t = trainer(tmp_path, 10_000)
    records = []
    for rec in t.run(budget_min=100.0 / 60, probe=20, recheck=10):
        records.append(rec)
        clock.step_done()
    # 20 s for the first 20 steps, then 80 s at 0.25 s: about 340 steps in all
    assert 300 <= records[-1].step <= 345
    assert clock.t <= 100.0 + 2 * 0.25  # the budget, plus the one closing step
    assert records[-1].eval is not None and records[-1].saved
    assert t.schedule.warmup_steps <= 2 and t.schedule.eval_interval <= 3  # capped, not raised
    meta = read_meta(tmp_path / "last")
    assert meta["state"]["step"] == records[-1].step
    # the config is left as given; what the run followed is the fitted schedule, and that is
    # what the checkpoint records
    assert t.config.max_steps == 10_000 and t.config.warmup_steps == 2
    assert meta["train_config"]["max_steps"] == t.used_config().max_steps == records[-1].step


def test_a_spent_budget_still_ends_on_an_evaluated_saved_step(tmp_path):
    records = list(trainer(tmp_path, 100).run(budget_min=0.0))
    assert [r.step for r in records] == [1, 2] and records[-1].eval and records[-1].saved
    with pytest.raises(ConfigError, match="budget_min must be a number >= 0, got nan"):
        list(trainer(tmp_path, 4).run(budget_min=math.nan))


def test_plots_leave_the_matplotlib_backend_alone(tmp_path):
    """Library plots draw on a bare Figure: calling one in a notebook must not switch the
    notebook's backend (matplotlib.use("Agg") inside a library call used to)."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); "
            "from nanonlp.training.metrics import plot_losses; "
            f"plot_losses([{{'step': 1, 'loss': 2.0}}, {{'step': 2, 'loss': 1.0}}], "
            f"{str(tmp_path / 'loss.png')!r}); print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_writes_the_run_folder_and_ctrl_c_says_how_to_resume(tmp_path):
    from nanonlp.training import Interrupted, fit

    t = trainer(tmp_path, 8)
    real, calls = t.data.batch, []

    def interrupted(split, n, g):  # Ctrl-C in step 5 (two micro-batches a step)
        if g is t.generator:  # a training batch, not an evaluation's
            calls.append(1)
            if len(calls) == 9:
                raise KeyboardInterrupt
        return real(split, n, g)

    t.data.batch = interrupted
    said = []
    with pytest.raises(Interrupted, match=rf"interrupted at step 4; saved {tmp_path / 'last'} "
                                          rf"\(resume with --resume {tmp_path / 'last'}\)"):
        fit(t, "test", info={"preset": "x"}, progress=False, say=said.append)
    assert said[0].startswith("test: ") and "step 0 -> 8" in said[0]
    steps = [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    run = json.loads((tmp_path / "train_config.json").read_text())
    assert run["preset"] == "x" and run["train"]["max_steps"] == 8 and run["kind"] == "gpt"
    assert read_meta(tmp_path / "last")["state"]["step"] == 4
    again = trainer(tmp_path, 8, resume=tmp_path / "last")
    result = fit(again, "test", progress=False, say=None)
    assert result.steps == 8 and result.last.step == 8
    steps = [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))  # the log continues as if never interrupted


def test_fit_with_a_budget_records_the_schedule_it_followed(tmp_path):
    from nanonlp.training import fit

    result = fit(trainer(tmp_path, 1000), "test", budget_min=0.0, progress=False, say=None)
    run = json.loads((tmp_path / "train_config.json").read_text())
    assert result.steps == 2 and run["train"]["max_steps"] == 2  # fitted, not the 1000 asked


def test_a_run_that_fails_before_its_first_step_leaves_no_run_config(tmp_path):
    from nanonlp.training import fit

    t = trainer(tmp_path / "run", 4)

    def broken(split, n, g):
        raise DataError("data: broken")

    t.data.batch = broken
    with pytest.raises(DataError):
        fit(t, "test", progress=False, say=None)
    assert not (tmp_path / "run").exists()


def test_tf32_is_turned_on_for_cuda_only():
    from nanonlp.training.device import enable_tf32

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        assert not enable_tf32(torch.device("cpu"))
        assert not torch.backends.cuda.matmul.allow_tf32
        assert enable_tf32(torch.device("cuda"))  # (the flags exist without a GPU too)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
