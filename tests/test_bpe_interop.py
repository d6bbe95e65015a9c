"""BPE save/load and exports: our ids == tiktoken's == HF tokenizers' on a multilingual set."""

from __future__ import annotations

import json

import pytest

from nanonlp import datasets
from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe.export import (
    bytes_to_unicode,
    load_tiktoken_ranks,
    mergeable_ranks,
    save_hf,
    save_tiktoken,
    to_tiktoken,
)
from nanonlp.errors import DataError

MULTILINGUAL = [
    "Hello, world! It's a test; we'll see. I'M SHOUTING, they'VE gone.",
    "  leading spaces\n\n\ttabs and\r\nCRLF lines\r\n\r\n  trailing   ",
    "naïve café, déjà vu, Straße, Ærøskøbing, ½ ² ﬁ",
    "日本語のテキストです。中文文本，한국어 텍스트.",
    "مرحبا بالعالم — שלום עולם — नमस्ते दुनिया — สวัสดีชาวโลก",
    "Привет, мир! Ελληνικά κείμενα. Українська мова.",
    "emoji 👍🏽👨‍👩‍👧 🇫🇷 ok 🙂🙂🙂",
    "e\u0301 a\u0308 combining marks, zero\u200bwidth, \ufeffbom",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000 0x1F",
    "NUL\x00byte and \x07 bell and \x1b[0m escape",
    "code: def f(x):\n    return x**2  # comment\n\n\n",
    "a<|endoftext|>b <|endoftext|> c",
    "", " ", "\n", "   \n\n   ",
]


@pytest.fixture(scope="module")
def corpus() -> str:
    lee = "\n".join(datasets.text("lee_corpus"))  # ships inside gensim: always offline
    return lee + "\n" + "\n".join(MULTILINGUAL * 20)


@pytest.fixture(scope="module", params=["gpt2", "gpt4", "none"])
def tok(request, corpus) -> Tokenizer:
    text = corpus if request.param != "none" else corpus[:6000]
    return Tokenizer.train(text.split("\n"), BPEConfig(vocab_size=1200, pattern=request.param,
                                                       special=("<|endoftext|>", "<|pad|>")))


def test_save_load_same_ids(tok, tmp_path):
    model = tok.save(tmp_path / "tok")
    assert model.name == "tok.model" and (tmp_path / "tok.vocab").exists()
    again = Tokenizer.load(model)
    assert again.merges == tok.merges and again.pattern == tok.pattern
    assert again.special_tokens == tok.special_tokens
    for s in MULTILINGUAL:
        assert again.encode(s, allowed_special="all") == tok.encode(s, allowed_special="all")
    vocab = (tmp_path / "tok.vocab").read_text(encoding="utf-8")
    assert "<|pad|>\tspecial" in vocab and vocab.count("\n") == tok.vocab_size + 1


def test_tiktoken_parity(tok, tmp_path):
    enc = to_tiktoken(tok)
    for s in MULTILINGUAL:
        assert enc.encode(s, allowed_special="all") == tok.encode(s, allowed_special="all"), s
        assert enc.encode_ordinary(s) == tok.encode_ordinary(s), s
    # the .tiktoken file carries the same ranks, readable by tiktoken's own loader
    path = save_tiktoken(tok, tmp_path / "tok.tiktoken")
    assert load_tiktoken_ranks(path) == mergeable_ranks(tok)
    tiktoken_load = pytest.importorskip("tiktoken.load")
    assert tiktoken_load.load_tiktoken_bpe(str(path)) == mergeable_ranks(tok)


def test_hf_parity(tok, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    path = save_hf(tok, tmp_path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    for s in MULTILINGUAL:
        ours = tok.encode(s, allowed_special="all")
        assert hf.encode(s).ids == ours, s
        assert hf.decode(ours, skip_special_tokens=False) == s
    assert hf.get_vocab_size() == tok.vocab_size
    assert hf.token_to_id("<|pad|>") == tok.special_tokens["<|pad|>"]


def test_no_duplicate_tokens(tok):
    assert len(set(tok.vocab)) == len(tok.vocab)


def test_bytes_to_unicode_is_gpt2s():
    m = bytes_to_unicode()
    assert len(set(m.values())) == 256
    assert m[32] == "Ġ" and m[10] == "Ċ" and m[0] == "Ā" and m[255] == "ÿ"
    assert all(c.isprintable() and not c.isspace() for c in m.values())


def _model(tmp_path, body: str):
    p = tmp_path / "bad.model"
    p.write_text(body, encoding="utf-8")
    return p


@pytest.mark.parametrize("body, message", [
    ("nanonlp-bpe 3\npattern \"\"\nspecial 0\nmerges 0\n",
     "model format version 3 is newer than this nanonlp reads \\(2\\)"),
    ("nanonlp-bpe 2\npattern \"\"\nspecial 0\nmerges 0\nids 3\n1\n2\n",
     "bad.model:5: 3 ids announced, 2 found"),
    ("nanonlp-bpe 2\npattern \"\"\nspecial 0\nmerges 0\nids 256\n" + "7\n" * 256,
     "token ids must be distinct"),
    ("minbpe v1\n", "bad.model:1: not a nanonlp BPE model"),
    ("nanonlp-bpe 1\npattern \"\"\nspecial 0\nmerges 2\n97 98\n",
     "bad.model:6: corrupt line"),
    ("nanonlp-bpe 1\npattern \"\"\nspecial 0\nmerges 1\n97 x\n", "bad.model:5: corrupt line"),
    ("nanonlp-bpe 1\npattern \"\"\nspecial 0\nmerges 1\n97 300\n",
     "merge 0 \\(97, 300\\) refers to a token that does not exist yet"),
    ("nanonlp-bpe 1\nspecial 0\n", "bad.model:2: expected 'pattern ...'"),
    ("nanonlp-bpe 1\npattern \"\"\nspecial 1\n\"<s>\" 3\nmerges 0\n",
     "special token '<s>' has id 3, which an ordinary token has"),
    ("nanonlp-bpe 1\npattern \"gpt9\"\nspecial 0\nmerges 0\n", "unknown split pattern 'gpt9'"),
])
def test_corrupt_or_future_model(tmp_path, body, message):
    with pytest.raises((DataError, ValueError), match=message):
        Tokenizer.load(_model(tmp_path, body))


def test_binary_model_file(tmp_path):
    p = tmp_path / "x.model"
    p.write_bytes(b"\x80\x81\x00")
    with pytest.raises(DataError, match="not UTF-8 text"):
        Tokenizer.load(p)


def test_hf_json_is_plain_json(tok):
    from nanonlp.bpe.export import to_hf_json

    doc = json.loads(json.dumps(to_hf_json(tok)))
    assert doc["model"]["type"] == "BPE" and len(doc["model"]["merges"]) == len(tok.merges)
    assert doc["model"]["ignore_merges"] is False
