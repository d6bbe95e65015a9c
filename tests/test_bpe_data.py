"""BPE on real data (tinyshakespeare): ids identical to tiktoken and HF built from our exports."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe.export import to_hf, to_tiktoken
from nanonlp.bpe.patterns import GPT4_PATTERN
from nanonlp.bpe.stream import iter_pieces
from nanonlp.bpe.train import count_chunks, learn_merges

pytestmark = pytest.mark.data


def test_tinyshakespeare_parity(real_data, tmp_path):
    # GPT-4 pattern here; the GPT-2 pattern's parity is checked on the multilingual set
    path = real_data / "tinyshakespeare" / "input.txt"
    text = path.read_text(encoding="utf-8")
    tok = Tokenizer.train(files=[path], config=BPEConfig(vocab_size=2048, pattern="gpt4"))
    assert tok.vocab_size == 2048 and len(set(tok.vocab)) == len(tok.vocab)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert to_tiktoken(tok).encode_ordinary(text) == ids
    assert to_hf(tok).encode(text).ids == ids
    # the streamed file encoding equals encoding the whole text at once
    n = tok.encode_file(path, tmp_path / "ids.npy")
    assert n == len(ids) and np.load(tmp_path / "ids.npy").tolist() == ids


def test_tinyshakespeare_merges_python_numba_and_pinned(real_data):
    # the Python merge loop and the numba one learn the same merges, with the same counts, on
    # real text; and both the merges learned before either was rewritten (GPT-4 split,
    # <|endoftext|>, all 21,705 merges the text allows: vocab 32,768 runs out of pairs)
    path = real_data / "tinyshakespeare" / "input.txt"
    specials = ["<|endoftext|>"]
    counts = count_chunks(iter_pieces(path, specials=specials), GPT4_PATTERN, specials)
    chunk_counts: dict[bytes, int] = {}
    for chunk, n in counts.items():
        b = chunk.encode("utf-8")
        chunk_counts[b] = chunk_counts.get(b, 0) + n
    python = list(learn_merges(chunk_counts, 32768 - 257, fast=False))
    assert list(learn_merges(chunk_counts, 32768 - 257, fast=True)) == python
    pairs = [list(s.pair) for s in python]
    assert len(pairs) == 21705
    assert hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16] == "c6971a1ea2aa7841"
