"""The modern decoder on a CPU (issue #32): what Muon costs per step, and which speedrun
pieces pay at nanoGPT's CPU budget.

(cost)   Milliseconds per optimizer step, AdamW against Muon, on the nanogpt-cpu shape
         (4x4x128, T=64, B=12) and on the GPT-2 124M shape (12x12x768, vocabulary 50,257,
         one 1,024-token row a step: the CPU cannot afford more), both driven by our loop,
         steps alternating so the machine's load falls on both; and the optimizer step
         alone, which is where the difference is (Newton-Schulz: matrix products whose cost
         grows with the parameters, not with the batch).
(recipe) Val loss at the anchor's wall-clock: the anchor is the ``nanogpt-cpu`` preset
         (nanoGPT's README CPU recipe, 2,000 steps; ``benchmarks/gpt.py --nanogpt`` times it
         against the real nanoGPT), and each recipe trains as many steps as fit in the same
         wall-clock (step times calibrated first, interleaved), all runs interleaved by
         progress in one process so a changing machine load falls on all of them alike.
         Scored on the whole validation split (every 64-token window). ``--seeds`` repeats it;
         ``--ablate`` also runs the recipe with each of its pieces taken back out.
         ``--nanogpt DIR`` first runs the real nanoGPT's README command (as
         ``benchmarks/gpt.py`` does) for its wall-clock and val loss.

    python benchmarks/gpt_modern.py cost [--quick] [--record]
    python benchmarks/gpt_modern.py recipe [--seeds 1 2 3] [--ablate] [--nanogpt DIR]
                                           [--quick] [--record]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from gpt import nanogpt_run, val_loss
from harness import data_dir, interleave, parser, record, result

from nanonlp.gpt.config import GPTConfig, presets
from nanonlp.gpt.data import PrepareConfig, TokenData, prepare
from nanonlp.gpt.model import GPT
from nanonlp.training import TrainConfig, Trainer

RECIPE = "cpu-muon"
#: the pieces of the recipe an ablation takes out one at a time: name -> (model, train)
#: fields that undo it (what cpu-modern, the AdamW recipe it grew from, has there)
PIECES = {
    "muon": ({}, {"optimizer": "adamw"}),
    "batch 24": ({}, {"batch_size": 12}),
    "3 layers": ({"n_layer": 4}, {}),
}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def trainer_for(model: dict, train: dict, data: Path, steps: int, out: Path, seed: int,
                vocab: int) -> tuple[Trainer, TokenData]:
    mcfg = GPTConfig(**{**model, "vocab_size": vocab})
    mdata = TokenData.load(data, mcfg.block_size)
    train = {k: v for k, v in train.items() if k not in ("max_steps", "decay_steps")}
    train["warmup_steps"] = min(train.get("warmup_steps", 100), steps // 10)
    cfg = TrainConfig(**{**train, "max_steps": steps, "decay_steps": steps,
                         "eval_interval": steps + 1, "device": "cpu", "out": str(out),
                         "seed": seed})
    gpt = GPT(mcfg, torch.Generator().manual_seed(seed))
    return Trainer(gpt, mdata, cfg, kind="gpt", model_config={}), mdata


def race(recipes: dict[str, tuple[dict, dict]], anchor_steps: int, data: Path, vocab: int,
         seed: int, tmp: Path, calibrate: int) -> dict[str, dict]:
    """Anchor (nanogpt-cpu, ``anchor_steps``) and every recipe at the anchor's wall-clock."""
    anchor = presets("nanogpt-cpu")
    everyone = {"anchor": (anchor["model"], anchor["train"]), **recipes}
    cal = {}
    for name, (model, train) in everyone.items():
        t, _ = trainer_for(model, train, data, 100_000, tmp / f"cal-{name}", seed, vocab)
        cal[name] = {"it": t.run(), "done": 0, "steps": 5 + calibrate, "seconds": 0.0}
    interleave({n: {**r, "steps": 5} for n, r in cal.items()})  # warm-up, not timed
    for r in cal.values():
        r["done"], r["seconds"], r["steps"] = 0, 0.0, calibrate
    interleave(cal)
    per_step = {n: r["seconds"] / r["done"] for n, r in cal.items()}
    del cal
    runs = {}
    for name, (model, train) in everyone.items():
        # 3 % margin: the final evaluation and timing noise must not push a recipe over
        steps = anchor_steps if name == "anchor" else \
            int(anchor_steps * per_step["anchor"] / per_step[name] * 0.97)
        t, mdata = trainer_for(model, train, data, steps, tmp / f"{name}-{seed}", seed, vocab)
        runs[name] = {"trainer": t, "data": mdata, "it": t.run(), "seconds": 0.0,
                      "steps": steps, "done": 0, "ms_calibrated": 1000 * per_step[name]}
    interleave(runs)
    for name, r in runs.items():
        r["val"] = val_loss(r["trainer"].model, r["data"])
        print(f"seed {seed} {name}: {r['steps']} steps, {r['seconds']:.1f} s, val "
              f"{r['val']:.4f} (dtype {str(r['trainer'].dtype)[6:]})", flush=True)
    return runs


