"""Byte-level BPE tokenizers (GPT-2/GPT-4 style) and a character tokenizer; no torch here.

>>> from nanonlp.bpe import BPEConfig, Tokenizer
>>> tok = Tokenizer.train(["low lower lowest"] * 10, BPEConfig(vocab_size=300))
>>> tok.decode(tok.encode("lowest")) == "lowest"
True

Modules: :mod:`~nanonlp.bpe.reference` (the plain trainer), :mod:`~nanonlp.bpe.train` (the fast
one; :mod:`~nanonlp.bpe.fasttrain`, its merge loop in numba), :mod:`~nanonlp.bpe.tokenizer`
(encode/decode/save/load), :mod:`~nanonlp.bpe.patterns` (split regexes),
:mod:`~nanonlp.bpe.export` (HF ``tokenizer.json`` and tiktoken), :mod:`~nanonlp.bpe.char`
(characters), :mod:`~nanonlp.bpe.tokenfile` (token arrays on disk).
"""

from nanonlp.bpe.char import CharTokenizer
from nanonlp.bpe.config import BPEConfig
from nanonlp.bpe.patterns import GPT2_PATTERN, GPT4_PATTERN, PATTERNS
from nanonlp.bpe.tokenfile import read_tokens
from nanonlp.bpe.tokenizer import Tokenizer

__all__ = ["GPT2_PATTERN", "GPT4_PATTERN", "PATTERNS", "BPEConfig", "CharTokenizer",
           "Tokenizer", "read_tokens"]
