"""Config dataclasses as command-line flags.

The CLI's flags *are* the config fields: ``--vocab_size 4096`` or, with a prefix,
``--train.max_steps 200``, parsed into the same dataclass the Python API takes. The help text
of each flag is the comment beside the field in the dataclass source, so the two never drift.

>>> @dataclass
... class TrainConfig:
...     max_steps: int = 100   # optimizer steps to take
>>> p = argparse.ArgumentParser(); add_config_args(p, TrainConfig, prefix="train")
>>> config_from_args(p.parse_args(["--train.max_steps", "5"]), TrainConfig, prefix="train")
TrainConfig(max_steps=5)
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from dataclasses import MISSING, dataclass  # noqa: F401  (dataclass: for the doctest)
from typing import Any, Literal, get_args, get_origin

from nanonlp.configs import config_from_dict  # noqa: F401  (re-exported for CLI callers)


def field_comments(cls: type) -> dict[str, str]:
    """Map each field of a dataclass to the ``# comment`` on its line in the source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines():
        m = re.match(r"\s*(\w+)\s*:[^#]*#\s*(.+)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def _resolve_type(tp: Any) -> tuple[Any, bool]:
    """Strip ``Optional``: return ``(inner type, accepts None)``."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _parse_bool(s: str) -> bool:
    v = s.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


def add_config_args(parser: argparse.ArgumentParser, cls: type, prefix: str | None = None,
                    skip: tuple[str, ...] = (), defaults: dict[str, Any] | None = None,
                    note: str | None = None) -> None:
    """Add one ``--[prefix.]field`` option per field of dataclass ``cls``.

    ``defaults`` replaces the default shown in the help of some fields (where the command, not
    the dataclass, decides it, e.g. a part's own output folder); ``note`` becomes the group's
    description (e.g. that a ``--preset`` sets some of these fields).
    """
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    group = parser.add_argument_group(f"{prefix or cls.__name__} options", note)
    shown = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, nullable = _resolve_type(hints[f.name])
        default = f.default if f.default is not MISSING else (
            f.default_factory() if f.default_factory is not MISSING else None)
        default = shown.get(f.name, default)
        flag = f"--{prefix}.{f.name}" if prefix else f"--{f.name}"
        help_text = comments.get(f.name, "")
        kwargs: dict[str, Any] = {"dest": _dest(f.name, prefix), "default": argparse.SUPPRESS}
        if get_origin(tp) is Literal:
            kwargs["choices"] = list(get_args(tp))
            kwargs["type"] = type(get_args(tp)[0])
        elif tp is bool:
            kwargs["type"] = _parse_bool
            kwargs["metavar"] = "BOOL"
        elif tp in (int, float, str):
            kwargs["type"] = tp
        elif get_origin(tp) in (tuple, list):
            inner = get_args(tp)[0] if get_args(tp) else str
            kwargs["type"] = inner
            kwargs["nargs"] = "*"
        else:
            kwargs["type"] = str
        if nullable and kwargs.get("type") in (int, float, str):
            base = kwargs["type"]
            kwargs["type"] = lambda s, base=base: None if s.lower() == "none" else base(s)
            kwargs["metavar"] = base.__name__.upper()
        kwargs["help"] = f"{help_text} (default: {default!r})".strip()
        group.add_argument(flag, **kwargs)


def positional_config_args(cls, **positionals: str):
    """The ``add_args(parser)`` of a command that takes ``positionals`` (name=help, in order)
    and then every other field of the config dataclass ``cls`` as a flag."""
    def add_args(p: argparse.ArgumentParser) -> None:
        for name, help_text in positionals.items():
            p.add_argument(name, help=help_text)
        add_config_args(p, cls, skip=tuple(positionals))
    return add_args


def _dest(name: str, prefix: str | None) -> str:
    return f"{prefix}.{name}" if prefix else name


def config_from_args(args: argparse.Namespace, cls: type, prefix: str | None = None,
                     **overrides: Any):
    """Build ``cls`` from the flags the user gave (others keep the dataclass defaults)."""
    given = vars(args)
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = _dest(f.name, prefix)
        if key in given:
            value = given[key]
            if isinstance(value, list) and get_origin(typing.get_type_hints(cls)[f.name]) is tuple:
                value = tuple(value)
            kwargs[f.name] = value
    kwargs.update(overrides)
    return cls(**kwargs)
