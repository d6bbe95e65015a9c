"""GPU benchmark (issues #21 and #32): ours against the real programs, on one CUDA device.

Everything on: bfloat16 autocast, ``torch.compile`` (a, b), SDPA attention, fused AdamW, TF32.

(a) GPT-2 124M shape (12 x 12 x 768, block 1024, batch 12, vocabulary 50,304, no biases),
    random tokens: our GPT and optimizer against nanoGPT's own ``bench.py --real_data=False``,
    both compiled, 10 warm-up then 20 timed steps each (bench.py's own loop). ms per step,
    tokens/s, and MFU for both with one formula (nanoGPT's ``estimate_mfu``: 6N + 12 L H Q T
    flops a token) against ``--peak-tflops`` (H200 bfloat16 dense: 989.4). Three rows of ours
    against the one bench.py figure: with AdamW (bench.py's optimizer); with Muon, the same
    compiled model and only the optimizer changed (made as the Trainer makes it for the
    ``gpt2-muon`` preset: ``make_optimizer``, Newton-Schulz in bfloat16), which is Muon's
    cost; and the ``gpt2-muon`` preset's model (rotary, QK-norm) with Muon. ~3.5 min (a second
    compile for the preset's model).
(b) tinyshakespeare, characters, nanoGPT's GPU recipe (``config/train_shakespeare_char.py``):
    wall-clock from process start to the first evaluation with val loss <= ``--target-val``,
    nanoGPT's ``train.py`` (compiled) against our ``shakespeare-char-muon`` preset (issue
    #32's target: <= 0.5x nanoGPT's time; stopped at nanoGPT's own time, past which it cannot
    meet it) and our ``shakespeare-char`` preset, ours compiled too, each stopped at the target
    or at ``--max-seconds``. ~5-6 min.
(c) BERT MLM at BERT-base shape (12 x 12 x 768, 128 tokens, batch 64, 15% of positions
    scored): tokens/s, ours against ``transformers.BertForMaskedLM`` (SDPA), both eager. ~1 min.
(d) seq2seq: training steps/s of our GRU encoder-decoder (batch 64, 30 tokens each side), on
    the GPU against this machine's CPU. ~0.5 min.
(e) ``pytest tests/test_gpu.py`` (printed, and noted with --record).

On a lent device, with the data and a nanoGPT copy carried in the ignored folder ``.gpu/``
(made here first: ``mkdir -p .gpu/data/tinyshakespeare .gpu/nanoGPT``, copy the shared
``tinyshakespeare/input.txt`` there, ``git --git-dir=NANOGPT_GIT archive HEAD | tar -x -C
.gpu/nanoGPT``), the device tool's ``run`` with ``carry=[".gpu"]`` and::

    PYTHONPATH=src python3 benchmarks/gpu.py --data .gpu/data --nanogpt .gpu/nanoGPT \
        [--parts abcde] [--record]

Parts a-e take ~11-12 minutes on an H200 (estimated: the Muon rows have not run on a GPU),
plus the machine's start: three calls fit the device's per-call limit (``--parts ae --save
$OUT/gpu-1.json``, ``--parts b --save $OUT/gpu-2.json``, ``--parts cd --save
$OUT/gpu-3.json``); a session with less device time runs the first two (the issue #32
rows) first. Keep the files in ``benchmarks/results/`` and record them here with ``python
benchmarks/gpu.py --from benchmarks/results/gpu-1.json,benchmarks/results/gpu-2.json,...
--record``.

``--quick --device cpu`` runs every part tiny on the CPU (no compile; (a)'s anchor needs CUDA),
only to check the script.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from gpt import nanogpt_copy
from harness import ROOT, parser, record, result

from nanonlp.training.device import autocast, enable_tf32
from nanonlp.training.schedule import make_optimizer

NAME = "gpu"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_seconds(model, batch, device, steps: int, warmup: int, lr: float = 1e-4,
                 **optimizer) -> float:
    """Seconds per optimizer step, bench.py's loop: forward in bfloat16 autocast, backward,
    fused AdamW (or what ``optimizer``, make_optimizer's keywords, asks for: Muon), the loss
    read back every step."""
    opt = make_optimizer(model, lr, 1e-2, (0.9, 0.95), **optimizer)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def train(n: int) -> None:
        for _ in range(n):
            with autocast(device, dtype):
                loss = model(*batch)[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()

    train(warmup)
    sync(device)
    t0 = time.perf_counter()
    train(steps)
    sync(device)
    return (time.perf_counter() - t0) / steps


def mfu(n_params: int, n_layer: int, n_head: int, n_embd: int, T: int, tokens_per_s: float,
        peak_tflops: float) -> float:
    """nanoGPT's estimate (PaLM, appendix B): 6N + 12 L H Q T flops a token."""
    flops_per_token = 6 * n_params + 12 * n_layer * n_head * (n_embd // n_head) * T
    return flops_per_token * tokens_per_s / (peak_tflops * 1e12)


def part_a(args, device, tmp: Path) -> list[dict]:
    from nanonlp.gpt.config import GPTConfig, presets
    from nanonlp.gpt.model import GPT
    from nanonlp.training.config import TrainConfig

    B, T, L, H, C = (2, 64, 2, 2, 64) if args.quick else (12, 1024, 12, 12, 768)
    shape = dict(vocab_size=50304, block_size=T, n_layer=L, n_head=H, n_embd=C, dropout=0.0)
    x, y = (torch.randint(50304, (B, T), device=device) for _ in range(2))
    # Muon as the Trainer builds it for gpt2-muon (make_optimizer; Newton-Schulz in bfloat16
    # on CUDA, make_muon's default and the Trainer's choice there)
    tcfg = TrainConfig(**presets("gpt2-muon")["train"])
    muon = dict(optimizer="muon", muon_lr=tcfg.muon_lr, muon_momentum=tcfg.muon_momentum)

    # nanoGPT's model: no biases (bench.py's default), nn.GELU() (the erf form)
    model = GPT(GPTConfig(**shape, bias=False, activation="gelu")).to(device)
    engine = model if args.quick else torch.compile(model)
    timed = {"AdamW": (model.num_params(), 1000 * step_seconds(engine, (x, y), device, 20, 10))}
    # the same compiled model, only the optimizer changed: Muon's cost, nothing else
    timed["Muon"] = (model.num_params(),
                     1000 * step_seconds(engine, (x, y), device, 20, 10, **muon))
    del model, engine  # (two 124M models and their optimizer states need not share the card)
    preset = {**presets("gpt2-muon")["model"], **shape}
    model = GPT(GPTConfig(**preset)).to(device)
    engine = model if args.quick else torch.compile(model)
    timed["preset"] = (model.num_params(),
                       1000 * step_seconds(engine, (x, y), device, 20, 10, **muon))
    del model, engine

    theirs_ms = float("nan")
    if device.type == "cuda":  # (bench.py calls torch.cuda.synchronize unconditionally)
        (tmp / "a").mkdir()
        repo = nanogpt_copy(args.nanogpt, tmp / "a")
        out = run([sys.executable, "bench.py", "--real_data=False", "--compile=True",
                   f"--batch_size={B}", f"--block_size={T}"], repo)
        theirs_ms = float(re.findall(r"time per iteration: ([\d.]+)ms", out)[-1])
    base = f"GPT-2 124M shape ({L}x{H}x{C}, T={T}, B={B}), random tokens, compiled, bf16"
    cases = {"AdamW": f"{base}, with AdamW",
             "Muon": f"{base}, with Muon",
             "preset": f"{base}, gpt2-muon preset (rotary, QK-norm), with Muon"}
    name = "karpathy/nanoGPT bench.py"
    n_theirs = timed["AdamW"][0]  # nanoGPT's count (no position table) of the same model
    rows = []
    for key, (n, ours_ms) in timed.items():
        tok_s = (B * T / (ours_ms / 1000), B * T / (theirs_ms / 1000))
        fit = [mfu(k, L, H, C, T, t, args.peak_tflops) for k, t in zip((n, n_theirs), tok_s)]
        rows += [result(NAME, cases[key], "ms_per_step", ours_ms, theirs_ms, name),
                 result(NAME, cases[key], "tokens_per_s", *tok_s, name, better="higher"),
                 result(NAME, cases[key], f"MFU (peak {args.peak_tflops:g} TFLOPS)", *fit,
                        name, better="higher")]
    return rows


def part_b(args, device, tmp: Path) -> list[dict]:
    from nanonlp.gpt.data import PrepareConfig, prepare

    text = (args.data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    quick = ["--device=cpu", "--compile=False", "--max_iters=40", "--lr_decay_iters=40",
             "--eval_interval=20", "--eval_iters=2", "--n_layer=2", "--n_head=2",
             "--n_embd=64", "--block_size=32", "--batch_size=4"] if args.quick else []
    target = 99.0 if args.quick else args.target_val
    (tmp / "b").mkdir()
    repo = nanogpt_copy(args.nanogpt, tmp / "b")
    (repo / "data" / "shakespeare_char" / "input.txt").write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "data/shakespeare_char/prepare.py"], cwd=repo, check=True,
                   capture_output=True)
    theirs = first_below(
        [sys.executable, "-u", "train.py", "config/train_shakespeare_char.py", *quick], repo,
        r"step (\d+): train loss [\d.]+, val loss ([\d.]+)", target, args.max_seconds)

    (tmp / "input.txt").write_text(text, encoding="utf-8")  # (prepared outside the timing,
    prepare(PrepareConfig(source=str(tmp / "input.txt"), out=str(tmp / "ours-data")))  # too)
    name = "karpathy/nanoGPT train.py"
    rows = []
    # Muon first: it is the target (<= 0.5x nanoGPT's time). Past nanoGPT's own time
    # it cannot meet it, so it stops there, which keeps part b inside one device call
    limit = min(args.max_seconds, theirs[0]) if theirs[2] >= 0 else args.max_seconds
    for preset, seconds in (("shakespeare-char-muon", limit),
                            ("shakespeare-char", args.max_seconds)):
        ours = to_target(args, device, tmp, preset, target, seconds)
        case = (f"tinyshakespeare char, nanoGPT GPU recipe, to val <= {target:g}, {preset} "
                f"(ours at step {ours[2]}, nanoGPT at iteration {theirs[2]})")
        rows += [result(NAME, case, "wall_s_to_target", ours[0], theirs[0], name),
                 result(NAME, case, "val_loss_there", ours[1], theirs[1], name)]
    return rows


def to_target(args, device, tmp: Path, preset: str, target: float, limit: float
              ) -> tuple[float, float, int]:
    """Train our GPT (``preset``, compiled) on the prepared ``tmp/ours-data`` until an
    evaluation's val loss is <= target, or for ``limit`` seconds: (seconds from building the
    trainer, that val loss, the step), nan and -1 if never."""
    from nanonlp.gpt.train import make_trainer

    t0 = time.perf_counter()
    small = dict(model=dict(n_layer=2, n_head=2, n_embd=64, block_size=32)) if args.quick \
        else {}
    train = dict(device=str(device), compile=not args.quick, out=str(tmp / f"run-{preset}"))
    if args.quick:
        train.update(max_steps=40, decay_steps=40, warmup_steps=10, eval_interval=20,
                     eval_steps=2, batch_size=4)
    trainer = make_trainer(tmp / "ours-data", preset, train=train, **small)
    for r in trainer.run():
        if r.eval and r.eval["val"] <= target:
            return time.perf_counter() - t0, r.eval["val"], r.step
        if time.perf_counter() - t0 > limit:
            break
    return float("nan"), float("nan"), -1


def part_c(args, device) -> list[dict]:
    from transformers import BertConfig as HFConfig
    from transformers import BertForMaskedLM as HFBert

    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertForMaskedLM

    B, T, L, H, C, V = (4, 32, 2, 2, 64, 1000) if args.quick else (64, 128, 12, 12, 768, 30522)
    ours = BertForMaskedLM(BertConfig(vocab_size=V, block_size=512, n_layer=L, n_head=H,
                                      n_embd=C)).to(device)
    hf = HFBert(HFConfig(vocab_size=V, hidden_size=C, num_hidden_layers=L,
                         num_attention_heads=H, intermediate_size=4 * C,
                         attn_implementation="sdpa")).to(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(4, V, (B, T), generator=g)
    scored = torch.rand(B, T, generator=g) < 0.15
    y = torch.where(scored, x, -1)
    x, y = x.to(device), y.to(device)

    class HFAdapter(torch.nn.Module):  # our contract: forward(idx, targets) -> (logits, loss)
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, idx, targets):
            out = self.m(input_ids=idx, labels=targets.masked_fill(targets < 0, -100))
            return out.logits, out.loss

    steps, warm = (3, 1) if args.quick else (30, 10)
    ours_s = step_seconds(ours, (x, None, y), device, steps, warm)
    hf_s = step_seconds(HFAdapter(hf), (x, y), device, steps, warm)
    case = f"BERT MLM ({L}x{H}x{C}, T={T}, B={B}, 15% scored), eager, bf16"
    return [result(NAME, case, "tokens_per_s", B * T / ours_s, B * T / hf_s,
                   "transformers BertForMaskedLM (sdpa)", better="higher")]


def part_d(args, device) -> list[dict]:
    from nanonlp.seq2seq.config import Seq2SeqConfig
    from nanonlp.seq2seq.model import Seq2Seq

    B, T, V = (4, 8, 100) if args.quick else (64, 30, 8000)
    g = torch.Generator().manual_seed(0)
    batch = [torch.randint(4, V, (B, T), generator=g) for _ in range(3)]  # src, tgt_in, tgt_out
    rates = []
    for dev in (device, torch.device("cpu")):
        model = Seq2Seq(Seq2SeqConfig(src_vocab=V, tgt_vocab=V), g).to(dev)
        steps = 3 if args.quick or dev.type == "cpu" else 50
        rates.append(1 / step_seconds(model, [b.to(dev) for b in batch], dev, steps, 2))
    case = f"seq2seq GRU + attention (defaults, B={B}, T={T}, vocab {V})"
    return [result(NAME, case, "steps_per_s", *rates, f"ours on this machine's CPU "
                   f"({torch.get_num_threads()} threads)", better="higher")]


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def first_below(cmd: list[str], cwd: Path, pattern: str, target: float, limit: float
                ) -> tuple[float, float, int]:
    """Run ``cmd`` until a line matches ``pattern`` (step, value) with value <= target, or for
    ``limit`` seconds: (seconds from the start, the value, the step), nan and -1 if never."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    found = (float("nan"), float("nan"), -1)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        m = re.search(pattern, line)
        if m and float(m.group(2)) <= target:
            found = (time.perf_counter() - t0, float(m.group(2)), int(m.group(1)))
            break
        if time.perf_counter() - t0 > limit:
            break
    proc.kill()
    if proc.wait() not in (0, -9) and found[2] < 0:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{''.join(lines[-30:])}")
    return found


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path(os.environ.get("NANONLP_DATA", "")),
                   help="the shared data folder (tinyshakespeare/input.txt is used)")
    p.add_argument("--nanogpt", type=Path, metavar="DIR",
                   help="a checkout of karpathy/nanoGPT, or its bare git folder (parts a, b)")
    p.add_argument("--parts", default="abcde", help="which parts to run (default: abcde)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--peak-tflops", type=float, default=989.4,
                   help="the device's dense bfloat16 peak, for MFU (H200 SXM: 989.4)")
    p.add_argument("--target-val", type=float, default=1.47)
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="(b): stop each run here if it has not reached the target")
    p.add_argument("--save", type=Path, help="also write the rows to this JSON file")
    p.add_argument("--from", dest="from_", metavar="A.json,B.json",
                   help="run nothing: take the rows of earlier --save files (to --record)")
    args = p.parse_args()
    if args.from_:
        saved = [json.loads(Path(f).read_text()) for f in args.from_.split(",")]
        rows = [r for s in saved for r in s["rows"]]
        if args.record:
            record(NAME, rows, notes=" ".join(dict.fromkeys(s["notes"] for s in saved)))
        return
    if args.nanogpt is None and set(args.parts) & {"a", "b"}:
        p.error("parts a and b run nanoGPT: give --nanogpt DIR")
    if "b" in args.parts and not (args.data / "tinyshakespeare" / "input.txt").is_file():
        p.error(f"part b needs {args.data / 'tinyshakespeare' / 'input.txt'}: give --data DIR")
    device = torch.device(args.device)
    enable_tf32(device)
    rows: list[dict] = []
    tests = ""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "e" in args.parts:
            out = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_gpu.py"],
                                 cwd=ROOT, capture_output=True, text=True).stdout
            tests = out.strip().splitlines()[-1] if out.strip() else "(no output)"
            print("tests/test_gpu.py:", tests, flush=True)
        for part, fn in (("a", lambda: part_a(args, device, tmp)),
                         ("b", lambda: part_b(args, device, tmp)),
                         ("c", lambda: part_c(args, device)),
                         ("d", lambda: part_d(args, device))):
            if part in args.parts:
                rows += fn()
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else "no GPU"
    notes = (f"Device: {gpu}, torch {torch.__version__}. "
             + (f"tests/test_gpu.py: {tests}." if tests else ""))
    if args.save:
        args.save.write_text(json.dumps({"rows": rows, "notes": notes}, indent=1))
    if args.record:
        record(NAME, rows, notes=notes)

if __name__ == "__main__":
    main()
