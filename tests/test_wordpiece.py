"""WordPiece by hand: BERT's basic tokenizer and greedy longest-match-first pieces give the ids
of HF BertTokenizerFast (cased and uncased) on a vocabulary HF trained, on any text."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonlp import datasets
from nanonlp.bpe.formats import load_tokenizer
from nanonlp.bpe.wordpiece import WordPiece, normalize, split_words, wordpiece
from nanonlp.errors import DataError, SpecialTokenError

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = [
    "Hello, world! It's a test; we'll see. I'M SHOUTING, they'VE gone.",
    "  leading spaces\n\n\ttabs and\r\nCRLF lines\r\n\r\n  trailing   ",
    "naïve café, déjà vu, Straße, Ærøskøbing, ½ ² ﬁ, İstanbul, ΣΑΣ ὈΔΥΣΣΕΎΣ",
    "日本語のテキストです。中文文本，한국어 텍스트.",
    "مرحبا بالعالم — שלום עולם — नमस्ते दुनिया — สวัสดีชาวโลก",
    "emoji 👍🏽👨‍👩‍👧 🇫🇷 ok 🙂🙂🙂",
    "e\u0301 a\u0308 combining marks, zero\u200bwidth, \ufeffbom, soft\u00adhyphen",
    "numbers 1 12 123 1234 3.14159 1,000,000 $5 +1 ^x `y` a|b ~z",
    "NUL\x00byte and \x07 bell and \x1b[0m escape \ufffd replacement \x85 nel",
    "the [MASK] sat on [CLS] the [SEP][PAD] mat [UNK] [mask] [MASK",
    "x" * 100, "y" * 101, "unaffable " * 3, "", " ", "\n", "   \n\n   ", "\t\u00a0\u3000\u2028",
]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return list(datasets.text("lee_corpus")) + TEXTS * 20  # lee ships inside gensim


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def folder(request, corpus, tmp_path_factory):
    """A WordPiece vocabulary trained by HF tokenizers: vocab.txt + tokenizer_config.json
    (what save_pretrained writes for BERT) and tokenizer.json."""
    lower = request.param
    d = tmp_path_factory.mktemp("uncased" if lower else "cased")
    t = tokenizers.BertWordPieceTokenizer(lowercase=lower)
    t.train_from_iterator(corpus, vocab_size=1200, special_tokens=SPECIALS, show_progress=False)
    t.save_model(str(d))
    t.save(str(d / "tokenizer.json"))
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": lower}))
    return d, lower


def reference(folder):
    d, lower = folder
    return transformers.BertTokenizerFast(vocab=str(d / "vocab.txt"), do_lower_case=lower)


def test_ids_equal_bert_tokenizer_fast(folder):
    d, lower = folder
    ref = reference(folder)
    for tok in (WordPiece.from_hf(d / "vocab.txt"), WordPiece.from_hf(d / "tokenizer.json")):
        assert tok.vocab_size == len(ref) and tok.options["lowercase"] == lower
        assert tok.special_tokens == {s: ref.convert_tokens_to_ids(s) for s in SPECIALS}
        for text in TEXTS:
            assert tok.encode(text, allowed_special="all") == \
                ref(text, add_special_tokens=False)["input_ids"], text
    tok = WordPiece.from_hf(d)
    assert tok.encode("y" * 101) == [tok.unk_id]  # longer than max_chars: [UNK] whole
    assert tok.encode("x" * 100) != [tok.unk_id]


_CACHE: dict = {}


def _pair(folder):
    key = str(folder[0])
    if key not in _CACHE:
        _CACHE[key] = (WordPiece.from_hf(folder[0]), reference(folder))
    return _CACHE[key]


def _stable(c: str) -> bool:
    """A character Unicode 3.2 already had, with the category it has in this Python's Unicode
    (HF's Rust tables are of versions in between and after, see the module docstring)."""
    cat = unicodedata.ucd_3_2_0.category(c)
    return cat != "Cn" and cat == unicodedata.category(c)


CHARS = st.characters(exclude_categories=("Cs",)).filter(_stable)
PIECES = st.sampled_from(["[MASK]", "[CLS]", " ", "  ", "\n", "é", "É", "日本", "👍🏽", "ok",
                          "the", "Fed", "!!", "'s", "\u00a0", "\u0301", "İ", "ß", "1,5"])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(CHARS, max_size=40) | st.lists(PIECES | st.text(CHARS, max_size=3),
                                                   max_size=12).map("".join))
