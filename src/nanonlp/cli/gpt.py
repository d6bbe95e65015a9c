"""``nanonlp gpt prepare|train|sample|evaluate|export|import``: the decoder-only transformer."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import torch

from nanonlp.bpe.formats import TOKENIZER_FILE, load_tokenizer
from nanonlp.cli.common import (
    PRESET_NOTE,
    Command,
    add_import_args,
    add_train_flags,
    at_least,
    checked_arg,
    imported,
    prefixed,
    say,
)
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.gpt.config import PRESETS, GPTConfig
from nanonlp.gpt.data import PrepareConfig, prepare
from nanonlp.gpt.export import export_hf
from nanonlp.gpt.from_hf import import_hf
from nanonlp.gpt.model import load_gpt
from nanonlp.gpt.sample import SampleConfig, generate, stop_ids_for, stream_text
from nanonlp.gpt.train import OUT, evaluate, make_trainer
from nanonlp.training import TrainConfig
from nanonlp.training.device import pick_device
from nanonlp.training.distributed import session
from nanonlp.training.driver import fit


def _gpt_prepare_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, PrepareConfig)


def _gpt_prepare(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, PrepareConfig)
    meta = prepare(cfg, progress=True)
    shards = ""
    if "shards" in meta:
        shards = (f", {meta['documents']:,} documents in {len(meta['shards']['train'])} + "
                  f"{len(meta['shards']['val'])} shards")
        if meta["skipped_documents"]:
            shards += f", {meta['skipped_documents']:,} not UTF-8 left out"
    elif meta.get("skipped_bytes"):
        shards = f", {meta['skipped_bytes']:,} bytes that are not UTF-8 left out"
    say(f"{meta['source']}: {meta['characters']:,} characters -> train {meta['tokens']['train']:,}"
        f" / val {meta['tokens']['val']:,} tokens ({meta['tokenizer']} vocabulary of "
        f"{meta['vocab_size']:,}, {meta['dtype']}{shards}) in {cfg.out}")


def _add_vocab_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vocab_size", type=at_least(1),
                   help="for a folder of nanoGPT's train.bin/val.bin (no meta.json): the "
                        "vocabulary its ids come from (uint16 ids up to 65,536); with a "
                        "prepared folder, a larger vocabulary for the model (e.g. 50304)")


def _gpt_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="folder written by `nanonlp gpt prepare` (train.bin/val.bin or "
                                "shards), or nanoGPT's train.bin/val.bin with --vocab_size")
    _add_vocab_size(p)
    p.add_argument("--preset", default="nanogpt-cpu",
                   help=f"model + training recipe: {', '.join(PRESETS)} (default: nanogpt-cpu); "
                        "--model.* and --train.* flags override its fields")
    add_train_flags(p, "gpt train")
    p.add_argument("--init", metavar="CKPT",
                   help="start from this GPT checkpoint's weights and model config (e.g. one "
                        "`gpt import` wrote) instead of a random model; --preset then gives the "
                        "training recipe only, and --model.* may set dropout and a shorter "
                        "block_size. Prepare the data with --tokenizer CKPT/tokenizer.model")
    add_config_args(p, GPTConfig, prefix="model", skip=("vocab_size",), note=PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": OUT}, note=PRESET_NOTE)


def _gpt_train(args: argparse.Namespace) -> None:
    train = prefixed(args, "train")
    with session(train.get("device", "auto")) as dist:
        trainer = make_trainer(args.data, args.preset, prefixed(args, "model"), train,
                               resume=args.resume, init=args.init, dist=dist,
                               vocab_size=args.vocab_size)
        title = f"gpt ({args.preset}" + (f", from {args.init})" if args.init else ")")
        result = fit(trainer, title, budget_min=args.budget_min,
                     info={"preset": args.preset, "data": args.data, "init": args.init})
        if dist.is_main:
            say(result.summary())


def _gpt_sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    add_config_args(p, SampleConfig)


def _gpt_sample(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, SampleConfig)
    checked_arg(cfg.prompt, "--prompt")
    model = load_gpt(args.checkpoint, pick_device(cfg.device))
    tok = load_tokenizer(args.checkpoint)
    prompt = tok.encode(cfg.prompt, allowed_special="all")
    gen = torch.Generator().manual_seed(cfg.seed)
    for k in range(cfg.num_samples):
        if k:
            sys.stdout.write("\n---------------\n")
        sys.stdout.write(cfg.prompt)
        ids = generate(model, prompt, cfg.max_new_tokens, temperature=cfg.temperature,
                       top_k=cfg.top_k, top_p=cfg.top_p, generator=gen,
                       stop_ids=stop_ids_for(tok, cfg.stop), use_cache=cfg.kv_cache)
        for piece in stream_text(tok, ids):
            sys.stdout.write(piece)
            sys.stdout.flush()
    sys.stdout.write("\n")


def _gpt_evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("data", help="folder written by `nanonlp gpt prepare` (train.bin/val.bin or "
                                "shards), or nanoGPT's train.bin/val.bin with --vocab_size")
    _add_vocab_size(p)
    p.add_argument("--split", default="val", choices=("train", "val"), help="(default: val)")
    p.add_argument("--max_windows", type=at_least(1), help="evaluate at most this many windows")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")


def _gpt_evaluate(args: argparse.Namespace) -> None:
    r = evaluate(args.checkpoint, args.data, args.split, max_windows=args.max_windows,
                 device=args.device, vocab_size=args.vocab_size)
    say(f"{args.split}: loss {r.loss:.4f} nats/token, perplexity {r.perplexity:.3f}, "
        f"{r.bits_per_token:.4f} bits/token over {r.tokens:,} tokens ({r.windows:,} windows)")


def _gpt_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("out", help="folder for config.json, model.safetensors, tokenizer.json")


def _gpt_export(args: argparse.Namespace) -> None:
    model = load_gpt(args.checkpoint)
    tok_path = Path(args.checkpoint) / TOKENIZER_FILE
    tok = load_tokenizer(tok_path) if tok_path.exists() else None
    out = export_hf(model, args.out, tok)
    say(f"{out}: transformers.GPT2LMHeadModel.from_pretrained({str(out)!r})"
        + ("" if tok else " (no tokenizer in the checkpoint: no tokenizer.json)"))


_gpt_import_args = partial(add_import_args, hf_dir_help="a transformers GPT-2 folder "
                           "(config.json, model.safetensors; vocab.json + merges.txt or "
                           "tokenizer.json come along)")


def _gpt_import(args: argparse.Namespace) -> None:
    r = import_hf(args.hf_dir, args.out)
    say(f"{imported(r, 'GPT-2')}, block {r.config.block_size:,}, {r.params / 1e6:.1f}M "
        "parameters; "
        + (f"{TOKENIZER_FILE} from the folder's tokenizer" if r.tokenizer else
           "no tokenizer in the folder (gpt sample needs one)"))


COMMANDS: list[Command] = [
    Command(("gpt", "prepare"), "text (a data set or files) -> train/val token arrays",
            _gpt_prepare, _gpt_prepare_args,
            "Tokenizes with a character vocabulary or a nanonlp BPE model and writes "
            "OUT/train.bin, OUT/val.bin (raw uint16/uint32 ids, memory-mappable), "
            "OUT/meta.json and OUT/tokenizer.model. The last val_fraction of the text is val. "
            "A corpus of documents (folders, globs, .jsonl with --text_field, .parquet; .gz, "
            ".xz, .zst) streams in --workers processes into shards OUT/train_000000.bin, ... "
            "(--shard_tokens ids each, end-of-text after every document), a document in val "
            "when a hash of its text says so; a killed run, started again, resumes."),
    Command(("gpt", "train"), "train a GPT from a preset (checkpoints, metrics, loss curve)",
            _gpt_train, _gpt_train_args,
            "AdamW with warmup + cosine decay, gradient accumulation and clipping, periodic "
            "evaluation; writes OUT/best and OUT/last (safetensors + JSON, resumable exactly), "
            "OUT/metrics.jsonl and OUT/loss.png. --budget_min fits the run to a wall-clock "
            "budget. Ctrl-C saves OUT/last. Multi-process: "
            "torchrun --nproc_per_node N -m nanonlp gpt train ..."),
    Command(("gpt", "sample"), "generate text from a checkpoint (streams as it goes)",
            _gpt_sample, _gpt_sample_args),
    Command(("gpt", "evaluate"), "loss, perplexity and bits per token of a checkpoint on a split",
            _gpt_evaluate, _gpt_evaluate_args),
    Command(("gpt", "export"), "export a checkpoint to a transformers GPT2LMHeadModel folder",
            _gpt_export, _gpt_export_args),
    Command(("gpt", "import"), "a transformers GPT-2 folder -> a checkpoint (same logits)",
            _gpt_import, _gpt_import_args,
            "Reads a GPT2LMHeadModel or GPT2Model folder (config.json, model.safetensors or "
            "its shards; a pytorch_model.bin only through torch.load(weights_only=True)) one "
            "tensor at a time and writes an ordinary checkpoint that gpt sample, evaluate, "
            "export and train --init take. The folder's GPT-2 tokenizer (vocab.json + "
            "merges.txt or tokenizer.json) becomes OUT/tokenizer.model with the same ids."),
]
