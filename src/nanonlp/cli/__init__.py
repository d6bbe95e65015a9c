"""The ``nanonlp`` command: one table of ``nanonlp <group> <verb>`` commands.

Each command is a thin wrapper over a library function: it parses flags (named after config
dataclass fields, see :mod:`nanonlp.cliargs`), calls the library, prints. No logic lives here
that the Python API lacks. This is the only module that exits: a :class:`NanonlpError` (bad
input, missing data) becomes one line on stderr and exit status 2, with no traceback.

One module per group holds its rows and their small wrappers (``cli/gpt.py`` is
``nanonlp gpt ...``); a new command is a function and a row there.
"""

from __future__ import annotations

import argparse
import sys

from nanonlp import __version__
from nanonlp.cli import (
    bert,
    bert_embed,
    bpe,
    chat,
    data,
    gpt,
    ner,
    serve,
    tour,
    translate,
    word2vec,
)
from nanonlp.cli.common import Command, Parser
from nanonlp.errors import NanonlpError
from nanonlp.training.driver import Interrupted

GROUPS: dict[str, str] = {
    "data": "named data sets: list, inspect, locate and download them",
    "bpe": "byte-level BPE tokenizer: train, encode, decode, inspect",
    "word2vec": "word vectors: train (numpy or gensim), evaluate, query, plot",
    "ner": "named-entity recognition with spaCy: convert, train, evaluate, tag",
    "gpt": "decoder-only transformer (GPT): prepare data, train, sample, evaluate, export, "
           "fine-tune on conversations, chat",
    "translate": "machine translation with a GRU encoder-decoder and attention: train, "
                 "evaluate, translate",
    "bert": "encoder-only transformer (BERT): pretrain, fine-tune, predict, export, embed, "
            "search",
}

COMMANDS: list[Command] = [*tour.COMMANDS, *data.COMMANDS, *bpe.COMMANDS, *ner.COMMANDS,
                           *word2vec.COMMANDS, *gpt.COMMANDS, *chat.COMMANDS,
                           *translate.COMMANDS,
                           *bert.COMMANDS, *bert_embed.COMMANDS, *serve.COMMANDS]

__all__ = ["COMMANDS", "GROUPS", "Command", "build_parser", "main"]


def _parser(parent, name: str, **kwargs) -> argparse.ArgumentParser:
    # allow_abbrev=False: a flag added later must not change what an old command line means
    # (with prefix matching, --train.max would silently mean --train.max_steps)
    return parent.add_parser(name, allow_abbrev=False, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree for every command in the table."""
    parser = Parser(
        prog="nanonlp", allow_abbrev=False,
        description="Deep learning for NLP from scratch: BPE, word2vec, NER, translation, GPT, "
                    "BERT. Data sets are found through $NANONLP_DATA, the cache, or packages.",
    )
    parser.add_argument("--version", action="version", version=f"nanonlp {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in COMMANDS:
        if len(cmd.path) == 1:
            sub = _parser(top, cmd.path[0], help=cmd.help,
                          description=cmd.description or cmd.help)
        else:
            group, verb = cmd.path
            if group not in groups:
                gp = _parser(top, group, help=GROUPS[group], description=GROUPS[group])
                gp.set_defaults(_group_parser=gp)
                groups[group] = gp.add_subparsers(dest="verb", metavar="VERB")
            sub = _parser(groups[group], verb, help=cmd.help,
                          description=cmd.description or cmd.help)
        if cmd.configure is not None:
            cmd.configure(sub)
        sub.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nanonlp`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits here: one line, status 2
    run = getattr(args, "_run", None)
    if run is None:
        (getattr(args, "_group_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(run(args) or 0)
    except NanonlpError as e:
        print(f"nanonlp: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:  # training saved last/: say how to resume
        print(f"nanonlp: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("nanonlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nanonlp ... | head` closed the pipe: not an error
        return 0
    except OSError as e:  # a path the user gave: missing, a folder, read-only, disk full, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"nanonlp: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
