"""BPE on real data (tinyshakespeare): ids identical to tiktoken and HF built from our exports."""

from __future__ import annotations

import numpy as np
import pytest

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe.export import to_hf, to_tiktoken

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
