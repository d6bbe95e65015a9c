"""Vocabularies for translation: text -> ids -> text, for words (min frequency) or BPE pieces.

Both kinds reserve the same four ids (``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3) so the
model and the decoders never ask which kind they hold. A vocabulary carries the normaliser it
was built with, so a checkpoint translates raw text exactly as its training data was prepared:

* ``tutorial``: the PyTorch seq2seq tutorial's ``normalizeString`` (lowercase, accents stripped
  to ASCII, letters and ``.!?`` only, punctuation split off);
* ``lower``: lowercase, Unicode kept, words and punctuation split apart (Multi30k);
* ``none``: text as given (what a BPE tokenizer usually wants).

Saved as text: a header line, then one token per line (word vocabularies) or the name of the
BPE ``.model`` file stored beside it. No pickle.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import read_text_lines

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
NORMALIZERS = ("tutorial", "lower", "none")
HEADER = "nanonlp-seq2seq-vocab 1"

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]", re.UNICODE)


def unicode_to_ascii(s: str) -> str:
    """Drop combining marks after NFD decomposition (the tutorial's ``unicodeToAscii``).

    >>> unicode_to_ascii("Ça été")
    'Ca ete'
    """
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def normalize(text: str, how: str) -> str:
    """Normalise one sentence; the result's words are separated by single spaces.

    >>> normalize("Je suis PRÊT, moi !", "tutorial")
    'je suis pret moi !'
    >>> normalize("Ein Mann, der läuft.", "lower")
    'ein mann , der läuft .'
    """
    if how == "tutorial":
        s = unicode_to_ascii(text.lower().strip())
        s = re.sub(r"([.!?])", r" \1", s)
        s = re.sub(r"[^a-zA-Z.!?]+", r" ", s)
        return " ".join(s.split())
    if how == "lower":
        return " ".join(_WORD.findall(text.lower()))
    if how == "none":
        return " ".join(text.split())
    raise ConfigError(f"unknown normalizer {how!r}; choose {', '.join(NORMALIZERS)}")


class WordVocab:
    """Whole words: every token seen at least ``min_freq`` times in training, plus specials."""

    kind = "word"

    def __init__(self, tokens: list[str], normalizer: str):
        if normalizer not in NORMALIZERS:
            raise ConfigError(f"unknown normalizer {normalizer!r}; choose "
                              f"{', '.join(NORMALIZERS)}")
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.normalizer = normalizer

    @classmethod
    def train(cls, sentences: Iterable[str], normalizer: str, min_freq: int = 1,
              max_size: int | None = None) -> WordVocab:
        """Count normalised words; keep those seen ``min_freq`` times, most frequent first.

        >>> WordVocab.train(["a b a", "c a b"], "none", min_freq=2).itos[4:]
        ['a', 'b']
        """
        counts = Counter(w for s in sentences for w in normalize(s, normalizer).split())
        # ties broken by the word itself, so the ids do not depend on the order of the data
        ranked = sorted((w for w, c in counts.items() if c >= min_freq),
                        key=lambda w: (-counts[w], w))
        return cls(ranked[:max_size] if max_size else ranked, normalizer)

    def __len__(self) -> int:
        return len(self.itos)

    def tokens(self, text: str) -> list[str]:
        return normalize(text, self.normalizer).split()

    def encode(self, text: str) -> list[int]:
        """Ids of a sentence's words (``<unk>`` for unknown ones), no ``<bos>``/``<eos>``."""
        return [self.stoi.get(w, UNK) for w in self.tokens(text)]

    def pieces(self, ids: Iterable[int]) -> list[str]:
        """One display string per id (for attention plots)."""
        return [self.itos[i] if 0 <= i < len(self.itos) else "<unk>" for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        """Words joined by spaces, stopping at ``<eos>``, specials other than ``<unk>`` dropped."""
        out = []
        for i in ids:
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else "<unk>")
        return " ".join(out)

    def to_bytes(self) -> bytes:
        return (f"{HEADER} word normalizer={self.normalizer}\n"
                + "".join(t + "\n" for t in self.itos[len(SPECIALS):])).encode("utf-8")


class BPEVocab:
    """A nanonlp BPE tokenizer's ids shifted up by four to make room for the specials."""

    kind = "bpe"

    def __init__(self, tokenizer, normalizer: str, model_file: str):
        self.tok = tokenizer
        self.normalizer = normalizer
        self.model_file = model_file  # the .model file's name, stored beside the vocab

    @classmethod
    def from_file(cls, path: str | os.PathLike, normalizer: str = "none") -> BPEVocab:
        from nanonlp.bpe import Tokenizer

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such BPE tokenizer file")
        return cls(Tokenizer.load(path), normalizer, path.name)

    def __len__(self) -> int:
        return self.tok.vocab_size + len(SPECIALS)

    def tokens(self, text: str) -> list[str]:
        return self.pieces(self.encode(text))

    def encode(self, text: str) -> list[int]:
        return [i + len(SPECIALS) for i in self.tok.encode(normalize(text, self.normalizer))]

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [SPECIALS[i] if i < len(SPECIALS) else
                self.tok.decode([i - len(SPECIALS)]) for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(i - len(SPECIALS))
        return self.tok.decode(out)

    def to_bytes(self) -> bytes:
        return f"{HEADER} bpe normalizer={self.normalizer} model={self.model_file}\n" \
            .encode()


Vocab = WordVocab | BPEVocab


def load_vocab(path: str | os.PathLike) -> Vocab:
    """Read a vocabulary file written by ``to_bytes`` (a BPE one loads its ``.model`` beside)."""
    path = Path(path)
    lines = read_text_lines(path, "vocabulary file")
    head = lines[0].split()
    if lines[0][:len(HEADER)] != HEADER or len(head) < 4:
        raise DataError(f"{path}:1: not a nanonlp seq2seq vocabulary (header {lines[0][:40]!r})")
    fields = dict(f.split("=", 1) for f in head[3:] if "=" in f)
    normalizer = fields.get("normalizer", "none")
    if head[2] == "word":
        return WordVocab([t for t in lines[1:] if t], normalizer)
    if head[2] == "bpe":
        return BPEVocab.from_file(path.parent / fields["model"], normalizer)
    raise DataError(f"{path}:1: unknown vocabulary kind {head[2]!r}")
