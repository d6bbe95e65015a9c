"""Parallel data for translation: read pairs, filter, split, encode, and sample batches.

Sources: ``eng-fra`` (Tatoeba pairs, the PyTorch seq2seq tutorial's data), ``multi30k``
(task 1: train / val / test2016), a TSV file of ``source<TAB>target`` lines, or two
line-aligned files ``SRC,TGT``.

The held-out split of eng-fra (and of files) is fixed and reproducible without the file's
order: a pair goes to ``test`` when ``sha256(f"{split_seed}\\t{normalised source}")``, read
as a fraction of 2**64 from its first 8 bytes, is below ``heldout``; to ``val`` when it is
below ``2 * heldout``; else to ``train`` (:func:`heldout_split`). Hashing the *source* keeps
every translation of one sentence on the same side, so no test source is ever seen in
training, and the test set can be scored against all of a source's translations.

Batches (:meth:`ParallelData.batch`) are length-bucketed (:mod:`nanonlp.training.buckets`):
``batch_size`` neighbours in length order from a random start, so each batch pads little and
the draw depends only on the generator (an exactly resumable run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import torch

from nanonlp.datasets.records import Pair
from nanonlp.errors import ConfigError, DataError
from nanonlp.seq2seq.config import DataConfig
from nanonlp.seq2seq.vocab import BOS, EOS, PAD, UNK, BPEVocab, Vocab, WordVocab, normalize
from nanonlp.training.buckets import LengthOrder

SPLITS = ("train", "val", "test")
MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test2016"}
#: the tutorial's English prefixes (``eng_prefixes``), matched on normalised English text
ENG_PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ",
                "we are", "we re ", "they are", "they re ")
TUTORIAL_MAX_LENGTH = 10


def heldout_split(source: str, fraction: float, seed: int = 0) -> str:
    """``"test"``, ``"val"`` or ``"train"`` for a (normalised) source sentence, by its hash.

    >>> heldout_split("je suis content .", 0.05)
    'train'
    >>> [heldout_split(s, 0.3) for s in ("a", "b", "c")]   # test below 0.3, val below 0.6
    ['val', 'train', 'test']
    """
    digest = hashlib.sha256(f"{seed}\t{source}".encode()).digest()
    h = int.from_bytes(digest[:8], "big") / 2.0 ** 64  # uniform in [0, 1)
    return "test" if h < fraction else "val" if h < 2 * fraction else "train"


def tutorial_keep(src: str, tgt: str, english: str) -> bool:
    """The tutorial's ``filterPair`` on normalised text: both sides under 10 words (counted
    as the tutorial does, by single spaces) and the English side starting "i am", "he is", ...

    >>> tutorial_keep("je suis froid .", "i am cold .", "i am cold .")
    True
    >>> tutorial_keep("c est un chat .", "it is a cat .", "it is a cat .")
    False
    """
    return (len(src.split(" ")) < TUTORIAL_MAX_LENGTH and len(tgt.split(" ")) <
            TUTORIAL_MAX_LENGTH and english.startswith(ENG_PREFIXES))


def _raw_pairs(cfg: DataConfig, split: str) -> Iterator[Pair]:
    """Pairs (source, target) of one split of a data set with its own splits, or every pair
    of a source split by hash (``split`` "all"); not normalised."""
    from nanonlp import datasets as D
    from nanonlp.datasets import readers as R

    if cfg.source == "multi30k":
        yield from D.load("multi30k", MULTI30K_SPLITS[split], src=cfg.src_lang, tgt=cfg.tgt_lang)
        return
    if cfg.source in ("eng-fra", "fra-eng"):
        langs = {cfg.src_lang, cfg.tgt_lang}
        if langs != {"en", "fr"}:
            raise ConfigError(f"eng-fra has en and fr, not {cfg.src_lang}->{cfg.tgt_lang}")
        yield from D.load("eng-fra", "all", reverse=cfg.src_lang == "fr")
        return
    parts = cfg.source.split(",")
    for p in parts:
        if not Path(p).exists():
            raise DataError(f"{p}: no such file (source must be eng-fra, multi30k, a TSV "
                            "pair file or SRC_FILE,TGT_FILE)")
    if len(parts) == 1:
        yield from R.read_tsv_pairs(parts[0])
    elif len(parts) == 2:
        yield from R.read_parallel(parts[0], parts[1])
    else:
        raise ConfigError(f"source {cfg.source!r}: give one TSV file or two files SRC,TGT")


def _clean(cfg: DataConfig, records) -> Iterator[Pair]:
    """Normalise, drop empty sides, apply the configured filter."""
    for p in records:
        src, tgt = normalize(p.source, cfg.normalizer), normalize(p.target, cfg.normalizer)
        if not src or not tgt:
            continue
        if cfg.filter == "tutorial" and not tutorial_keep(
                src, tgt, tgt if cfg.tgt_lang == "en" else src):
            continue
        yield Pair(src, tgt)


def read_splits(cfg: DataConfig, splits: tuple[str, ...] = SPLITS) -> dict[str, list[Pair]]:
    """Normalised, filtered pairs of each split (a hash-split source is read once)."""
    for split in splits:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose {', '.join(SPLITS)}")
    if cfg.source == "multi30k":
        out = {s: list(_clean(cfg, _raw_pairs(cfg, s))) for s in splits}
    else:
        out = {s: [] for s in splits}
        for p in _clean(cfg, _raw_pairs(cfg, "all")):
            s = heldout_split(p.source, cfg.heldout, cfg.split_seed)
            if s in out:
                out[s].append(p)
    for s, pairs in out.items():
        if not pairs:
            raise DataError(f"{cfg.source}: no {s} pairs"
                            + (" after the tutorial filter" if cfg.filter == "tutorial" else ""))
    return out


def read_all(cfg: DataConfig) -> list[Pair]:
    """Every normalised, filtered pair of a file source (no held-out split: a test file)."""
    if cfg.source in ("multi30k", "eng-fra", "fra-eng"):
        raise ConfigError(f"{cfg.source} has its own splits; read one with read_pairs")
    pairs = list(_clean(cfg, _raw_pairs(cfg, "all")))
    if not pairs:
        raise DataError(f"{cfg.source}: no pairs")
    return pairs


def read_pairs(cfg: DataConfig, split: str) -> list[Pair]:
    """Normalised, filtered pairs of one split."""
    return read_splits(cfg, (split,))[split]


def build_vocabs(cfg: DataConfig, train: list[Pair]) -> tuple[Vocab, Vocab]:
    """Source and target vocabularies from the training pairs (or one shared BPE model).

    The pairs are already normalised, so the vocabularies keep ``cfg.normalizer`` for new text
    but count the words as they are.
    """
    if cfg.vocab == "word":
        src = WordVocab.train((p.source for p in train), "none", cfg.min_freq)
        tgt = WordVocab.train((p.target for p in train), "none", cfg.min_freq)
        src.normalizer = tgt.normalizer = cfg.normalizer
        return src, tgt
    bpe = BPEVocab.from_file(cfg.vocab, cfg.normalizer)
    return bpe, bpe


def encode_pairs(pairs: list[Pair], src_vocab: Vocab, tgt_vocab: Vocab
                 ) -> list[tuple[list[int], list[int]]]:
    """(source ids + ``<eos>``, target ids) for each pair."""
    return [([*src_vocab.encode(p.source), EOS], tgt_vocab.encode(p.target)) for p in pairs]


def collate(items: list[tuple[list[int], list[int]]]
            ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Pad a batch: ``((src, tgt_in), tgt_out)``.

    src (B, S) is source ids + ``<eos>``; tgt_in (B, T) is ``<bos>`` + target (teacher
    forcing); tgt_out (B, T) is target + ``<eos>``; padding is ``<pad>`` (0) everywhere.

    >>> (s, ti), to = collate([([5, 2], [7]), ([5, 6, 2], [7, 8])])
    >>> s.tolist(), ti.tolist(), to.tolist()
    ([[5, 2, 0], [5, 6, 2]], [[1, 7, 0], [1, 7, 8]], [[7, 2, 0], [7, 8, 2]])
    """
    B = len(items)
    S = max(len(s) for s, _ in items)
    T = max(len(t) for _, t in items) + 1
    src = torch.full((B, S), PAD, dtype=torch.long)
    tgt_in = torch.full((B, T), PAD, dtype=torch.long)
    tgt_out = torch.full((B, T), PAD, dtype=torch.long)
    for b, (s, t) in enumerate(items):
        src[b, :len(s)] = torch.tensor(s)
        tgt_in[b, :len(t) + 1] = torch.tensor([BOS, *t])
        tgt_out[b, :len(t) + 1] = torch.tensor([*t, EOS])
    return (src, tgt_in), tgt_out


