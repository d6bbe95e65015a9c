"""The BPE training configuration (the CLI's ``nanonlp bpe train`` flags are its fields)."""

from __future__ import annotations

from dataclasses import dataclass

from nanonlp.bpe.patterns import resolve_pattern
from nanonlp.errors import ConfigError


@dataclass
class BPEConfig:
    vocab_size: int = 4096  # final vocabulary: 256 byte tokens + merges + special tokens
    pattern: str = "gpt4"  # split regex: gpt2, gpt4 (tiktoken cl100k), none, or a regex
    special: tuple[str, ...] = ("<|endoftext|>",)  # special tokens; they separate documents
    workers: int = 0  # processes that count chunks (0: all cores); merging is one process

    def __post_init__(self):
        self.special = tuple(self.special)
        resolve_pattern(self.pattern)  # raises ConfigError for an unknown name or a bad regex
        floor = 256 + len(self.special)
        if not isinstance(self.vocab_size, int) or self.vocab_size < floor:
            raise ConfigError(f"vocab_size {self.vocab_size} is below {floor} (256 byte tokens "
                              f"+ {len(self.special)} special tokens)")
        for s in self.special:
            if not s:
                raise ConfigError("special tokens must not be empty strings")
        dupes = sorted({s for s in self.special if self.special.count(s) > 1})
        if dupes:
            raise ConfigError(f"special token(s) given twice: {dupes}")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0 (0 = all cores), got {self.workers}")

    @property
    def num_merges(self) -> int:
        """How many merges training aims for."""
        return self.vocab_size - 256 - len(self.special)
