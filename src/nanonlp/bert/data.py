"""BERT data: the tokenizer's special tokens, packing text into blocks, dynamic masking.

Pretraining follows Devlin et al. 2019 section 3.1 and RoBERTa's choices (Liu et al. 2019):
sentences (lines) are packed whole into blocks ``[CLS] s1 [SEP] s2 [SEP] ... [PAD]`` up to the
position table (a line too long for one block is cut into pieces), and masking is *dynamic*:
every batch draws a fresh 15% of the non-special tokens as prediction targets, of which 80%
are replaced by [MASK], 10% by a random ordinary token and 10% left as they were.

The tokenizer is a nanonlp byte-level BPE (:mod:`nanonlp.bpe`), or the WordPiece of a BERT
imported from transformers (:mod:`nanonlp.bpe.wordpiece`), carrying the four special tokens
``[CLS] [SEP] [MASK] [PAD]``; :func:`special_ids` refuses one that lacks them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from nanonlp.bert.config import SPECIALS
from nanonlp.bpe.formats import TOKENIZER_FILE
from nanonlp.errors import ConfigError, DataError


def special_ids(tok, where: str = "tokenizer") -> dict[str, int]:
    """The ids of ``[CLS] [SEP] [MASK] [PAD]``; a tokenizer lacking any is a :class:`DataError`.

    >>> from nanonlp.bpe import Tokenizer
    >>> special_ids(Tokenizer(special_tokens=["[CLS]", "[SEP]", "[MASK]", "[PAD]"]))
    {'cls_id': 256, 'sep_id': 257, 'mask_id': 258, 'pad_id': 259}
    """
    have = getattr(tok, "special_tokens", {})
    missing = [s for s in SPECIALS if s not in have]
    if missing:
        raise DataError(f"{where}: lacks the special token(s) {' '.join(missing)} BERT needs; "
                        f"train one with `nanonlp bpe train --special {' '.join(SPECIALS)} ...`")
    return {"cls_id": have["[CLS]"], "sep_id": have["[SEP]"], "mask_id": have["[MASK]"],
            "pad_id": have["[PAD]"]}


def load_tokenizer(path: str | os.PathLike):
    """A nanonlp tokenizer from its ``.model`` file or from a checkpoint folder (its
    ``tokenizer.model``): byte-level BPE, or the WordPiece of an imported BERT
    (:func:`nanonlp.bpe.formats.load_tokenizer`), checked for BERT's special tokens."""
    from nanonlp.bpe.formats import load_tokenizer as load_any

    tok = load_any(path)
    path = Path(path)
    special_ids(tok, str(path / TOKENIZER_FILE if path.is_dir() else path))
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, workers: int = 1):
    """Train a BPE tokenizer (GPT-4 split pattern) with BERT's special tokens on some texts."""
    from nanonlp.bpe import BPEConfig, Tokenizer

    return Tokenizer.train(texts, BPEConfig(vocab_size=vocab_size, special=SPECIALS,
                                            workers=workers))


def pack_sentences(sentences: Iterable[Sequence[int]], block_size: int, cls_id: int,
                   sep_id: int, pad_id: int) -> np.ndarray:
    """Pack token lists into rows ``[CLS] a [SEP] b [SEP] ... [PAD]`` of ``block_size`` ids.

    Sentences go whole into a row while they fit; one longer than ``block_size - 2`` is cut
    into pieces that each fill a row. Empty sentences are skipped.

    >>> pack_sentences([[5, 6], [7], [8, 9, 10]], 6, cls_id=1, sep_id=2, pad_id=0).tolist()
    [[1, 5, 6, 2, 7, 2], [1, 8, 9, 10, 2, 0]]
    """
    if block_size < 3:
        raise ConfigError(f"block_size must be >= 3 ([CLS] x [SEP]), got {block_size}")
    room = block_size - 1  # after [CLS]: sentence tokens plus one [SEP] each
    rows: list[list[int]] = []
    row: list[int] = []

    def flush():
        if row:
            rows.append([cls_id, *row] + [pad_id] * (room - len(row)))
            row.clear()

    for s in sentences:
        s = list(s)
        while s:
            piece, s = s[:room - 1], s[room - 1:]
            if len(row) + len(piece) + 1 > room:
                flush()
            row.extend(piece)
            row.append(sep_id)
    flush()
    return np.asarray(rows, dtype=np.int64).reshape(-1, block_size)


