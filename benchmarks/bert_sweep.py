"""BERT pretraining recipes at the CPU budget's step count, on a GPU: which one leaves the MLM's
unigram plateau soonest, and what each buys on SST-2 over random initialisation.

A 60-minute CPU pretraining of the ``tiny`` BERT (2 x 128, sequences of 128, batch 32) takes
about 9,000 steps on this project's 2-core machine. Trying a dozen recipes that way would take
a day of CPU; on one GPU every recipe runs those same 9,000 steps side by side in a few minutes
(the same steps, batches and float32 arithmetic, so the curves are the CPU's, only sooner).

Each recipe: a corpus (``cased``: the unlabelled text of ``benchmarks/bert.py``; ``uncased``:
the same lower-cased; ``tapt``: uncased plus the SST-2 *training* sentences without labels,
task-adaptive pretraining, Gururangan et al. 2020), post- or pre-norm blocks, peak learning
rate and warmup, and the masking rate (BERT's 15%, or 40%: Wettig et al. 2023). Then SST-2
fine-tuning exactly as in ``benchmarks/bert.py`` (1,200 steps of 32, lr 3e-4, seeds 0 and 1),
from the checkpoint and from random initialisation of the same architecture, with the [CLS]
vector or the mean of the tokens as the sentence vector.

    python benchmarks/bert_sweep.py --work /tmp/sweep            # on a CUDA machine
    python benchmarks/bert_sweep.py --from A.json,B.json --record  # record earlier results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from harness import data_dir, parser, record, result

# name: (corpus, prenorm, peak lr, warmup steps, mask rate)
RECIPES = {
    "cased-post-1e-3-m15": ("cased", False, 1e-3, 200, 0.15),  # benchmarks/bert.py before
    "cased-pre-1e-3-m15": ("cased", True, 1e-3, 200, 0.15),
    "uncased-post-1e-3-m15": ("uncased", False, 1e-3, 200, 0.15),
    "uncased-post-5e-4-m15": ("uncased", False, 5e-4, 1000, 0.15),
    "uncased-pre-1e-3-m15": ("uncased", True, 1e-3, 200, 0.15),
    "uncased-pre-2e-3-m15": ("uncased", True, 2e-3, 500, 0.15),
    "uncased-post-1e-3-m40": ("uncased", False, 1e-3, 200, 0.40),
    "uncased-pre-1e-3-m40": ("uncased", True, 1e-3, 200, 0.40),
    "uncased-pre-2e-3-m40": ("uncased", True, 2e-3, 500, 0.40),
    "tapt-pre-1e-3-m40": ("tapt", True, 1e-3, 200, 0.40),
}
REFERENCE = "cased-post-1e-3-m15"
RANDOM_ARMS = ("cased-post-1e-3-m15", "cased-pre-1e-3-m15", "uncased-post-1e-3-m15",
               "uncased-pre-1e-3-m15", "tapt-pre-1e-3-m40")
#: names the first sweeps used (before this script had its final shape)
OLD_NAMES = {"cased-post-1e3": "cased-post-1e-3-m15", "cased-pre-1e3": "cased-pre-1e-3-m15",
             "unc-post-1e3": "uncased-post-1e-3-m15", "unc-post-5e4": "uncased-post-5e-4-m15",
             "unc-pre-1e3": "uncased-pre-1e-3-m15", "pre-1e3-m15": "uncased-pre-1e-3-m15",
             "unc-pre-2e3": "uncased-pre-2e-3-m15", "post-1e3-m40": "uncased-post-1e-3-m40",
             "pre-1e3-m40": "uncased-pre-1e-3-m40", "pre-2e3-m40": "uncased-pre-2e-3-m40",
             "tapt-pre-1e3-m40": "tapt-pre-1e-3-m40"}
FT_STEPS, SEEDS, POOLINGS = 1200, (0, 1), ("cls", "mean")


def corpus_config(work: Path, corpus: str):
    from nanonlp.bert.pretrain import DEFAULT_SOURCES, PretrainConfig

    sources = DEFAULT_SOURCES
    if corpus == "tapt":
        sources += "," + str(work / "sst2_train.txt")
    return PretrainConfig(sources=sources, data=str(work / f"corpus-{corpus}"), workers=2,
                          lowercase=corpus != "cased")


def prepare(work: Path) -> None:
    """The three corpora (and the unlabelled SST-2 training text for ``tapt``)."""
    from nanonlp.bert.pretrain import prepare_corpus
    from nanonlp.bert.tasks import load_task

    text = work / "sst2_train.txt"
    if not text.exists():
        text.write_text("".join(r.text.strip() + "\n" for r in load_task("sst2", "train")),
                        encoding="utf-8")
    for corpus in ("cased", "uncased", "tapt"):
        prepare_corpus(corpus_config(work, corpus), 128)


def pretrain(work: Path, name: str, steps: int, device: str) -> None:
    import torch

    from nanonlp.bert.pretrain import load_corpus, make_trainer, mlm_accuracy

    torch.set_num_threads(1)
    corpus, prenorm, lr, warmup, mask = RECIPES[name]
    cfg = corpus_config(work, corpus)
    cfg.mask_prob = mask
    t = make_trainer(cfg, "tiny", model=dict(dropout=0.0, block_size=128, prenorm=prenorm),
                     train=dict(out=str(work / f"run-{name}"), max_steps=steps,
                                eval_interval=1000, eval_steps=10, batch_size=32, seed=0,
                                device=device, dtype="float32", lr=lr, warmup_steps=warmup))
    curve, t0 = [], time.time()
    val = load_corpus(cfg.data)  # accuracy on 15%-masked val blocks for every recipe
    for r in t.run():
        if r.eval:
            acc = mlm_accuracy(t.model, val, batches=10)
            t.model.train()
            curve.append({"step": r.step, "val": r.eval.get("val"), "acc": acc["accuracy"]})
            print(name, curve[-1], flush=True)
    (work / f"pre-{name}.json").write_text(json.dumps(
        {"name": name, "steps": t.step, "seconds": time.time() - t0, "curve": curve,
         "checkpoint": str(work / f"run-{name}" / "last")}, indent=1))


def finetune(ckpt: str, init: str, seed: int, pooling: str, out_json: str, device: str) -> None:
    import torch

    from nanonlp.bert import evaluate
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.finetune import FinetuneConfig, make_trainer

    torch.set_num_threads(1)
    t = make_trainer(FinetuneConfig(task="sst2", init=init, pooling=pooling), ckpt,
                     train=dict(max_steps=FT_STEPS, batch_size=32, lr=3e-4, min_lr=3e-5,
                                warmup_steps=FT_STEPS // 10, eval_interval=FT_STEPS,
                                eval_steps=5, device=device, dtype="float32", seed=seed,
                                out=out_json + ".run"))
    list(t.run())
    acc = evaluate(t.model, "sst2", load_tokenizer(ckpt))["accuracy"]
    Path(out_json).write_text(json.dumps({"ckpt": Path(ckpt).parent.name, "init": init,
                                          "steps": FT_STEPS, "seed": seed, "pooling": pooling,
                                          "acc": acc}))


def drive(work: Path, steps: int, device: str, parallel: int) -> Path:
    """All recipes side by side, then every fine-tuning run; returns the summary file."""
    work.mkdir(parents=True, exist_ok=True)
    prepare(work)
    me = [sys.executable, __file__, "--work", str(work), "--device", device]
    for p in [subprocess.Popen([*me, "--worker", "pretrain", "--name", n, "--steps", str(steps)])
              for n in RECIPES]:
        if p.wait():
            sys.exit(f"a pretraining worker failed (exit {p.returncode})")
    jobs = []
    for n in RECIPES:
        ck = json.loads((work / f"pre-{n}.json").read_text())["checkpoint"]
        for pooling in POOLINGS:
            for seed in SEEDS:
                jobs.append([ck, "pretrained", seed, pooling, work / f"ft-{n}-{pooling}-{seed}"])
                if n in RANDOM_ARMS:  # one random-init arm per tokenizer and architecture
                    jobs.append([ck, "random", seed, pooling,
                                 work / f"ft-random-{n}-{pooling}-{seed}"])
    running: list[subprocess.Popen] = []
    while jobs or running:
        while jobs and len(running) < parallel:
            ck, init, seed, pooling, out = jobs.pop(0)
            running.append(subprocess.Popen([*me, "--worker", "finetune", "--ckpt", ck,
                                             "--init", init, "--seed", str(seed), "--pooling",
                                             pooling, "--out-json", f"{out}.json"]))
        time.sleep(1)
        running = [p for p in running if p.poll() is None]
    summary = {"pretrain": [json.loads(f.read_text()) for f in sorted(work.glob("pre-*.json"))],
               "finetune": [json.loads(f.read_text()) for f in sorted(work.glob("ft-*.json"))]}
    out = work / "sweep.json"
    out.write_text(json.dumps(summary, indent=1))
    return out


def random_arm(name: str, corpus: str | None = None) -> str:
    """The key of the random-init arm that matches recipe ``name`` (tokenizer + norm)."""
    c, prenorm, *_ = RECIPES[name]
    return f"random-{corpus or c}-{'pre' if prenorm else 'post'}"


def summarise(files: list[Path]) -> tuple[list[dict], str]:
    """Rows for BENCHMARKS.md from one or more summary files (later files win)."""
    import statistics

    pre, ft = {}, {}
    for f in files:
        d = json.loads(f.read_text())
        for p in d["pretrain"]:
            pre[OLD_NAMES.get(p["name"], p["name"])] = p
        for r in d["finetune"]:
            if r["steps"] != FT_STEPS:
                continue  # the first sweep also tried 400 steps; not recorded
            name = OLD_NAMES.get(r["ckpt"].removeprefix("run-"), r["ckpt"].removeprefix("run-"))
            if r["init"] == "random":
                name = random_arm(name)
            ft.setdefault((name, r.get("pooling", "cls")), {})[r["seed"]] = r["acc"]
    rows, lines = [], []
    ref = pre[REFERENCE]["curve"][-1]
    for name in (n for n in RECIPES if n in pre):
        last = pre[name]["curve"][-1]
        rows.append(result("bert-sweep", name, "MLM masked acc % (val, 15% masked)",
                           100 * last["acc"], 100 * ref["acc"], f"{REFERENCE} (the old recipe)",
                           better="higher"))
        for pooling in POOLINGS:
            ours, rnd = ft.get((name, pooling)), ft.get((random_arm(name), pooling))
            note = ""
            if not rnd and RECIPES[name][0] == "tapt":  # the first sweeps had no tapt arm
                rnd = ft.get((random_arm(name, "uncased"), pooling))
                note = " (uncased tokenizer)"
            if not ours or not rnd:
                continue
            a, b = statistics.mean(ours.values()), statistics.mean(rnd.values())
            rows.append(result("bert-sweep", name, f"SST-2 dev acc %, {pooling} pooling",
                               a, b, f"same architecture, random init{note} (seeds "
                               f"{', '.join(map(str, sorted(rnd)))})", better="higher"))
        lines.append(f"| {name} | {pre[name]['steps']:,} | " + " | ".join(
            f"{100 * c['acc']:.1f}" for c in pre[name]["curve"]) + " |")
    steps = [c["step"] for c in pre[REFERENCE]["curve"]]
    table = ("| recipe | steps | " + " | ".join(f"{s // 1000}k" for s in steps) + " |\n"
             "| --- | ---: | " + " | ".join("---:" for _ in steps) + " |\n" + "\n".join(lines))
    return rows, table


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/nanonlp-bert-sweep", help="folder for everything")
    p.add_argument("--steps", type=int, default=9000, help="pretraining steps per recipe")
    p.add_argument("--device", default="cuda", help="cuda (one GPU for all recipes) or cpu")
    p.add_argument("--parallel", type=int, default=14, help="fine-tuning runs at a time")
    p.add_argument("--from", dest="from_", default=None,
                   help="comma-separated summary files of earlier runs: record those instead")
    for hidden in ("--worker", "--name", "--ckpt", "--init", "--pooling", "--out-json"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    work = Path(args.work)
    if args.worker == "pretrain":
        return pretrain(work, args.name, args.steps, args.device)
    if args.worker == "finetune":
        return finetune(args.ckpt, args.init, args.seed, args.pooling, args.out_json, args.device)
    if args.from_:
        files = [Path(f) for f in args.from_.split(",")]
    else:
        data_dir()  # $NANONLP_DATA or ../shared/data, as every benchmark
        files = [drive(work, args.steps, args.device, args.parallel)]
    rows, table = summarise(files)
    ran = ("Ran on one NVIDIA H200 (torch 2.11.0+cu130) lent for this session, in two calls "
           "(the first without the 40% and tapt recipes or mean pooling); recorded here from "
           "their result files, " + ", ".join(f"`{f.name}`" for f in files) + " in "
           "benchmarks/results/.\n\n") if args.from_ else ""
    notes = ran + (
        f"Each recipe pretrains the `tiny` BERT for {args.steps:,} steps of 32 x 128 tokens "
        "(what 60 min of CPU gives here), dropout 0, float32, on one NVIDIA H200 (all recipes "
        "side by side); then SST-2 fine-tuning as in the bert section (1,200 steps of 32, lr "
        "3e-4, 10% warmup, cosine), seeds 0 and 1, mean dev accuracy; the random-init arm has "
        "the same architecture (post- or pre-norm). Corpora: cased = the bert section's "
        "unlabelled text (5.6M tokens); uncased = the same lower-cased (SST-2 is lower-cased); "
        "tapt = uncased + SST-2 train sentences without labels (its val blocks, the last 2%, are "
        "SST-2 text, so its accuracy is not comparable). The recipe names read "
        "corpus-norm-peak lr-mask rate.\n\n"
        "Masked-token accuracy (%) on 15%-masked val blocks during pretraining:\n\n" + table +
        "\n\nWhat it shows: 40% masking and pre-norm leave the plateau far sooner (31.6% "
        "masked accuracy at 9k steps against 19.1% for the old recipe), but no recipe at this "
        "budget beats random initialisation on SST-2: the pretrained arms land between 3.3 "
        "points below and 0.6 above their random-init twins (seed-to-seed spread ~1 point); "
        "the model that "
        "fine-tunes from random init reaches ~80% on 67k labelled sentences, and 9k steps "
        "of MLM on 5.6M tokens do not teach the 1.5M-parameter model enough to add to that.")
    lr_file = Path(__file__).parent / "results" / "bert_sweep_h200_3_ftlr.txt"
    if args.from_ and lr_file.exists():  # a third call: the fine-tuning learning rate
        runs = [line.split() for line in lr_file.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
        notes += ("\n\nFine-tuning learning rate (third call, `results/" + lr_file.name + "`; "
                  "uncased-pre-2e-3-m40, seed 0): " + "; ".join(
                      f"lr {lr} {init} {pool} {float(acc):.2f}" for lr, init, pool, acc in runs)
                  + ". At 1e-3 the pretrained [CLS] arm is 1.1 points above random init, the "
                  "largest gain seen; lower rates hurt the pretrained arm more than the "
                  "random one, so benchmarks/bert.py now fine-tunes both arms at 1e-3.")
    low_file = Path(__file__).parent / "results" / "bert_lowres_cpu.txt"
    if args.from_ and low_file.exists():  # the same checkpoint with fewer labelled sentences
        import statistics

        runs: dict[tuple[str, str], list[float]] = {}
        for line in low_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                n, _steps, init, _seed, acc = line.split()
                runs.setdefault((n, init), []).append(float(acc))
        parts = []
        for n in sorted({k[0] for k in runs}, key=int):
            a, b = (statistics.mean(runs[n, i]) for i in ("pretrained", "random"))
            parts.append(f"{int(n):,} sentences: pretrained {a:.2f}, random {b:.2f} "
                         f"({a - b:+.2f})")
        notes += ("\n\nWith fewer labelled sentences pretraining counts for more (`results/"
                  + low_file.name + "`, the same checkpoint fine-tuned on the CPU, mean of "
                  "seeds 0 and 1): " + "; ".join(parts) + ".")
    if args.record:
        record("bert-sweep", rows, notes)



if __name__ == "__main__":
    main()
