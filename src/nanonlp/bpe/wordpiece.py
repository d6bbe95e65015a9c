"""WordPiece, BERT's tokenizer, by hand (Devlin et al. 2019; Wu et al. 2016, section 4.1).

Two stages, as in Google's ``tokenization.py`` and HF's ``BertTokenizerFast``:

1. **The basic tokenizer** (:func:`normalize`, :func:`split_words`). Clean the text (NUL,
   U+FFFD and control characters go, every whitespace character becomes a space); put spaces
   around CJK ideographs (Chinese is written without spaces, so each character is a word); for
   an uncased model strip accents (NFD, then drop the combining marks) and lower-case; then cut
   at whitespace and around every punctuation character.
2. **WordPiece** (:func:`wordpiece`). Each word is matched against the vocabulary greedily,
   longest prefix first; what is left continues with ``##`` pieces (``"unaffable"`` ->
   ``un ##aff ##able``). A word with a part no piece matches, or longer than ``max_chars``
   characters, becomes ``[UNK]`` whole.

Unlike BPE there are no merges to replay: the vocabulary alone decides, which is why a BERT
``vocab.txt`` (one token per line, the line number is the id) is the whole model. Special
tokens follow the BPE tokenizer's (tiktoken's) rules: ``encode`` refuses ``[MASK]`` in text
unless it is allowed.

The character classes are HF ``tokenizers``' (whitespace is Unicode's ``White_Space``,
control characters exclude the unassigned ones, its list of CJK blocks), taken from Python's
``unicodedata``. HF's Rust tables are of another Unicode version (categories from 9.0, case
from a newer one), so the ids equal ``BertTokenizerFast``'s for every character whose category
has not changed since Unicode 3.2 (the tests check all 230,000 of them) and differ on 559
code points of 1.1 million (119 when cased): marks, punctuation and letters encoded since
2016, which BERT's vocabularies predate (HF tokenizers 0.23 against Python 3.11).

Left out: training a vocabulary (HF's ``WordPieceTrainer`` does it), offsets.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import regex

from nanonlp.bpe.patterns import encode_with_specials
from nanonlp.errors import DataError
from nanonlp.fileio import atomic_write, read_versioned

FORMAT = "nanonlp-wordpiece"
FORMAT_VERSION = 1
#: BERT's special tokens, in the order of its vocab.txt
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

#: Unicode White_Space (Rust's ``char::is_whitespace``); Python's ``str.isspace`` differs
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
             "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACES = regex.compile(f"[{regex.escape(WHITESPACE)}]+")
#: the CJK ideograph blocks BERT splits into single characters: HF's list, which starts the
#: Extension F block at U+2B920 where Google's ``_is_chinese_char`` has U+2B820
CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def is_control(c: str) -> bool:
    """A character the cleaning drops: category C* (control, format, unassigned, private use),
    but not tab, newline and carriage return, which count as whitespace."""
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(c: str) -> bool:
    """ASCII punctuation (``$``, ``+``, ``^`` too, which Unicode calls symbols) or category P*."""
    return c in ASCII_PUNCT or unicodedata.category(c)[0] == "P"


def is_cjk(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in CJK)


def normalize(text: str, *, lowercase: bool, strip_accents: bool | None = None,
              clean_text: bool = True, chinese_chars: bool = True) -> str:
    """BERT's normalizer, in HF's order: clean, space out CJK, strip accents, lower-case.

    ``strip_accents=None`` strips them exactly when lower-casing (BERT's uncased models).

    >>> normalize("Héllo\\tWORLD\\x00 中文", lowercase=True)
    'hello world  中  文 '
    """
    if clean_text:
        text = "".join(" " if c in WHITESPACE else c for c in text
                       if not (c == "\0" or c == "\ufffd" or is_control(c)))
    if chinese_chars:
        text = "".join(f" {c} " if is_cjk(c) else c for c in text)
    if lowercase if strip_accents is None else strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text)
                       if unicodedata.category(c) != "Mn")  # drop non-spacing marks
    if lowercase:  # per character, as HF does: no final-sigma rule
        text = "".join(c.lower() for c in text)
    return text


def split_words(text: str) -> list[str]:
    """Cut at whitespace (dropped) and around punctuation (kept, one character each).

    >>> split_words("don't stop, ok?!")
    ['don', "'", 't', 'stop', ',', 'ok', '?', '!']
    """
    words = []
    for chunk in _SPACES.split(text):
        start = 0
        for i, c in enumerate(chunk):
            if is_punctuation(c):
                if start < i:
                    words.append(chunk[start:i])
                words.append(c)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


def wordpiece(word: str, vocab: dict[str, int] | set[str], prefix: str = "##",
              max_chars: int = 100) -> list[str] | None:
    """Greedy longest-match-first pieces of one word; None when the word is [UNK].

    >>> vocab = {"un", "##aff", "##able", "##a", "a"}
    >>> wordpiece("unaffable", vocab), wordpiece("unx", vocab)
    (['un', '##aff', '##able'], None)
    """
    if len(word) > max_chars:
        return None
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        while end > start:  # the longest piece that starts here, shortening from the right
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
            end -= 1
        else:
            return None  # nothing in the vocabulary starts this part of the word
        pieces.append(piece)
        start = end
    return pieces


class WordPiece:
    """BERT's tokenizer: ``encode(text) -> ids``, ``decode(ids) -> text``, save, load, from_hf.

    >>> tok = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "."])
    >>> tok.encode("The cats."), tok.encode("The dogs."), tok.decode([5, 6, 7])
    ([5, 6, 7, 8], [5, 1, 8], 'the cats')
    """

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = True,
                 strip_accents: bool | None = None, clean_text: bool = True,
                 chinese_chars: bool = True, unk: str = "[UNK]", prefix: str = "##",
                 max_chars: int = 100, special: Iterable[str] = BERT_SPECIALS):
        self.vocab = list(vocab)  # id -> token
        self.ids = {t: i for i, t in enumerate(self.vocab)}  # a repeated token: its last id
        self.options: dict[str, Any] = dict(
            lowercase=bool(lowercase), strip_accents=strip_accents, clean_text=bool(clean_text),
            chinese_chars=bool(chinese_chars), unk=unk, prefix=prefix, max_chars=int(max_chars))
        if unk not in self.ids:
            raise DataError(f"the unknown token {unk!r} is not in the vocabulary")
        self.unk_id = self.ids[unk]
        self.special_tokens = {s: self.ids[s] for s in special if s in self.ids}
        self.special_ids = {i: s for s, i in self.special_tokens.items()}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode_ordinary(self, text: str) -> list[int]:
        """The ids of ``text`` with no special-token handling."""
        o = self.options
        text = normalize(text, lowercase=o["lowercase"], strip_accents=o["strip_accents"],
                         clean_text=o["clean_text"], chinese_chars=o["chinese_chars"])
        out: list[int] = []
        for word in split_words(text):
            ids = self._cache.get(word)
            if ids is None:
                pieces = wordpiece(word, self.ids, o["prefix"], o["max_chars"])
                ids = [self.unk_id] if pieces is None else [self.ids[p] for p in pieces]
                self._cache[word] = ids
            out += ids
        return out

    def encode(self, text: str, *, allowed_special: Iterable[str] | str = (),
               disallowed_special: Iterable[str] | str = "all") -> list[int]:
        """Encode ``text``; special tokens as in :meth:`nanonlp.bpe.Tokenizer.encode`."""
        return encode_with_specials(text, self.special_tokens, allowed_special,
                                    disallowed_special, self.encode_ordinary)

    def encode_batch(self, texts: Sequence[str], *, workers: int = 1,
                     **kwargs: Any) -> list[list[int]]:
        """Encode many texts (one process: WordPiece is fast enough for BERT's inputs)."""
        return [self.encode(t, **kwargs) for t in texts]

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The tokens joined with spaces, ``##`` pieces glued to the one before (HF's
        WordPiece decoder). Lossy: case, accents and spacing around punctuation are gone."""
        prefix = self.options["prefix"]
        out = []
        for i in ids:
            if not 0 <= i < len(self.vocab):
                raise DataError(f"token id {i} is not in the vocabulary (ids 0..."
                                f"{self.vocab_size - 1})")
            t = self.vocab[i]
            if out and t.startswith(prefix):
                out[-1] += t[len(prefix):]
            else:
                out.append(t)
        return " ".join(out)

    # ------------------------------------------------------------------------------------------
    # save / load

    def model_text(self) -> str:
        """The ``.model`` file: a version line, the options and special tokens as JSON, then
        the vocabulary, one JSON string per line in id order."""
        lines = [f"{FORMAT} {FORMAT_VERSION}", "options " + json.dumps(self.options),
                 "special " + json.dumps(list(self.special_tokens), ensure_ascii=False),
                 f"vocab {len(self.vocab)}"]
        lines += [json.dumps(t, ensure_ascii=False) for t in self.vocab]
        return "\n".join(lines) + "\n"

    def save(self, prefix: str | os.PathLike) -> Path:
        """Write ``prefix.model`` (what :meth:`load` reads); returns its path."""
        prefix = Path(prefix)
        path = prefix.with_name(prefix.name + ".model")
        with atomic_write(path) as f:
            f.write(self.model_text())
        return path

    def save_hf(self, folder: str | os.PathLike) -> Path:
        """Write ``vocab.txt`` and ``tokenizer_config.json`` into ``folder``: what
        ``BertTokenizerFast.from_pretrained(folder)`` reads, with the same ids."""
        folder = Path(folder)
        o = self.options
        if o["prefix"] != "##" or o["max_chars"] != 100 or not o["clean_text"]:
            raise DataError("a vocab.txt carries only the casing options; this WordPiece has "
                            f"prefix {o['prefix']!r}, max_chars {o['max_chars']}, "
                            f"clean_text {o['clean_text']}")
        if any("\n" in t or t != t.rstrip() for t in self.vocab):
            raise DataError("a token ends in whitespace or holds a newline: vocab.txt cannot "
                            "hold it")
        with atomic_write(folder / "vocab.txt") as f:
            f.write("".join(t + "\n" for t in self.vocab))
        names = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": o["lowercase"],
                  "strip_accents": o["strip_accents"],
                  "tokenize_chinese_chars": o["chinese_chars"], "unk_token": o["unk"],
                  **{n: s for n, s in zip(names, BERT_SPECIALS, strict=True)
                     if s in self.special_tokens and n != "unk_token"}}
        with atomic_write(folder / "tokenizer_config.json") as f:
            json.dump(config, f, indent=1)
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordPiece:
        """Read a ``.model`` file :meth:`save` wrote (a bad or newer one is a DataError)."""
        path = Path(path)
        lines = read_versioned(path, FORMAT, FORMAT_VERSION, "WordPiece model")
        try:
            key, _, options = lines[1].partition(" ")
            key2, _, special = lines[2].partition(" ")
            key3, _, n = lines[3].partition(" ")
            if (key, key2, key3) != ("options", "special", "vocab"):
                raise ValueError
            vocab = [json.loads(line) for line in lines[4:4 + int(n)]]
            if len(vocab) != int(n) or not all(isinstance(t, str) for t in vocab):
                raise ValueError
            return cls(vocab, special=json.loads(special), **json.loads(options))
        except (ValueError, TypeError, IndexError):
            raise DataError(f"{path}: corrupt WordPiece model") from None

    @classmethod
    def from_hf(cls, path: str | os.PathLike) -> WordPiece:
        """BERT's tokenizer from an HF folder: ``tokenizer.json`` (a WordPiece model with
        BERT's normalizer), else ``vocab.txt`` with ``tokenizer_config.json``'s casing (as
        ``BertTokenizerFast``: uncased unless ``do_lower_case`` is false)."""
        path = Path(path)
        folder = path.parent if path.is_file() else path
        spec = folder / "tokenizer.json"
        if path.name != "vocab.txt" and spec.is_file():
            return _from_tokenizer_json(spec)
        if not (folder / "vocab.txt").is_file():
            raise DataError(f"{folder}: no vocab.txt (nor a WordPiece tokenizer.json)")
        config = _json(folder / "tokenizer_config.json") \
            if (folder / "tokenizer_config.json").is_file() else {}
        try:
            lines = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError:
            raise DataError(f"{folder / 'vocab.txt'}: not UTF-8 text") from None
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line
        special = [config.get(k, d) for k, d in (("pad_token", "[PAD]"), ("unk_token", "[UNK]"),
                                                  ("cls_token", "[CLS]"), ("sep_token", "[SEP]"),
                                                  ("mask_token", "[MASK]"))]
        special = [s if isinstance(s, str) else s.get("content") for s in special]
        try:
            return cls([line.rstrip() for line in lines],
                       lowercase=config.get("do_lower_case", True),
                       strip_accents=config.get("strip_accents"),
                       chinese_chars=config.get("tokenize_chinese_chars", True),
                       unk=special[1], special=special)
        except DataError as e:
            raise DataError(f"{folder / 'vocab.txt'}: {e}") from None

    def __repr__(self) -> str:
        return (f"WordPiece(vocab_size={self.vocab_size}, lowercase={self.options['lowercase']}, "
                f"special={list(self.special_tokens)})")


def _json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({str(e)[:60]})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a JSON object")
    return d


def _from_tokenizer_json(path: Path) -> WordPiece:
    spec = _json(path)
    model = spec.get("model") or {}
    if model.get("type") != "WordPiece":
        raise DataError(f"{path}: model type {model.get('type')!r} is not WordPiece")
    norm = spec.get("normalizer") or {}
    if norm.get("type") != "BertNormalizer":
        raise DataError(f"{path}: normalizer {norm.get('type')!r} is not BERT's")
    pre = (spec.get("pre_tokenizer") or {}).get("type")
    if pre != "BertPreTokenizer":
        raise DataError(f"{path}: pre-tokenizer {pre!r} is not BERT's")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or sorted(vocab.values()) != list(range(len(vocab))):
        raise DataError(f"{path}: the WordPiece vocabulary must number its tokens 0..N-1")
    tokens = sorted(vocab, key=vocab.__getitem__)
    special = [t["content"] for t in spec.get("added_tokens") or []
               if isinstance(t, dict) and t.get("special")]
    try:
        return WordPiece(tokens, lowercase=norm.get("lowercase", True),
                         strip_accents=norm.get("strip_accents"),
                         clean_text=norm.get("clean_text", True),
                         chinese_chars=norm.get("handle_chinese_chars", True),
                         unk=model.get("unk_token", "[UNK]"),
                         prefix=model.get("continuing_subword_prefix", "##"),
                         max_chars=model.get("max_input_chars_per_word", 100), special=special)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
