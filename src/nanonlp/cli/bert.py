"""``nanonlp bert pretrain|finetune|predict|export``: the encoder-only transformer
(``embed`` and ``search`` are in :mod:`nanonlp.cli.bert_embed`)."""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial
from pathlib import Path

from nanonlp.bert import finetune as ft
from nanonlp.bert import pretrain as bp
from nanonlp.bert.config import PRESETS, BertConfig
from nanonlp.bert.data import load_tokenizer
from nanonlp.bert.export import export_checkpoint
from nanonlp.bert.finetune import FinetuneConfig
from nanonlp.bert.from_hf import import_hf
from nanonlp.bert.predict import predict_lines
from nanonlp.bert.pretrain import PretrainConfig
from nanonlp.cli.common import (
    PRESET_NOTE,
    Command,
    add_import_args,
    add_train_flags,
    at_least,
    imported,
    input_lines,
    prefixed,
    say,
)
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.training import TrainConfig
from nanonlp.training.checkpoint import read_meta
from nanonlp.training.config import check_writable
from nanonlp.training.distributed import session
from nanonlp.training.driver import fit


def _bert_pretrain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="mini",
                   help=f"model + training recipe: {', '.join(PRESETS)} (default: mini); "
                        "--model.* and --train.* flags override its fields")
    add_train_flags(p, "bert pretrain")
    add_config_args(p, PretrainConfig)
    add_config_args(p, BertConfig, prefix="model",
                    skip=("vocab_size", "pad_id", "mask_id", "cls_id", "sep_id"), note=PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": bp.OUT}, note=PRESET_NOTE)


def _bert_pretrain(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, PretrainConfig)
    train = prefixed(args, "train")
    with session(train.get("device", "auto")) as dist:
        trainer = bp.make_trainer(cfg, args.preset, prefixed(args, "model"), train,
                                  resume=args.resume, dist=dist)
        result = fit(trainer, f"bert MLM ({args.preset})", budget_min=args.budget_min,
                     info={"preset": args.preset, "corpus": dataclasses.asdict(cfg)})
        if not dist.is_main:
            return
        acc = bp.mlm_accuracy(trainer.model, bp.load_corpus(cfg.data, cfg.mask_prob))
        say(f"val masked-token accuracy {100 * acc['accuracy']:.2f}% (loss {acc['loss']:.4f} "
            f"over {acc['tokens']:,} masked tokens); {result.summary()}")


def _bert_finetune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="pretrained checkpoint (OUT/last of `bert pretrain`); "
                   "gives the shape and the tokenizer even with --init random")
    add_train_flags(p, "bert finetune")
    p.add_argument("--report", metavar="FILE", help="write the dev and test scores as JSON: "
                   "accuracy, macro F1, per-class P/R/F1 and confusion (labels), span F1 per "
                   "type (tags), recall@k and MRR (contrastive)")
    add_config_args(p, FinetuneConfig)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": "runs/bert-finetune"},
                    note="the fine-tuning recipe sets some of these; a flag given here wins")


def _bert_finetune(args: argparse.Namespace) -> None:
    from nanonlp.bert.embed import pair_retrieval
    from nanonlp.bert.report import format_table, score_splits, write_report

    cfg = config_from_args(args, FinetuneConfig)
    train = prefixed(args, "train")
    if args.report:
        check_writable(Path(args.report).parent)
    records = ft.load_records(cfg)
    with session(train.get("device", "auto")) as dist:
        trainer = ft.make_trainer(cfg, args.checkpoint, train=train, records=records,
                                  resume=args.resume, dist=dist)
        labels = getattr(trainer.model, "labels", None)
        title = f"bert finetune {cfg.task} ({cfg.init} init" + \
            (f", labels {labels})" if labels else f", {trainer.model.pooling} pooling)")
        if dist.is_main:
            for split, n in trainer.data.truncated.items():
                if n:
                    say(f"{n:,} of {len(trainer.data.splits[split]):,} {split} examples are "
                        f"longer than the position table ({trainer.model.config.block_size} "
                        "tokens) and were cut to it")
        result = fit(trainer, title, budget_min=args.budget_min,
                     info={"checkpoint": args.checkpoint, "task": dataclasses.asdict(cfg)})
        if not dist.is_main:
            return
        tok = load_tokenizer(args.checkpoint)
        if cfg.task_kind != "contrastive":
            report = score_splits(trainer.model, tok, records)
        elif any(a != b for a, b in records["val"]):
            report = {"dev": pair_retrieval(trainer.model, tok, records["val"],
                                            trainer.model.pooling)}
        else:  # single sentences: nothing to retrieve
            report = {}
        if report:
            say(format_table(report))
        if args.report:
            say(f"report: {write_report(args.report, report)}")
        say(f"{cfg.task} ({cfg.init} init), {result.steps} steps; {result.summary()}")


def _bert_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a BERT checkpoint: pretrained (fills [MASK]) or "
                   "fine-tuned (labels sentences, or sentence pairs as text<TAB>text_pair; "
                   "or tags words and prints the entities)")
    p.add_argument("--input", help="text file, one input per line (default: stdin)")
    p.add_argument("--top_k", type=at_least(1), default=5,
                   help="predictions per [MASK] (default: 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per line: label and "
                   "probabilities, or entities as `ner convert` reads them")


