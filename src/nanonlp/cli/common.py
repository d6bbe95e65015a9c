"""What every command module of the CLI shares: the table row, printing, flag helpers.

The command modules (one per part: :mod:`~nanonlp.cli.data`, :mod:`~nanonlp.cli.bpe`, ...)
each hold a list ``COMMANDS`` of :class:`Command` rows; :mod:`nanonlp.cli` joins them into
one table and one parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nanonlp.errors import DataError


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    path: tuple[str, ...]  # ("data", "list") is `nanonlp data list`; ("tour",) is top level
    help: str  # one line, shown in the group's --help
    run: Callable[[argparse.Namespace], int | None]
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    description: str = ""  # longer text for the command's own --help


def say(*parts: object) -> None:
    """Print to stdout (the commands' output channel)."""
    print(*parts, flush=True)


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"nanonlp: warning: {message}", file=sys.stderr, flush=True)


#: group description of the config flags of commands that take a --preset
PRESET_NOTE = ("--preset sets some of these (its recipe wins over the defaults shown here); "
               "a flag given here wins over both")


def add_import_args(p: argparse.ArgumentParser, hf_dir_help: str) -> None:
    """The positionals of ``gpt import`` and ``bert import``: ``hf_dir out``."""
    p.add_argument("hf_dir", help=hf_dir_help)
    p.add_argument("out", help="checkpoint folder to write (config.json, model.safetensors, "
                   "tokenizer.model)")


def imported(r: Any, name: str) -> str:
    """How an import's summary line starts: ``OUT: NAME 2 layers x 64 (2 heads), vocabulary
    1,000`` (``r``: a ``gpt`` or ``bert`` ``ImportReport``)."""
    c = r.config
    return (f"{r.out}: {name} {c.n_layer} layers x {c.n_embd} ({c.n_head} heads), vocabulary "
            f"{c.vocab_size:,}")


def prefixed(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The flags the user gave under ``--prefix.field`` (defaults come from the preset).

    >>> prefixed(argparse.Namespace(**{"train.max_steps": 5, "seed": 1}), "train")
    {'max_steps': 5}
    """
    return {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith(prefix + ".")}


def stdin_text() -> str:
    """All of stdin as strict UTF-8 (a bad byte is a one-line error naming the line)."""
    from nanonlp.bpe.stream import decode_utf8

    buffer = getattr(sys.stdin, "buffer", None)  # absent when stdin was replaced by a StringIO
    return decode_utf8(buffer.read(), "<stdin>") if buffer is not None else sys.stdin.read()


def stdin_lines() -> list[str]:
    """Stdin's lines (strict UTF-8, newlines stripped)."""
    return stdin_text().splitlines()


def input_lines(path: str | None) -> list[str]:
    """The lines of a text file, or of stdin when ``path`` is None or ``-``."""
    from nanonlp.fileio import iter_lines

    if path in (None, "-"):
        return stdin_lines()
    return [line for _, line in iter_lines(path)]


def checked_arg(text: str, what: str) -> str:
    """A command-line string that must be valid UTF-8 (argv bytes that are not arrive as
    surrogate escapes): refused with the byte's offset rather than passed on garbled.

    >>> checked_arg("caf\\udcc3", "--prompt")
    Traceback (most recent call last):
    nanonlp.errors.DataError: --prompt: invalid UTF-8 byte 0xc3 at offset 3
    """
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            offset = len(text[:i].encode("utf-8", "surrogateescape"))
            raise DataError(f"{what}: invalid UTF-8 byte 0x{ord(ch) - 0xdc00:02x} at offset "
                            f"{offset}")
    return text


def at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer no smaller than ``low``.

    >>> at_least(0)("3")
    3
    >>> at_least(1)("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be an integer >= 1, got '0'
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``nanonlp: error: ...``, exit status 2), as every other
    user error gets, instead of the usage block followed by the message."""

    def error(self, message: str):
        """Print ``message`` as one line naming the command, and exit with status 2."""
        print(f"nanonlp: error: {self.prog}: {message} (see {self.prog} --help)",
              file=sys.stderr)
        raise SystemExit(2)


def add_train_flags(p: argparse.ArgumentParser, what: str) -> None:
    """The flags every torch training command shares, named alike in all of them."""
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder "
                   f"(e.g. OUT/last of an earlier {what}); --train.* flags may extend it, e.g. "
                   "max_steps")
    p.add_argument("--budget_min", type=float, metavar="MIN",
                   help="train for this many minutes of wall clock instead of max_steps "
                        "(the schedule is fitted to the budget as the run goes)")
