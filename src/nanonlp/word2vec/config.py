"""The one configuration that both word2vec backends (ours in numpy/numba, and gensim) take.

Defaults are those of Mikolov's C tool and gensim's ``Word2Vec`` (skip-gram's learning rate
0.025, CBOW's 0.05 is the C tool's advice; pass ``alpha=0.05`` for CBOW to follow it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from nanonlp.errors import ConfigError


@dataclass
class Word2VecConfig:
    model: Literal["sg", "cbow"] = "sg"  # skip-gram (predict context from word) or CBOW
    dim: int = 100  # vector size; 100-300 is the usual range, 100 trains fastest
    window: int = 5  # largest context radius; each position draws a radius in 1..window
    negative: int = 5  # noise words per positive pair (5-20 small corpora, 2-5 large ones)
    sample: float = 1e-3  # subsampling threshold t of frequent words (0 turns it off)
    min_count: int = 5  # drop words seen fewer times than this
    max_vocab: int | None = None  # keep at most this many of the most frequent words
    epochs: int = 5  # passes over the corpus
    alpha: float = 0.025  # starting learning rate; decays linearly to min_alpha
    min_alpha: float = 0.0001  # learning rate at the end of the last epoch
    seed: int = 1  # seeds initial vectors and every random draw (windows, negatives, sampling)
    workers: int = 2  # threads of the fast path (Hogwild updates, as the C tool and gensim)
    backend: Literal["numpy", "gensim"] = "numpy"  # ours (numpy/numba) or gensim's Word2Vec
    kernel: Literal["fast", "reference"] = "fast"  # numba kernel, or the plain numpy loop
    ns_exponent: float = 0.75  # noise distribution is unigram^ns_exponent (Mikolov et al. 2013)
    max_sentence: int = 10_000  # longer sentences are cut, as in gensim (MAX_WORDS_IN_BATCH)
    report_every: int = 500_000  # words between two progress records

    def __post_init__(self):
        if self.model not in ("sg", "cbow"):
            raise ConfigError(f"model must be 'sg' or 'cbow', got {self.model!r}")
        if self.backend not in ("numpy", "gensim"):
            raise ConfigError(f"backend must be 'numpy' or 'gensim', got {self.backend!r}")
        if self.kernel not in ("fast", "reference"):
            raise ConfigError(f"kernel must be 'fast' or 'reference', got {self.kernel!r}")
        for f in fields(self):  # NaN fails no comparison below, so test it first
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value!r}")
        for name in ("dim", "window", "negative", "epochs", "workers", "min_count",
                     "max_sentence", "report_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"max_vocab must be positive or None, got {self.max_vocab!r}")
        if not 0.0 <= self.sample < 1.0:
            raise ConfigError(f"sample must be in [0, 1), got {self.sample!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if not 0.0 <= self.min_alpha <= self.alpha:
            raise ConfigError(f"min_alpha must be in [0, alpha={self.alpha}], "
                              f"got {self.min_alpha!r}")
        if self.ns_exponent < 0:
            raise ConfigError(f"ns_exponent must be >= 0, got {self.ns_exponent!r}")
