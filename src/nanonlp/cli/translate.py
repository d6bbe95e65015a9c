"""``nanonlp translate train|evaluate|run``: the GRU encoder-decoder with attention."""

from __future__ import annotations

import argparse
import dataclasses
import json

from nanonlp.cli.common import (
    PRESET_NOTE,
    Command,
    add_train_flags,
    at_least,
    checked_arg,
    prefixed,
    say,
    stdin_lines,
)
from nanonlp.cliargs import add_config_args
from nanonlp.errors import DataError
from nanonlp.seq2seq.config import PRESETS, DataConfig, Seq2SeqConfig
from nanonlp.seq2seq.plot import plot_attention
from nanonlp.seq2seq.train import OUT, evaluate, make_trainer
from nanonlp.seq2seq.translate import Translator, check_alpha
from nanonlp.training import TrainConfig
from nanonlp.training.distributed import session
from nanonlp.training.driver import fit


def _translate_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="tutorial",
                   help=f"data + model + training recipe: {', '.join(PRESETS)} (default: "
                        "tutorial); --data.*, --model.* and --train.* flags override its fields")
    add_train_flags(p, "translate train")
    p.add_argument("--bleu_sentences", type=at_least(0), default=500, metavar="N",
                   help="after training, greedy BLEU of best/ on N val sentences (0: skip)")
    add_config_args(p, DataConfig, prefix="data", note=PRESET_NOTE)
    add_config_args(p, Seq2SeqConfig, prefix="model", skip=("src_vocab", "tgt_vocab"),
                    note=PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": OUT}, note=PRESET_NOTE)


def _translate_train(args: argparse.Namespace) -> None:
    train = prefixed(args, "train")
    with session(train.get("device", "auto")) as dist:
        trainer = make_trainer(prefixed(args, "data"), args.preset, prefixed(args, "model"),
                               train, resume=args.resume, dist=dist)
        prep = trainer.data
        s = prep.stats
        if dist.is_main:
            say(f"translate: {s['pairs']['train']:,} train / {s['pairs']['val']:,} val / "
                f"{s['pairs']['test']:,} test pairs, vocabularies {s['src_vocab']:,} -> "
                f"{s['tgt_vocab']:,}")
        result = fit(trainer, f"translate ({args.preset})", budget_min=args.budget_min,
                     info={"preset": args.preset, "data": dataclasses.asdict(prep.data_config),
                           "stats": s})
        if not dist.is_main:
            return
        say(result.summary())
        if args.bleu_sentences > 0:
            rep = evaluate(Translator.load(result.out / "best"), prep.pairs["val"], "val",
                           beam=1, max_sentences=args.bleu_sentences)
            say(f"val BLEU {rep.bleu:.2f}, chrF {rep.chrf:.1f} (greedy, {rep.sentences} "
                "sentences)")


def _translate_evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"),
                   help="held-out split of the checkpoint's data (default: test)")
    p.add_argument("--source", help="score on every pair of a TSV file or of SRC,TGT files "
                   "instead of a split")
    p.add_argument("--beam", type=at_least(1), default=5,
                   help="beam width; 1 is greedy (default: 5)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="length normalisation exponent (GNMT); 0: raw log probability")
    p.add_argument("--max_sentences", type=at_least(1), help="score only the first N sources")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _translate_evaluate(args: argparse.Namespace) -> None:
    r = evaluate(args.checkpoint, args.source or args.split, None, args.beam, args.alpha,
                 args.max_sentences)
    if args.json:
        say(json.dumps(dataclasses.asdict(r), indent=1))
        return
    say(f"{args.split}: BLEU {r.bleu:.2f}, chrF {r.chrf:.2f} over {r.sentences:,} sentences "
        f"(up to {r.references} references; beam {r.beam}; {r.seconds:.1f} s)")
    for s in r.samples:
        say(f"  src: {s['source']}\n  ref: {s['reference']}\n  out: {s['translation']}")


def _translate_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("sentences", nargs="*", help="sentences to translate (default: stdin lines)")
    p.add_argument("--beam", type=at_least(1), default=5,
                   help="beam width; 1 is greedy (default: 5)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="length normalisation exponent (GNMT); 0: raw log probability")
    p.add_argument("--attention", metavar="PNG", help="also draw the attention heatmaps here")


def _translate_run(args: argparse.Namespace) -> None:
    sentences = [checked_arg(s, f"sentence {i + 1}") for i, s in enumerate(args.sentences)] \
        or [line for line in stdin_lines() if line.strip()]
    if not sentences:
        raise DataError("nothing to translate: give sentences as arguments or on stdin")
    check_alpha(args.alpha)  # before the checkpoint is loaded
    tr = Translator.load(args.checkpoint)
    results = tr.translate(sentences, beam=args.beam, alpha=args.alpha)
    for r in results:
        say(r.text)
    if args.attention:
        say(f"attention: {plot_attention(results[:8], args.attention)}")


COMMANDS: list[Command] = [
    Command(("translate", "train"), "train a GRU encoder-decoder with attention from a preset",
            _translate_train, _translate_train_args,
            "Reads eng-fra (the PyTorch tutorial's filter, or all pairs), Multi30k or your own "
            "pair files, builds word (min_freq) or BPE vocabularies, and trains on the shared "
            "training core: OUT/best and OUT/last (safetensors + JSON + vocabularies, resumable "
            "exactly), OUT/metrics.jsonl and OUT/loss.png. --budget_min fits the run to a "
            "wall-clock budget. Ctrl-C saves OUT/last. Multi-process: "
            "torchrun --nproc_per_node N -m nanonlp translate train ..."),
    Command(("translate", "evaluate"), "sacreBLEU BLEU and chrF of a checkpoint on a held-out "
            "split", _translate_evaluate, _translate_evaluate_args),
    Command(("translate", "run"), "translate sentences (arguments or stdin lines); beam or "
            "greedy; attention PNG", _translate_run, _translate_run_args),
]