def _bert_predict(args: argparse.Namespace) -> None:
    read_meta(args.checkpoint)  # a wrong folder fails before stdin is read
    where = args.input if args.input not in (None, "-") else "<stdin>"
    for line in predict_lines(args.checkpoint, input_lines(args.input), args.top_k,
                              as_json=args.json, where=where):
        print(line)


def _bert_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="pretrained (MLM) checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("out", help="folder for config.json, model.safetensors, tokenizer.json")


def _bert_export(args: argparse.Namespace) -> None:
    out, sentence = export_checkpoint(args.checkpoint, args.out)
    say(f"{out}: transformers.BertForMaskedLM.from_pretrained({str(out)!r})"
        + (f", sentence_transformers.SentenceTransformer({str(out)!r})" if sentence else ""))


_bert_import_args = partial(add_import_args, hf_dir_help="a transformers BERT folder "
                            "(config.json, model.safetensors, vocab.txt or tokenizer.json)")


def _bert_import(args: argparse.Namespace) -> None:
    r = import_hf(args.hf_dir, args.out)
    say(f"{imported(r, 'BERT')}, {r.params / 1e6:.1f}M parameters, WordPiece tokenizer"
        + (f"; left out: {', '.join(r.dropped)}" if r.dropped else ""))
    if r.embedding:
        e = r.embedding
        say(f"sentence-transformers: {e['pooling']} pooling"
            + (", normalized" if e["normalize"] else "")
            + f", lines cut at {e['max_seq_length']} tokens, in {r.out}/embedding.json "
            "(bert embed and bert search follow it)")
    if r.fresh_head:
        say(f"note: {args.hf_dir} has no MLM head (a BertModel): the checkpoint's head starts "
            "from random init, so fill-mask output is noise until it is trained; bert "
            "finetune uses the encoder only")


COMMANDS: list[Command] = [
    Command(("bert", "pretrain"), "pretrain a BERT with masked-LM on data sets or text files",
            _bert_pretrain, _bert_pretrain_args,
            "Trains a BPE tokenizer with [CLS] [SEP] [MASK] [PAD] (or takes --tokenizer), packs "
            "the lines into blocks (cached in --data), and trains with dynamic 15% masking: "
            "OUT/best and OUT/last checkpoints carry the tokenizer; --budget_min trains for a "
            "wall-clock budget instead of max_steps. Multi-process: "
            "torchrun --nproc_per_node N -m nanonlp bert pretrain ..."),
    Command(("bert", "finetune"), "fine-tune a BERT on your labelled files, SST-2, sentence "
            "polarity or CoNLL NER, or for retrieval", _bert_finetune, _bert_finetune_args,
            "Your files: --train FILE [--dev FILE] [--test FILE]. --task sequence (the default "
            "with --train): a label per text, from TSV or CSV (a header row optional; a "
            "headerless two-column file is text<TAB>label) or JSONL {\"text\", \"label\"[, "
            "\"text_pair\"]}; a second text makes [CLS] a [SEP] b [SEP] pairs. --task token: "
            "CoNLL-style column files (--scheme bio, iob1 or bilou), first-sub-word labels. "
            "--task contrastive: SimCSE on anchor<TAB>positive lines (or single sentences, with "
            "dropout noise), for `bert embed` and `bert search`. The label set is the training "
            "file's and is saved in the checkpoint. Named sets: --task sst2 (the default without "
            "--train), sentence_polarity, conll2003. Prints dev (and test) scores as a table; "
            "--report writes them as JSON. Defaults that follow the checkpoint: one that "
            "`bert import` brought in (a real pretrained model) gets BERT's recipe (lr 5e-5, "
            "warmup over 10% of the steps, linear decay to 0, beta2 0.999); our own get ours "
            "(lr 2e-4, cosine); --pooling is the one in the checkpoint's embedding.json (a "
            "sentence-transformers folder's), else cls (mean for contrastive). --epochs N sets "
            "the steps from the training set's size. Flags override all of these. Batches "
            "pad to their own longest row. Writes what every trainer writes (OUT/best, "
            "OUT/last, metrics.jsonl, loss.png); multi-process: "
            "torchrun --nproc_per_node N -m nanonlp bert finetune ..."),
    Command(("bert", "predict"), "fill [MASK], label sentences or tag words with a checkpoint",
            _bert_predict, _bert_predict_args),
    Command(("bert", "export"), "export a pretrained checkpoint to a transformers "
            "BertForMaskedLM folder", _bert_export, _bert_export_args,
            "A checkpoint with embedding.json and a WordPiece vocabulary (one imported from a "
            "sentence-transformers folder) exports as a sentence-transformers folder too."),
    Command(("bert", "import"), "a transformers BERT folder -> a checkpoint (same logits)",
            _bert_import, _bert_import_args,
            "Reads a BertForMaskedLM, BertForPreTraining or BertModel folder tensor by tensor "
            "(the pooler and next-sentence head are left out; a BertModel's MLM head starts "
            "fresh) and its WordPiece vocabulary, and writes a checkpoint that bert predict, "
            "finetune and export take. A sentence-transformers folder (modules.json: "
            "Transformer, Pooling, optional Normalize) also gives embedding.json: its pooling, "
            "normalisation and max_seq_length, which bert embed, search and export follow."),
]
