"""Tokenizer.from_hf: HF byte-level BPE files (GPT-2's vocab.json + merges.txt, tokenizer.json)
give our Tokenizer with HF's ids, on any text."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonlp import datasets
from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe.export import bytes_to_unicode, save_hf, to_hf, to_tiktoken
from nanonlp.errors import DataError

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

EOT = "<|endoftext|>"
TEXTS = [
    "Hello, world! It's a test; we'll see. I'M SHOUTING, they'VE gone.",
    "  leading spaces\n\n\ttabs and\r\nCRLF lines\r\n\r\n  trailing   ",
    "naïve café, déjà vu, Straße, Ærøskøbing, ½ ² ﬁ",
    "日本語のテキストです。中文文本，한국어 텍스트.",
    "مرحبا بالعالم — שלום עולם — नमस्ते दुनिया — สวัสดีชาวโลก",
    "emoji 👍🏽👨‍👩‍👧 🇫🇷 ok 🙂🙂🙂",
    "e\u0301 a\u0308 combining marks, zero\u200bwidth, \ufeffbom",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000 0x1F",
    "NUL\x00byte and \x07 bell and \x1b[0m escape",
    "code: def f(x):\n    return x**2  # comment\n\n\n",
    f"a{EOT}b {EOT} c{EOT}{EOT}", f"{EOT}", "<|endoftext", "<|endoftext|",
    "", " ", "\n", "   \n\n   ", "\t \u00a0\u3000 \u2028", "a" * 300, "’s ’t 's 't",
]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return list(datasets.text("lee_corpus")) + TEXTS * 20  # lee ships inside gensim


@pytest.fixture(scope="module")
def hf_trained(corpus, tmp_path_factory):
    """A byte-level BPE trained by HF tokenizers, saved as GPT-2's vocab.json + merges.txt
    (HF numbers it [special, 256 bytes in its own order, merges]) and as tokenizer.json."""
    folder = tmp_path_factory.mktemp("hf-bpe")
    t = tokenizers.ByteLevelBPETokenizer()
    t.train_from_iterator(corpus, vocab_size=1200, special_tokens=[EOT], show_progress=False)
    t.save_model(str(folder))
    t.save(str(folder / "tokenizer.json"))
    return folder


@pytest.fixture(scope="module")
def gpt2_layout(corpus, tmp_path_factory):
    """Our trained merges written out in GPT-2's own layout: bytes numbered in the order of
    GPT-2's byte-to-unicode table ("!" is 0, "Ġ" is 220), merges from 256, <|endoftext|> last."""
    folder = tmp_path_factory.mktemp("gpt2-layout")
    tok = Tokenizer.train(corpus, BPEConfig(vocab_size=1000, pattern="gpt2", special=()))
    b2u = bytes_to_unicode()
    order = list(b2u)  # GPT-2's byte order: printable bytes first
    vocab = {b2u[b]: i for i, b in enumerate(order)}
    text = ["#version: 0.2"]
    for a, b in tok.merges:
        sa = "".join(b2u[x] for x in tok.vocab[a])
        sb = "".join(b2u[x] for x in tok.vocab[b])
        vocab[sa + sb] = len(vocab)
        text.append(f"{sa} {sb}")
    vocab[EOT] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder


def reference(folder):
    return transformers.GPT2TokenizerFast.from_pretrained(folder)


@pytest.mark.parametrize("layout", ["hf_trained", "gpt2_layout"])
def test_ids_equal_hf_on_edge_cases(layout, request):
    folder = request.getfixturevalue(layout)
    ours, ref = Tokenizer.from_hf(folder), reference(folder)
    assert ours.vocab_size == len(ref)
    assert ours.special_tokens == {EOT: ref.convert_tokens_to_ids(EOT)}
    for text in TEXTS:
        ids = ours.encode(text, allowed_special="all")
        assert ids == ref.encode(text), text
        assert ours.decode(ids) == text
    if layout == "gpt2_layout":  # the GPT-2 numbering itself
        assert ours.encode(" ") == [220] and ours.encode("!") == [0]
        assert ours.special_tokens[EOT] == ours.vocab_size - 1


def test_tokenizer_json_equals_vocab_merges(hf_trained):
    a = Tokenizer.from_hf(hf_trained / "tokenizer.json")
    b = Tokenizer.from_hf(hf_trained / "vocab.json")  # the file names its pair too
    assert a.ids == b.ids and a.merges == b.merges and a.special_tokens == b.special_tokens
    assert Tokenizer.from_hf(hf_trained).ids == a.ids  # a folder prefers tokenizer.json
    ref = tokenizers.Tokenizer.from_file(str(hf_trained / "tokenizer.json"))
    for text in TEXTS:
        assert a.encode(text, allowed_special="all") == ref.encode(text).ids


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60) | st.lists(st.sampled_from(
    ["a", " ", "  ", "\n", "'s", "é", "日本", "👍🏽", EOT, "1234", "\t", "!!", "\u00a0", "x"]),
    max_size=12).map("".join))
