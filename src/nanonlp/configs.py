"""What every config dataclass shares: rebuilding one from the dict a checkpoint saved, and
the size limits a transformer's shape is held to before anything is allocated.

The model configs (``gpt``, ``bert``, ``seq2seq``) get ``to_dict``/``from_dict`` from
:class:`ModelConfig`, whose ``from_dict`` is :func:`config_from_dict`. They live here, not
beside the command-line flags in :mod:`nanonlp.cliargs`, so that a model config does not
depend on the CLI's helpers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

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


C = TypeVar("C", bound="ModelConfig")


class ModelConfig:
    """What a checkpoint's model config (``GPTConfig``, ``BertConfig``, ``Seq2SeqConfig``, all
    dataclasses) does with its ``config.json``: ``to_dict`` to save it, ``from_dict`` to read
    it back (``what`` names the model in the error for an unknown field)."""

    what = "model"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        return config_from_dict(cls, d, cls.what)


#: the largest position table and parameter count a config may ask for: far above any model
#: nanonlp trains (GPT-2 xl: 1,024 positions, 1.6e9 parameters), far below what would make a
#: crafted config.json exhaust memory at allocation instead of failing with a message
MAX_POSITIONS = 1 << 20
MAX_PARAMS = 10 ** 11


def check_transformer_size(what: str, vocab_size: int, block_size: int, n_layer: int,
                           n_embd: int, n_inner: int | None = None) -> None:
    """Refuse a transformer shape whose tables or weights no machine could hold.

    >>> check_transformer_size("GPT", 50257, 1024, 48, 1600)  # GPT-2 xl passes
    >>> check_transformer_size("GPT", 65, 1_000_000_000, 4, 128)
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: GPT block_size 1000000000 is above the limit of 1048576 positions
    """
    if block_size > MAX_POSITIONS:
        raise ConfigError(f"{what} block_size {block_size} is above the limit of "
                          f"{MAX_POSITIONS} positions")
    inner = n_inner or 4 * n_embd
    params = n_layer * (4 * n_embd * n_embd + 2 * n_embd * inner) + \
        (vocab_size + block_size) * n_embd
    if params > MAX_PARAMS:
        raise ConfigError(f"{what} config asks for about {params:.2g} parameters (vocab_size "
                          f"{vocab_size}, n_layer {n_layer}, n_embd {n_embd}), above the limit "
                          f"of {MAX_PARAMS:.0e}")
