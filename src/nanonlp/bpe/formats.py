"""Which tokenizer a ``.model`` file holds, told by its first line: characters
(:class:`~nanonlp.bpe.CharTokenizer`), byte-level BPE (:class:`~nanonlp.bpe.Tokenizer`) or
WordPiece (:class:`~nanonlp.bpe.wordpiece.WordPiece`, an imported BERT's). Each has
``encode(text) -> ids`` (special tokens only where allowed), ``decode(ids)``, ``vocab_size``
and ``special_tokens``, so a checkpoint's tokenizer is used the same way whatever its kind.
"""

from __future__ import annotations

import os
from pathlib import Path

from nanonlp.errors import DataError

TOKENIZER_FILE = "tokenizer.model"  # a checkpoint's or prepared data folder's tokenizer


def load_tokenizer(path: str | os.PathLike):
    """The tokenizer in a nanonlp ``.model`` file, of whichever kind it is; given a folder (a
    checkpoint, a prepared data folder), its ``tokenizer.model``."""
    from nanonlp.bpe.char import CharTokenizer
    from nanonlp.bpe.tokenizer import Tokenizer
    from nanonlp.bpe.wordpiece import WordPiece

    path = Path(path)
    if path.is_dir():
        if not (path / TOKENIZER_FILE).exists():
            raise DataError(f"{path}: no {TOKENIZER_FILE} beside the weights")
        path = path / TOKENIZER_FILE
    try:
        with path.open(encoding="utf-8") as f:
            head = f.readline()
    except FileNotFoundError:
        raise DataError(f"{path}: no such tokenizer file") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise DataError(f"{path}: not a nanonlp tokenizer file") from None
    if head.startswith("nanonlp-char"):
        return CharTokenizer.load(path)
    if head.startswith("nanonlp-wordpiece"):
        return WordPiece.load(path)
    return Tokenizer.load(path)