def ablations() -> dict[str, tuple[dict, dict]]:
    """The recipe, and the recipe without each of its pieces."""
    p = presets(RECIPE)
    out = {RECIPE: (p["model"], p["train"])}
    for piece, (model, train) in PIECES.items():
        out[f"{RECIPE} without {piece}"] = ({**p["model"], **model}, {**p["train"], **train})
    return out


def recipe_part(args, tmp: Path, meta: dict) -> list[dict]:
    rows = []
    anchor_steps = args.anchor_steps or (300 if args.quick else 2000)
    if args.nanogpt:
        print(f"load average before nanoGPT: {load_average()}", flush=True)
        s, v, commit = nanogpt_run(args.nanogpt.resolve(), tmp, anchor_steps)
        print(f"real nanoGPT {commit}: {s:.1f} s, val {v:.4f} (20 batches)", flush=True)
        real = (s, v, f"real nanoGPT (karpathy/nanoGPT {commit}), README CPU command")
    recipes = ablations() if args.ablate else {RECIPE: ablations()[RECIPE]}
    for name, v in json.loads(args.variants or "{}").items():
        base = presets(v.get("base", RECIPE))
        recipes[name] = ({**base["model"], **v.get("model", {})},
                         {**base["train"], **v.get("train", {})})
    if args.only_variants:
        recipes = {k: v for k, v in recipes.items() if k != RECIPE}
    results: dict[str, list[dict]] = {}
    loads = []
    for seed in args.seeds:
        loads.append(load_average())
        runs = race(recipes, anchor_steps, tmp / "data", meta["vocab_size"], seed, tmp,
                    10 if args.quick else 40)
        for name, r in runs.items():
            results.setdefault(name, []).append(r)
    loads.append(load_average())
    anchor_vals = [r["val"] for r in results["anchor"]]
    for name, rs in results.items():
        vals = [r["val"] for r in rs]
        spread = f"{min(vals):.4f}-{max(vals):.4f}"
        case = (f"tinyshakespeare char at the anchor's wall-clock ({anchor_steps} nanogpt-cpu "
                f"steps), seeds {' '.join(map(str, args.seeds))}")
        rows.append(result(
            "gpt", case, f"val_loss {name}", statistics.mean(vals), statistics.mean(anchor_vals),
            "nanogpt-cpu preset (nanoGPT CPU recipe), same seeds", better="lower",
            seeds=len(vals), spread=spread,
            steps=round(statistics.mean(r["steps"] for r in rs)),
            ms_per_step=round(statistics.mean(r["ms_calibrated"] for r in rs), 1),
            wall_s=round(statistics.mean(r["seconds"] for r in rs), 1),
            anchor_wall_s=round(statistics.mean(r["seconds"] for r in results["anchor"]), 1)))
    if args.nanogpt and RECIPE in results:  # the budget, and the recipe beside the real one
        s, v, name = real
        case = f"{anchor_steps} iterations, 1 thread, seeds {' '.join(map(str, args.seeds))}"
        rows.append(result("gpt", case, "wall_s: nanogpt-cpu preset (the budget) vs nanoGPT",
                           statistics.mean(r["seconds"] for r in results["anchor"]), s,
                           f"{name}, process wall-clock", better="lower"))
        rows.append(result("gpt", case, f"val: {RECIPE} (full validation) vs nanoGPT (its 20 "
                           "batches)", statistics.mean(r["val"] for r in results[RECIPE]), v,
                           name, better="lower"))
    print(f"CPU {cpu_model()}; load average at each seed's start and at the end: "
          f"{' | '.join(loads)}", flush=True)
    return rows