def test_ids_equal_hf_on_random_text(folder, text):
    ours, ref = _pair(folder)
    assert ours.encode(text, allowed_special="all") == \
        ref(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("lower", [True, False])
def test_basic_tokenizer_equals_hf_on_every_stable_character(lower):
    """Normalizer + pre-tokenizer against HF's on each of the ~230,000 characters Unicode 3.2
    already had (with the same category today), in blocks of 2,000."""
    hf_norm = tokenizers.normalizers.BertNormalizer(lowercase=lower)
    hf_pre = tokenizers.pre_tokenizers.BertPreTokenizer()
    chars = [chr(c) for c in range(0x110000)
             if not 0xD800 <= c <= 0xDFFF and _stable(chr(c))]
    assert len(chars) > 230_000
    for i in range(0, len(chars), 2000):
        text = "".join(f"a{c}b " for c in chars[i:i + 2000])
        want = [w for w, _ in hf_pre.pre_tokenize_str(hf_norm.normalize_str(text))]
        assert split_words(normalize(text, lowercase=lower)) == want, hex(ord(chars[i]))


def test_greedy_longest_match_first():
    vocab = {"un", "##aff", "##able", "##a", "a", "aff", "##ff", "##f"}
    assert wordpiece("unaffable", vocab) == ["un", "##aff", "##able"]
    assert wordpiece("affable", vocab) == ["aff", "##able"]  # aff before a + ##ff
    assert wordpiece("unaffablex", vocab) is None  # a part that no piece matches: the word
    assert wordpiece("a" * 5, {"a", "##a"}, max_chars=4) is None
    assert split_words("Hi,there!  $5") == ["Hi", ",", "there", "!", "$", "5"]
    assert normalize("Ａｃｃｅｎｔ é", lowercase=True) == "ａｃｃｅｎｔ e"  # no NFKC in BERT


def test_special_tokens_follow_tiktokens_rules(folder):
    tok = WordPiece.from_hf(folder[0])
    with pytest.raises(SpecialTokenError, match=r"'\[MASK\]' at character 4"):
        tok.encode("the [MASK] sat")
    plain = tok.encode("the [MASK] sat", disallowed_special=())  # as text: [ mask ]
    assert tok.special_tokens["[MASK]"] not in plain
    assert tok.encode("the [MASK] sat", allowed_special={"[MASK]"}).count(
        tok.special_tokens["[MASK]"]) == 1
    ids = tok.encode("the cat sat")
    assert tok.decode(ids).replace(" ", "") == "thecatsat"


def test_save_load_and_formats(folder, tmp_path):
    tok = WordPiece.from_hf(folder[0])
    path = tok.save(tmp_path / "wp")
    again = load_tokenizer(path)  # the checkpoint loader tells the kind by the header
    assert isinstance(again, WordPiece) and again.vocab == tok.vocab
    assert again.options == tok.options and again.special_tokens == tok.special_tokens
    for text in TEXTS:
        assert again.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    (tmp_path / "bad.model").write_text("nanonlp-wordpiece 1\noptions {}\nspecial []\nvocab 3\n")
    with pytest.raises(DataError, match="corrupt WordPiece model"):
        WordPiece.load(tmp_path / "bad.model")
    (tmp_path / "new.model").write_text("nanonlp-wordpiece 9\n")
    with pytest.raises(DataError, match="version 9 is newer"):
        WordPiece.load(tmp_path / "new.model")


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match=r"no vocab\.txt"):
        WordPiece.from_hf(tmp_path)
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match=r"vocab.txt: the unknown token '\[UNK\]' is not in"):
        WordPiece.from_hf(tmp_path)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE"}}))
    with pytest.raises(DataError, match="model type 'BPE' is not WordPiece"):
        WordPiece.from_hf(tmp_path)
