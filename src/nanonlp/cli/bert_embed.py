"""``nanonlp bert embed|search``: sentence vectors from a BERT checkpoint, and search by meaning."""

from __future__ import annotations

import argparse
import json

from nanonlp.bert import embed as E
from nanonlp.bert.model import POOLING
from nanonlp.cli.common import Command, checked_arg, say
from nanonlp.errors import ConfigError
from nanonlp.training.checkpoint import read_meta
from nanonlp.training.device import pick_device, pick_dtype


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch_size", type=int, default=64, help="lines per forward pass "
                   "(default: 64)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, "
                   "cuda, mps (default: auto)")


def _bert_embed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="any BERT checkpoint: pretrained, fine-tuned, or "
                   "contrastive (`bert finetune --task contrastive`)")
    p.add_argument("file", help="UTF-8 text file, one sentence per line")
    p.add_argument("--out", required=True, metavar="VECS.npy",
                   help="the (lines x width) float32 matrix; the lines and what made them go "
                        "beside it in VECS.npy.json")
    p.add_argument("--pooling", choices=POOLING, help="mean of the real tokens or [CLS] "
                   "(default: the checkpoint's embedding.json, else mean)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "auto"), default="float32",
                   help="float32 (default: the vectors sentence-transformers gives, to a cosine "
                        "of 1e-7), bfloat16 (autocast: about 1.3-1.5x as fast on a CPU with "
                        "AVX-512 BF16, faster on a GPU too, vectors within a cosine of about "
                        "1e-4), "
                        "or auto (bfloat16 where it measures faster, as training's --dtype "
                        "auto)")
    _common(p)


def _bert_embed(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {args.batch_size}")
    read_meta(args.checkpoint)
    device = pick_device(args.device)
    meta = E.embed_file(args.checkpoint, args.file, args.out, pooling=args.pooling,
                        batch_size=args.batch_size, device=device,
                        dtype=pick_dtype(args.dtype, device))
    how = "" if meta["dtype"] == "float32" else f", computed in {meta['dtype']}"
    say(f"{args.out}: {meta['rows']:,} x {meta['dim']} float32 ({meta['pooling']} pooling"
        f"{how}); lines in {E.sidecar(args.out)}")


def _bert_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the checkpoint that embedded the index")
    p.add_argument("index", help="VECS.npy written by `nanonlp bert embed`")
    p.add_argument("query", nargs="+", help="one or more query sentences")
    p.add_argument("-k", type=int, default=10, help="lines to return per query (default: 10)")
    p.add_argument("--json", action="store_true", help="one JSON object per query")
    _common(p)


def _bert_search(args: argparse.Namespace) -> None:
    queries = [checked_arg(q, "query") for q in args.query]
    read_meta(args.checkpoint)
    results = E.search(args.checkpoint, args.index, queries, args.k,
                       device=pick_device(args.device))
    for n, (query, hits) in enumerate(zip(queries, results, strict=True)):
        if args.json:
            say(json.dumps({"query": query, "results": [
                {"cosine": c, "line": i + 1, "text": t} for c, i, t in hits]},
                ensure_ascii=False))
            continue
        if len(queries) > 1:
            say(("\n" if n else "") + f"# {query}")
        for c, i, t in hits:
            say(f"{c:.4f}\t{i + 1}\t{t}")


COMMANDS: list[Command] = [
    Command(("bert", "embed"), "embed each line of a file with a BERT checkpoint (.npy)",
            _bert_embed, _bert_embed_args,
            "Writes one float32 row per input line (the mean of the encoder's real-token "
            "outputs, or [CLS] with --pooling cls) to VECS.npy, and the lines beside it in "
            "VECS.npy.json, so that `bert search` can show them. Both files appear whole or not "
            "at all."),
    Command(("bert", "search"), "the lines of an index nearest to a query, by cosine",
            _bert_search, _bert_search_args,
            "Embeds each query with the checkpoint that built the index (another one is "
            "refused) and prints the k nearest lines as cosine<TAB>line number<TAB>text."),
]
