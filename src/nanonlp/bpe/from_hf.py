"""Read a Hugging Face byte-level BPE (GPT-2's files) as the parts of a :class:`Tokenizer`.

Two layouts: GPT-2's ``vocab.json`` (token -> id) with ``merges.txt`` (one merge ``a b`` per
line, in rank order), or a ``tokenizer.json`` whose model is a BPE over the byte-level
alphabet. Either way a token is written in GPT-2's byte-to-unicode alphabet (every byte a
printable character, so ``" the"`` is ``"Ġthe"``: :func:`nanonlp.bpe.export.bytes_to_unicode`).
Reading undoes that mapping: each token becomes its bytes, each merge a pair of earlier tokens,
and the file's id of every token is kept (``Tokenizer.ids``). HF applies the merges of a chunk
lowest line first, which is our rank order, so the ids come out equal to HF's.
:meth:`nanonlp.bpe.Tokenizer.from_hf` builds the tokenizer from :func:`read_hf`'s parts (this
module does not import the tokenizer, which imports it).

Special tokens: ``tokenizer.json``'s ``added_tokens``; beside ``vocab.json`` + ``merges.txt``,
``tokenizer_config.json``'s ``added_tokens_decoder`` and ``<|endoftext|>`` (GPT-2's one special
token, which ``GPT2TokenizerFast`` adds by default).

Refused, with the file named: a vocabulary without all 256 bytes, a merge of tokens it does not
have, or whose result it lacks, two merges that make the same token, a vocabulary entry that is
neither a byte, a merge nor a special token, and the ``tokenizer.json`` options that would change
HF's ids in ways our encoder does not follow (a normalizer, a prefix space, ``ignore_merges``,
sub-word prefixes and suffixes, byte fallback, BPE dropout, special tokens that strip spaces).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from nanonlp.bpe.bytelevel import bytes_to_unicode
from nanonlp.bpe.patterns import GPT2_PATTERN
from nanonlp.errors import DataError
from nanonlp.fileio import read_json, read_text_lines

EOT = "<|endoftext|>"


class BPEParts(NamedTuple):
    """What ``Tokenizer(merges, pattern, special_tokens, ids)`` takes, and where it came from."""

    merges: list[tuple[int, int]]  # pairs of tokens in rank order (bytes 0-255, then merges)
    pattern: str  # the split regex
    special_tokens: dict[str, int]  # special token -> id
    ids: list[int]  # the file's id of each token in rank order
    where: str  # the file(s) read, for error messages


def read_merges_txt(path: Path) -> list[tuple[str, str]]:
    """GPT-2's ``merges.txt``: an optional ``#version`` line, then ``a b`` per line.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "merges.txt"
    >>> _ = p.write_text("#version: 0.2\\nĠ t\\nh e\\n", encoding="utf-8")
    >>> read_merges_txt(p)
    [('Ġ', 't'), ('h', 'e')]
    """
    lines = read_text_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for lineno, line in enumerate(lines, start=1):
        if lineno == 1 and line.startswith("#version"):
            continue
        parts = line.rstrip("\r").split(" ")
        if len(parts) != 2 or not all(parts):
            raise DataError(f"{path}:{lineno}: not a merge 'a b': {line[:40]!r}")
        out.append((parts[0], parts[1]))
    return out


def build(vocab: dict[str, int], merges: list[tuple[str, str]], pattern: str,
          specials: dict[str, int], where: str) -> BPEParts:
    """A tokenizer's parts from an HF byte-level vocabulary, merges and special tokens.

    >>> b = bytes_to_unicode()
    >>> vocab = {b[i]: 255 - i for i in range(256)}       # bytes numbered backwards
    >>> vocab["hi"], vocab["Ġhi"] = 256, 257
    >>> parts = build(vocab, [("h", "i"), ("Ġ", "hi")], GPT2_PATTERN, {}, "demo")
    >>> parts.merges, parts.ids[ord("h")], parts.ids[256:]
    ([(104, 105), (32, 256)], 151, [256, 257])
    >>> from nanonlp.bpe import Tokenizer
    >>> Tokenizer(*parts[:4]).encode("hi hi!") == [256, 257, 255 - ord("!")]
    True
    """
    if not isinstance(vocab, dict) or not all(isinstance(k, str) and isinstance(v, int)
                                               and not isinstance(v, bool) and v >= 0
                                               for k, v in vocab.items()):
        raise DataError(f"{where}: the vocabulary must map token strings to ids >= 0")
    index: dict[str, int] = {}  # token string -> its place in the rank order
    ids: list[int] = []
    for b in range(256):
        s = bytes_to_unicode()[b]
        if s not in vocab:
            raise DataError(f"{where}: byte {b:#04x} ({s!r}) is not in the vocabulary; a "
                            "byte-level BPE has all 256")
        index[s] = b
        ids.append(vocab[s])
    pairs = []
    for k, (a, b) in enumerate(merges, start=1):
        for part in (a, b):
            if part not in index:
                raise DataError(f"{where}: merge {k} ({a} {b}) uses {part!r}, which no byte "
                                "or earlier merge makes")
        s = a + b
        if s in index:
            raise DataError(f"{where}: merge {k} ({a} {b}) makes {s!r}, which an earlier "
                            "merge or byte already is; nanonlp's BPE keeps one per token")
        if s not in vocab:
            raise DataError(f"{where}: merge {k} ({a} {b}) makes {s!r}, which is not in the "
                            "vocabulary")
        index[s] = len(ids)
        pairs.append((index[a], index[b]))
        ids.append(vocab[s])
    special_ids = set(specials.values())
    orphans = [s for s, i in vocab.items() if s not in index and i not in special_ids]
    if orphans:
        raise DataError(f"{where}: vocabulary entry {orphans[0]!r} (one of {len(orphans)}) is "
                        "neither a byte, a merge nor a special token")
    return BPEParts(pairs, pattern, specials, ids, where)


def _pattern_of(pre: Any, where: str) -> str:
    """Our split pattern for a tokenizer.json pre-tokenizer (the ones :mod:`export` writes)."""
    def bytelevel(p: Any) -> bool:
        if not isinstance(p, dict) or p.get("type") != "ByteLevel":
            return False
        if p.get("add_prefix_space"):
            raise DataError(f"{where}: ByteLevel add_prefix_space=true (HF puts a space "
                            "before every text) is not followed by nanonlp's BPE")
        return True

    if bytelevel(pre):
        return GPT2_PATTERN if pre.get("use_regex", True) else ""
    if isinstance(pre, dict) and pre.get("type") == "Sequence":
        steps = pre.get("pretokenizers") or []
        if len(steps) == 2 and isinstance(steps[0], dict) and steps[0].get("type") == "Split" \
                and bytelevel(steps[1]) and not steps[1].get("use_regex", True):
            split = steps[0]
            regex = (split.get("pattern") or {}).get("Regex")
            if isinstance(regex, str) and split.get("behavior") == "Isolated" \
                    and not split.get("invert"):
                return regex
    kind = pre.get("type") if isinstance(pre, dict) else pre
    raise DataError(f"{where}: pre-tokenizer {kind!r} is not one nanonlp's byte-level BPE "
                    "follows (ByteLevel, or Split + ByteLevel)")


def from_tokenizer_json(path: Path) -> BPEParts:
    """The parts of an HF ``tokenizer.json`` holding a byte-level BPE."""
    where = str(path)
    spec = read_json(path)
    model = spec.get("model") if isinstance(spec, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        kind = model.get("type") if isinstance(model, dict) else None
        raise DataError(f"{where}: model type {kind!r} is not BPE")
    if spec.get("normalizer") is not None:
        raise DataError(f"{where}: has a normalizer ({spec['normalizer'].get('type')}); "
                        "nanonlp's byte-level BPE reads text as it is")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise DataError(f"{where}: BPE {key}={model[key]!r} is not supported")
    for key in ("byte_fallback", "ignore_merges"):
        if model.get(key):
            raise DataError(f"{where}: BPE {key}=true is not supported")
    pattern = _pattern_of(spec.get("pre_tokenizer"), where)
    merges = []
    for k, m in enumerate(model.get("merges") or [], start=1):
        parts = m.split(" ") if isinstance(m, str) else m  # "a b" or, since tokenizers 0.20, [a, b]
        if not isinstance(parts, list) or len(parts) != 2 or \
                not all(isinstance(p, str) and p for p in parts):
            raise DataError(f"{where}: merge {k} is not a pair of tokens: {str(m)[:40]!r}")
        merges.append((parts[0], parts[1]))
    specials = {}
    for t in spec.get("added_tokens") or []:
        if not isinstance(t, dict) or not isinstance(t.get("content"), str) \
                or not isinstance(t.get("id"), int):
            raise DataError(f"{where}: an added token is not {{'id', 'content', ...}}")
        for flag in ("lstrip", "rstrip", "single_word"):
            if t.get(flag):
                raise DataError(f"{where}: added token {t['content']!r} has {flag}=true, which "
                                "nanonlp's special tokens do not do")
        specials[t["content"]] = t["id"]
    return build(model.get("vocab"), merges, pattern, specials, where)


def from_vocab_merges(folder: Path) -> BPEParts:
    """The parts of GPT-2's ``vocab.json`` + ``merges.txt`` (GPT-2 split pattern)."""
    vocab = read_json(folder / "vocab.json")
    merges = read_merges_txt(folder / "merges.txt")
    specials: dict[str, int] = {}
    config = folder / "tokenizer_config.json"
    if config.is_file():
        decoder = read_json(config).get("added_tokens_decoder") or {}
        for i, t in decoder.items() if isinstance(decoder, dict) else ():
            if isinstance(t, dict) and isinstance(t.get("content"), str) and str(i).isdigit():
                specials[t["content"]] = int(i)
    if isinstance(vocab, dict) and EOT in vocab:
        specials.setdefault(EOT, vocab[EOT])
    return build(vocab, merges, GPT2_PATTERN, specials, f"{folder} (vocab.json, merges.txt)")


def read_hf(path: str | os.PathLike) -> BPEParts:
    """A folder (``tokenizer.json``, else ``vocab.json`` + ``merges.txt``) or either file."""
    path = Path(path)
    if path.is_file():
        return from_tokenizer_json(path) if path.suffix == ".json" and \
            path.name != "vocab.json" else from_vocab_merges(path.parent)
    if (path / "tokenizer.json").is_file():
        return from_tokenizer_json(path / "tokenizer.json")
    if (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
        return from_vocab_merges(path)
    raise DataError(f"{path}: no tokenizer.json, nor vocab.json + merges.txt")
