"""``nanonlp bpe train|encode|decode|inspect``: the byte-level BPE tokenizer."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nanonlp import datasets as D
from nanonlp.bpe import BPEConfig, Tokenizer, read_tokens
from nanonlp.bpe.export import save_hf, save_tiktoken
from nanonlp.bpe.patterns import pattern_name
from nanonlp.bpe.stream import iter_pieces
from nanonlp.bpe.tokenfile import write_tokens
from nanonlp.bpe.tokenizer import render_token
from nanonlp.cli.common import Command, at_least, say, stdin_text
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.errors import DataError, SpecialTokenError
from nanonlp.fileio import atomic_write, read_text
from nanonlp.progress import tqdm


def _bpe_sources(sources: list[str]):
    """Split CLI sources into files and data set texts (a name that is not a file)."""

    files = [s for s in sources if Path(s.split("::")[0]).exists()]
    names = [s for s in sources if s not in files]
    for name in names:
        try:
            D.get_dataset(name)  # unknown name: a one-line error listing the data sets
        except DataError:
            # data set names have no folders or suffixes: this was meant as a file
            if "/" in name or os.sep in name or "::" in name or Path(name).suffix:
                raise DataError(f"{name}: no such file") from None
            raise
    texts = (line + "\n" for name in names for line in D.text(name))
    return files, texts


def _bpe_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="text files (.gz, archive.zip::member) or data set names")
    p.add_argument("--out", default="runs/bpe", help="output folder (default: runs/bpe)")
    p.add_argument("--name", default="tokenizer", help="file stem: NAME.model, NAME.vocab, ...")
    p.add_argument("--vocab-size", dest="vocab_size", type=int, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    add_config_args(p, BPEConfig)


def _bpe_train(args: argparse.Namespace) -> None:
    config = config_from_args(args, BPEConfig)
    files, texts = _bpe_sources(args.sources)
    bar = tqdm(total=config.num_merges, unit="merge", desc="merging", disable=None)
    tok = Tokenizer.train(texts, config, files=files, progress=lambda step: bar.update(1))
    bar.close()
    out = Path(args.out)
    model = tok.save(out / args.name)
    hf = save_hf(tok, out / "tokenizer.json")
    tt = save_tiktoken(tok, out / f"{args.name}.tiktoken")
    say(f"{tok!r}: {len(tok.merges):,} merges")
    for path in (model, model.with_suffix(".vocab"), hf, tt):
        say(f"wrote {path}")


def _bpe_io_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("model", help="a .model file written by `nanonlp bpe train`")
    p.add_argument("--input", "-i", help=f"{what} to read (default: stdin)")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")


def _bpe_encode_args(p: argparse.ArgumentParser) -> None:
    _bpe_io_args(p, "UTF-8 text file")
    p.add_argument("--special", choices=["allow", "text", "error"], default="allow",
                   help="special tokens in the text: encode as special ids (allow), as plain "
                        "text, or fail (error, tiktoken's default)")
    p.add_argument("--workers", type=at_least(0), default=1, help="processes (0: all cores)")
    p.description = ("Encodes text to token ids: one line of space-separated ids, or, when "
                     "--output ends in .npy (or .bin: raw uint16/uint32), a memory-mappable "
                     "array for the GPT and BERT trainers.")


def _bpe_encode(args: argparse.Namespace) -> None:
    tok = Tokenizer.load(args.model)
    kwargs = {"allow": {"allowed_special": "all"},
              "text": {"allowed_special": (), "disallowed_special": ()},
              "error": {"allowed_special": (), "disallowed_special": "all"}}[args.special]
    try:
        _bpe_encode_with(args, tok, kwargs)
    except SpecialTokenError as e:  # the library's hint names Python arguments: say the CLI's
        where = e.where or f"{args.input or '<stdin>'}: "
        raise DataError(f"{where}text contains special token {e.token!r} at character "
                        f"{e.position}; use --special allow to encode it as a special token, "
                        "or --special text for ordinary text") from None


def _bpe_encode_with(args: argparse.Namespace, tok, kwargs: dict) -> None:
    if args.output and args.output.endswith((".npy", ".bin")):  # the suffix picks the format
        if args.input:
            n = tok.encode_file(args.input, args.output, workers=args.workers, **kwargs)
        else:
            n = write_tokens(args.output, [tok.encode(stdin_text(), **kwargs)],
                             tok.vocab_size)
        say(f"wrote {n:,} tokens to {args.output}")
        return
    text = read_text(args.input) if args.input else stdin_text()
    line = " ".join(map(str, tok.encode(text, **kwargs)))
    if args.output:
        with atomic_write(args.output) as f:
            f.write(line + "\n")
    else:
        say(line)


def _bpe_decode_args(p: argparse.ArgumentParser) -> None:
    _bpe_io_args(p, "ids (whitespace-separated text, or a .npy / .bin token file)")
    p.add_argument("--errors", choices=["replace", "strict"], default="replace",
                   help="ids that do not form valid UTF-8: U+FFFD (replace) or fail (strict)")


def _bpe_decode(args: argparse.Namespace) -> None:
    tok = Tokenizer.load(args.model)
    if args.input and args.input.endswith((".npy", ".bin")):  # the suffix picks the format
        ids = read_tokens(args.input, tok.vocab_size).tolist()
    else:  # a text file, or stdin: whitespace-separated ids
        raw = read_text(args.input) if args.input else stdin_text()
        try:
            ids = [int(x) for x in raw.split()]
        except ValueError as e:
            raise DataError(f"{args.input or '<stdin>'}: expected token ids, {e}") from None
    text = tok.decode(ids, errors=args.errors)
    if args.output:
        with atomic_write(args.output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _bpe_inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a .model file written by `nanonlp bpe train`")
    p.add_argument("--text", help="a text file or data set name to measure compression on")
    p.add_argument("--top", type=at_least(1), default=10,
                   help="how many merges / longest tokens to show")


def _bpe_inspect(args: argparse.Namespace) -> None:
    tok = Tokenizer.load(args.model)
    say(f"vocab size {tok.vocab_size:,}: 256 bytes + {len(tok.merges):,} merges + "
        f"{len(tok.special_tokens)} special {list(tok.special_tokens)}")
    say(f"pattern {pattern_name(tok.pattern)}: {tok.pattern!r}")
    if args.text:
        files, texts = _bpe_sources([args.text])
        pieces = [p for f in files for p in iter_pieces(f)] if files else texts
        n_bytes = n_tokens = 0
        for piece in pieces:
            n_bytes += len(piece.encode("utf-8"))
            n_tokens += len(tok.encode(piece, allowed_special="all"))
        say(f"compression on {args.text}: {n_bytes:,} bytes -> {n_tokens:,} tokens = "
            f"{n_bytes / max(n_tokens, 1):.3f} bytes/token")
    say(f"first {args.top} merges:")
    ids = tok.ids or range(len(tok.vocab))  # rank order -> the tokenizer's ids
    for (a, b), i in list(tok.ranks.items())[: args.top]:
        say(f"  {ids[i]:>6}  [{render_token(tok.vocab[a])}] + [{render_token(tok.vocab[b])}]"
            f" -> [{render_token(tok.vocab[i])}]")
    say(f"longest {args.top} tokens:")
    for i in sorted(range(256, len(tok.vocab)), key=lambda i: (-len(tok.vocab[i]), i))[:args.top]:
        say(f"  {ids[i]:>6}  {len(tok.vocab[i]):>3} bytes  [{render_token(tok.vocab[i])}]")


COMMANDS: list[Command] = [
    Command(("bpe", "train"), "train a byte-level BPE tokenizer on files or data sets",
            _bpe_train, _bpe_train_args,
            "Counts chunks on all cores, learns merges (progress bar), and writes NAME.model "
            "(what the other bpe commands read), NAME.vocab (for people), tokenizer.json "
            "(HF tokenizers) and NAME.tiktoken (tiktoken ranks) into --out."),
    Command(("bpe", "encode"), "text -> token ids (stdin/stdout, or files; .npy arrays)",
            _bpe_encode, _bpe_encode_args),
    Command(("bpe", "decode"), "token ids -> text (stdin/stdout, or files)", _bpe_decode,
            _bpe_decode_args),
    Command(("bpe", "inspect"), "a tokenizer's compression on a text, longest tokens, merges",
            _bpe_inspect, _bpe_inspect_args),
]