def mask_tokens(ids: torch.Tensor, *, mask_id: int, special: Sequence[int], vocab_size: int,
                generator: torch.Generator, prob: float = 0.15
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of ids (B, T): ``(inputs, targets)``, targets -1 where not predicted.

    Each non-special token is chosen with probability ``prob``; a chosen token becomes [MASK]
    (80%), a random ordinary token (10%) or stays (10%), and its target is the original id.
    Special tokens ([CLS], [SEP], [PAD]) are never chosen.

    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = mask_tokens(torch.tensor([[9, 5, 6, 8, 7]]), mask_id=4, special=[7, 8, 9],
    ...                    vocab_size=10, generator=g, prob=1.0)
    >>> y.tolist()  # every ordinary token is a target; 9, 8, 7 are special
    [[-1, 5, 6, -1, -1]]
    """
    special_t = torch.tensor(sorted(set(special)), dtype=ids.dtype)
    can = ~torch.isin(ids, special_t)  # (B, T)
    chosen = (torch.rand(ids.shape, generator=generator) < prob) & can
    targets = torch.where(chosen, ids, torch.full_like(ids, -1))
    how = torch.rand(ids.shape, generator=generator)  # which of the three replacements
    ordinary = torch.ones(vocab_size, dtype=torch.bool)
    ordinary[special_t[special_t < vocab_size]] = False
    ordinary_ids = ordinary.nonzero().squeeze(1)  # (V',)
    random_ids = ordinary_ids[torch.randint(len(ordinary_ids), ids.shape, generator=generator)]
    inputs = torch.where(chosen & (how < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (how >= 0.8) & (how < 0.9), random_ids, inputs)
    return inputs, targets


class MLMData:
    """Packed blocks of token ids (train and val), masked afresh for every batch.

    ``batch(split, batch_size, generator)`` returns ``((inputs,), targets)``, both (B, T).
    """

    def __init__(self, splits: dict[str, np.ndarray], *, vocab_size: int, cls_id: int,
                 sep_id: int, mask_id: int, pad_id: int, mask_prob: float = 0.15):
        if not 0 < mask_prob < 1:
            raise ConfigError(f"mask_prob must be in (0, 1), got {mask_prob}")
        for split, arr in splits.items():
            if arr.ndim != 2 or len(arr) == 0:
                raise DataError(f"{split}: no packed blocks (is the text empty?)")
            if int(arr.max()) >= vocab_size:
                raise DataError(f"{split}: token id {int(arr.max())} is outside the vocabulary "
                                f"(0..{vocab_size - 1})")
        self.splits = splits
        self.vocab_size, self.mask_id, self.mask_prob = vocab_size, mask_id, mask_prob
        self.special = (cls_id, sep_id, mask_id, pad_id)

    @property
    def block_size(self) -> int:
        return self.splits["train"].shape[1]

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        data = self.splits[split]
        rows = torch.randint(len(data), (batch_size,), generator=generator).numpy()
        ids = torch.from_numpy(np.asarray(data[rows], dtype=np.int64))  # (B, T)
        inputs, targets = mask_tokens(ids, mask_id=self.mask_id, special=self.special,
                                      vocab_size=self.vocab_size, generator=generator,
                                      prob=self.mask_prob)
        return (inputs,), targets


def read_texts(sources: str, max_chars: int | None = None) -> Iterator[str]:
    """Lines of text from comma-separated data set names (``name`` or ``name:split``) or files.

    ``"wikitext-2:valid,brown"`` reads wikitext-2's valid split, then all of Brown; blank lines
    are skipped, and reading stops once ``max_chars`` characters are in.
    """
    from nanonlp import datasets as D
    from nanonlp.fileio import iter_lines

    n = 0
    for src in (s.strip() for s in sources.split(",") if s.strip()):
        if Path(src).exists():
            lines: Iterable[str] = (line for _, line in iter_lines(src))
        else:
            name, _, split = src.partition(":")
            try:
                D.get_dataset(name)
            except DataError:
                raise DataError(f"{src}: neither a file nor a data set name "
                                "(see `nanonlp data list`)") from None
            lines = D.text(name, split or None)
        for line in lines:
            line = line.strip()
            if not line:
                continue
            yield line
            n += len(line) + 1
            if max_chars is not None and n >= max_chars:
                return