def step_ms(trainers: dict[str, Trainer], steps: int, warmup: int) -> dict[str, float]:
    its = {n: t.run() for n, t in trainers.items()}
    times: dict[str, list[float]] = {n: [] for n in trainers}
    for k in range(warmup + steps):
        for n, it in its.items():
            t0 = time.perf_counter()
            next(it)
            if k >= warmup:
                times[n].append(1000 * (time.perf_counter() - t0))
    return {n: statistics.median(t) for n, t in times.items()}


def optimizer_ms(trainer: Trainer, repeats: int) -> float:
    """The optimizer step alone, on gradients already in place."""
    for p in trainer.model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        trainer.optimizer.step()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times[1:])


def cost_part(args, tmp: Path, meta: dict) -> list[dict]:
    rows = []
    shapes = {
        "nanogpt-cpu shape (4x4x128, T=64, B=12)":
            ({**presets("nanogpt-cpu")["model"], "vocab_size": meta["vocab_size"]},
             {"batch_size": 12}, 10 if args.quick else 60),
        "GPT-2 124M shape (12x12x768, V=50257, T=1024, B=1)":
            ({**presets("gpt2")["model"], "vocab_size": 50257}, {"batch_size": 1},
             2 if args.quick else 4),
    }
    for case, (model, train, steps) in shapes.items():
        mcfg = GPTConfig(**model)
        data = TokenData.load(tmp / "data", mcfg.block_size) if mcfg.vocab_size < 1000 \
            else TokenData({s: torch.randint(0, 50257, (20_000,), generator=torch.Generator()
                                             .manual_seed(0)).numpy().astype("uint16")
                            for s in ("train", "val")}, mcfg.block_size, 50257)
        trainers = {}
        for opt in ("adamw", "muon"):
            cfg = TrainConfig(**{**presets("nanogpt-cpu")["train"], **train, "max_steps": 10_000,
                                 "decay_steps": None, "eval_interval": 100_000,
                                 "device": "cpu", "dtype": "float32", "optimizer": opt,
                                 "out": str(tmp / f"cost-{opt}")})
            trainers[opt] = Trainer(GPT(mcfg), data, cfg, kind="gpt", model_config={})
        load = load_average()
        ms = step_ms(trainers, steps, warmup=1 if steps < 10 else 5)
        opt_ms = {n: optimizer_ms(t, 3 if steps < 10 else 20) for n, t in trainers.items()}
        print(f"{case}: step {ms}, optimizer alone {opt_ms}, load {load}", flush=True)
        rows.append(result("gpt", case, "ms_per_step (float32, 1 thread)", ms["muon"],
                           ms["adamw"], "AdamW (torch fused), same model and loop",
                           better="lower", muon="ours", load_average=load))
        rows.append(result("gpt", case, "optimizer step alone, ms", opt_ms["muon"],
                           opt_ms["adamw"], "AdamW (torch fused)", better="lower"))
        del trainers
    return rows


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("part", choices=("cost", "recipe"))
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--ablate", action="store_true")
    p.add_argument("--nanogpt", type=Path, metavar="DIR")
    p.add_argument("--variants", help='more recipes, JSON {name: {"base": preset, "model": '
                   '{...}, "train": {...}}} (base: the recipe)')
    p.add_argument("--only_variants", action="store_true", help="race the variants only")
    p.add_argument("--anchor_steps", type=int, help="(exploring) fewer than 2,000 steps")
    args = p.parse_args()
    data_dir()
    torch.set_num_threads(1)  # as benchmarks/gpt.py: one thread for every side
    tmp = Path(tempfile.mkdtemp(prefix="nanonlp-gpt-modern-"))
    meta = prepare(PrepareConfig(source="tinyshakespeare", out=str(tmp / "data")))
    rows = (cost_part if args.part == "cost" else recipe_part)(args, tmp, meta)
    if args.record:
        record(f"gpt-modern-{args.part}", rows, notes=(
            f"CPU {cpu_model()}, torch limited to 1 thread, a 2-core machine shared with other "
            "jobs (load average printed in the run's log)."))


if __name__ == "__main__":
    main()