class ParallelData:
    """Encoded train/val pairs and the length-bucketed sampler the training loop calls.

    ``batch(split, batch_size, generator) -> ((src, tgt_in), tgt_out)`` (see :func:`collate`).
    """

    def __init__(self, splits: dict[str, list[tuple[list[int], list[int]]]], seed: int = 0):
        self.splits = splits
        self.order: dict[str, LengthOrder] = {}
        g = torch.Generator().manual_seed(seed)
        for name, items in splits.items():
            if not items:
                raise DataError(f"no {name} pairs to train on")
            # by (source length, target length), ties in a seeded random order
            self.order[name] = LengthOrder([(len(s), len(t)) for s, t in items], g)

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        idx = self.order[split].draw(batch_size, generator)
        return collate([self.splits[split][i] for i in idx])


def unknown_rate(items: list[tuple[list[int], list[int]]]) -> float:
    """Fraction of source and target tokens that are ``<unk>``."""
    total = sum(len(s) + len(t) for s, t in items)
    unk = sum(x == UNK for s, t in items for x in s + t)
    return unk / max(total, 1)


def group_references(pairs: list[Pair]) -> tuple[list[str], list[list[str]]]:
    """Distinct sources (first-seen order) and every target each one has (multi-reference).

    >>> group_references([Pair("a", "x"), Pair("b", "y"), Pair("a", "z")])
    (['a', 'b'], [['x', 'z'], ['y']])
    """
    refs: dict[str, list[str]] = {}
    for p in pairs:
        refs.setdefault(p.source, []).append(p.target)
    return list(refs), list(refs.values())


def reversal_pairs(n: int, rng, symbols: str = "abcdefgh", lengths: tuple[int, int] = (3, 6)
                   ) -> list[Pair]:
    """``n`` distinct synthetic pairs: a string of symbols and the same string reversed (the
    classic sanity task of Sutskever et al. 2014); ``rng`` is a :class:`random.Random`.

    >>> import random
    >>> reversal_pairs(2, random.Random(0), "ab", (2, 2))
    [Pair(source='b a', target='a b'), Pair(source='b b', target='b b')]
    """
    seen: dict[str, Pair] = {}
    while len(seen) < n:
        s = [rng.choice(symbols) for _ in range(rng.randint(*lengths))]
        key = " ".join(s)
        seen.setdefault(key, Pair(key, " ".join(reversed(s))))
    return sorted(seen.values())
