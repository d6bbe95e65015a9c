"""Configuration of the translator: the data (:class:`DataConfig`), the model
(:class:`Seq2SeqConfig`), and named presets that bundle both with a training recipe.

The ``tutorial`` preset is the PyTorch seq2seq tutorial's task (eng-fra, French -> English,
sentences under 10 words starting "i am", "he is", ...); ``multi30k`` is WMT16 Multi30k task 1
German -> English. Model defaults follow Bahdanau et al. (2015) scaled down for a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nanonlp.configs import ModelConfig
from nanonlp.errors import ConfigError
from nanonlp.seq2seq.vocab import NORMALIZERS
from nanonlp.training.config import pick_preset

FILTERS = ("tutorial", "none")


@dataclass
class DataConfig:
    source: str = "eng-fra"  # eng-fra, multi30k, a TSV pair file, or SRC_FILE,TGT_FILE
    src_lang: str = "fr"  # source language (eng-fra: fr or en; multi30k: de, fr, en, cs)
    tgt_lang: str = "en"  # target language
    filter: str = "tutorial"  # eng-fra pairs kept: tutorial (<10 words, "i am ..." prefixes), none
    normalizer: str = "tutorial"  # tutorial (ASCII, the tutorial's), lower (Unicode), none
    vocab: str = "word"  # "word" (min_freq words) or a nanonlp BPE .model file (shared by both)
    min_freq: int = 1  # words seen fewer times in training become <unk>
    max_tokens: int = 0  # drop training pairs with a side longer than this (0: keep all)
    heldout: float = 0.05  # eng-fra/files: fraction of source sentences held out for val, and test
    split_seed: int = 0  # salt of the held-out hash (a different seed: a different split)

    def __post_init__(self):
        if self.filter not in FILTERS:
            raise ConfigError(f"unknown filter {self.filter!r}; choose {', '.join(FILTERS)}")
        if self.normalizer not in NORMALIZERS:
            raise ConfigError(f"unknown normalizer {self.normalizer!r}; choose "
                              f"{', '.join(NORMALIZERS)}")
        if self.min_freq < 1:
            raise ConfigError(f"min_freq must be >= 1, got {self.min_freq}")
        if self.max_tokens < 0:
            raise ConfigError(f"max_tokens must be >= 0, got {self.max_tokens}")
        if not 0 < self.heldout < 0.5:
            raise ConfigError(f"heldout must be in (0, 0.5), got {self.heldout}")
        if not self.source:
            raise ConfigError("source is empty: give eng-fra, multi30k or a pair file")
        if self.src_lang == self.tgt_lang:
            raise ConfigError(f"src_lang and tgt_lang are both {self.src_lang!r}")


@dataclass
class Seq2SeqConfig(ModelConfig):
    what = "seq2seq"  # (not a field: no annotation) names the model in errors

    src_vocab: int = 0  # source vocabulary size (taken from the data)
    tgt_vocab: int = 0  # target vocabulary size (taken from the data)
    emb_dim: int = 256  # word embedding size, source and target
    hidden: int = 256  # GRU state size (each direction of the encoder)
    attn_dim: int = 256  # size of the additive attention's hidden layer
    bidirectional: bool = True  # encoder reads both ways (Bahdanau et al. 2015)
    dropout: float = 0.2  # on embeddings and before the readout layer
    tie_embeddings: bool = True  # output layer = target embeddings (Press & Wolf 2017)
    label_smoothing: float = 0.0  # spread this much target mass uniformly (Szegedy et al. 2016)
    max_len: int = 60  # longest translation produced when decoding (tokens)

    def __post_init__(self):
        for name in ("emb_dim", "hidden", "attn_dim", "max_len"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("src_vocab", "tgt_vocab"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


#: name -> {"data": ..., "model": ..., "train": ...} overrides of the dataclass defaults.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # the tutorial's task; our recipe (bi-GRU 192, dropout, label smoothing, bucketed batches)
    "tutorial": {
        "data": dict(source="eng-fra", src_lang="fr", tgt_lang="en", filter="tutorial",
                     normalizer="tutorial"),
        "model": dict(emb_dim=128, hidden=192, attn_dim=128, dropout=0.2, label_smoothing=0.1,
                      max_len=20),
        "train": dict(max_steps=6000, batch_size=32, lr=3e-3, min_lr=1e-4, warmup_steps=100,
                      weight_decay=0.01, eval_interval=500, eval_steps=10, out="runs/translate"),
    },
    # every eng-fra pair (no prefix / length filter), French -> English
    "eng-fra": {
        "data": dict(source="eng-fra", src_lang="fr", tgt_lang="en", filter="none",
                     normalizer="tutorial", min_freq=2, max_tokens=30),
        "model": dict(emb_dim=256, hidden=384, attn_dim=256, dropout=0.2, label_smoothing=0.1,
                      max_len=40),
        "train": dict(max_steps=30000, batch_size=64, lr=2e-3, min_lr=1e-4, warmup_steps=300,
                      weight_decay=0.01, eval_interval=1000, eval_steps=10,
                      out="runs/translate"),
    },
    # Multi30k task 1, German -> English (bentrevett's setting: words seen twice or more)
    "multi30k": {
        "data": dict(source="multi30k", src_lang="de", tgt_lang="en", filter="none",
                     normalizer="lower", min_freq=2),
        "model": dict(emb_dim=256, hidden=256, attn_dim=256, dropout=0.3, label_smoothing=0.1,
                      max_len=60),
        "train": dict(max_steps=9000, batch_size=64, lr=3e-3, min_lr=1e-4, warmup_steps=200,
                      weight_decay=0.01, eval_interval=1000, eval_steps=10,
                      out="runs/translate"),
    },
    # a few seconds on CPU: tests and the quick tour
    "tiny": {
        "data": dict(),
        "model": dict(emb_dim=32, hidden=32, attn_dim=32, dropout=0.0, max_len=20),
        "train": dict(max_steps=200, batch_size=16, lr=1e-2, min_lr=1e-3, warmup_steps=10,
                      weight_decay=0.0, eval_interval=100, eval_steps=2, out="runs/translate"),
    },
}


def presets(name: str | None = None) -> dict[str, Any]:
    """Preset ``name`` ({"model": ..., "train": ...}), or all of them: copies, safe to modify."""
    return pick_preset(PRESETS, name)