def test_ids_equal_hf_on_random_text(hf_trained, gpt2_layout, text):
    for folder in (hf_trained, gpt2_layout):
        ours, ref = _cached(folder)
        assert ours.encode(text, allowed_special="all") == ref.encode(text)


_CACHE: dict = {}


def _cached(folder):
    if folder not in _CACHE:
        _CACHE[folder] = (Tokenizer.from_hf(folder), reference(folder))
    return _CACHE[folder]


def test_save_load_and_export_keep_the_ids(hf_trained, gpt2_layout, tmp_path):
    import tiktoken  # noqa: F401 (the export below needs it)

    for folder in (hf_trained, gpt2_layout):
        tok = Tokenizer.from_hf(folder)
        again = Tokenizer.load(tok.save(tmp_path / folder.name))
        assert again.ids == tok.ids and again.special_tokens == tok.special_tokens
        assert (tmp_path / f"{folder.name}.model").read_text().startswith("nanonlp-bpe 2\n")
        hf = to_hf(tok)  # our tokenizer.json export, read by HF
        tt = to_tiktoken(tok)
        for text in TEXTS:
            ids = tok.encode(text, allowed_special="all")
            assert again.encode(text, allowed_special="all") == ids
            assert hf.encode(text).ids == ids
            assert tt.encode(text, allowed_special="all") == ids
        save_hf(tok, tmp_path / "tokenizer.json")
        assert Tokenizer.from_hf(tmp_path / "tokenizer.json").ids == tok.ids
    plain = Tokenizer.train(TEXTS, BPEConfig(vocab_size=300, special=()))
    assert Tokenizer.load(plain.save(tmp_path / "plain")).ids is None
    assert (tmp_path / "plain.model").read_text().startswith("nanonlp-bpe 1\n")


def test_our_export_reads_back(tmp_path, corpus):
    for pattern in ("gpt2", "gpt4", "none"):
        tok = Tokenizer.train(corpus[:200], BPEConfig(vocab_size=400, pattern=pattern,
                                                      special=(EOT, "<|pad|>")))
        back = Tokenizer.from_hf(save_hf(tok, tmp_path / f"{pattern}.json"))
        assert back.merges == tok.merges and back.pattern == tok.pattern
        assert back.ids is None and back.special_tokens == tok.special_tokens


def _write(folder, vocab, merges):
    folder.mkdir(exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                       encoding="utf-8")
    return folder


def _bytes_vocab():
    return {c: i for i, c in enumerate(bytes_to_unicode().values())}


@pytest.mark.parametrize("edit, message", [
    (lambda v, m: v.pop("a"), r"byte 0x61 \('a'\) is not in the vocabulary"),
    (lambda v, m: m.append("q zz"), r"merge 2 \(q zz\) uses 'zz', which no byte"),
    (lambda v, m: m.append("a bc"), r"makes 'abc', which is not in the vocabulary"),
    (lambda v, m: (v.__setitem__("ab", 300), m.append("a b"), m.append("a b")),
     r"merge 3 \(a b\) makes 'ab', which an earlier merge or byte already is"),
    (lambda v, m: v.__setitem__("<pad>", 999),
     r"vocabulary entry '<pad>' \(one of 1\) is neither a byte, a merge nor a special"),
    (lambda v, m: m.append("a"), r"merges.txt:3: not a merge 'a b'"),
])
def test_bad_files_refused(tmp_path, edit, message):
    vocab, merges = _bytes_vocab(), ["b c"]
    vocab["bc"] = 256
    edit(vocab, merges)
    with pytest.raises(DataError, match=message):
        Tokenizer.from_hf(_write(tmp_path / "t", vocab, merges))


def test_tokenizer_json_options_refused(hf_trained, tmp_path):
    spec = json.loads((hf_trained / "tokenizer.json").read_text(encoding="utf-8"))
    for change, message in (
            (lambda s: s.__setitem__("normalizer", {"type": "Lowercase"}), "has a normalizer"),
            (lambda s: s["pre_tokenizer"].__setitem__("add_prefix_space", True),
             "add_prefix_space=true"),
            (lambda s: s["model"].__setitem__("ignore_merges", True), "ignore_merges=true"),
            (lambda s: s["model"].__setitem__("type", "WordPiece"), "model type 'WordPiece'"),
            (lambda s: s["added_tokens"][0].__setitem__("lstrip", True), "lstrip=true")):
        bad = json.loads(json.dumps(spec))
        change(bad)
        (tmp_path / "tokenizer.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(DataError, match=message):
            Tokenizer.from_hf(tmp_path / "tokenizer.json")
    with pytest.raises(DataError, match=r"no tokenizer\.json, nor vocab\.json"):
        Tokenizer.from_hf(tmp_path / "nothing")
