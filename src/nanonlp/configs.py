"""What every config dataclass shares: rebuilding one from the dict a checkpoint saved.

The model configs (``gpt``, ``bert``, ``seq2seq``) call :func:`config_from_dict` in their
``from_dict``; it lives here, not beside the command-line flags in :mod:`nanonlp.cliargs`, so
that a model config does not depend on the CLI's helpers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nanonlp.errors import ConfigError


def config_from_dict(cls: type, d: dict[str, Any], what: str):
    """Rebuild config dataclass ``cls`` from a JSON dict (a checkpoint's), refusing unknown keys.

    A key this version does not know means the file came from another model or version:
    better a one-line error naming it than a model silently built from the defaults.

    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class C:
    ...     n: int = 1
    >>> config_from_dict(C, {"n": 2}, "C")
    C(n=2)
    >>> config_from_dict(C, {"m": 2}, "C")
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: unknown C config field(s) ['m']
    """
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ConfigError(f"unknown {what} config field(s) {unknown}")
    return cls(**d)
