"""Export a :class:`Tokenizer` to HF ``tokenizers`` and to tiktoken, id for id.

* **HF** ``tokenizer.json``: a BPE model over GPT-2's byte-to-unicode alphabet (each byte is
  shown as a printable character, so ``" the"`` is ``"Ġthe"``), our merges in rank order, our
  special tokens as added tokens. HF's ByteLevel pre-tokenizer hard-codes the GPT-2 regex, so
  the GPT-2 pattern uses it directly; any other pattern becomes a ``Split`` with our regex
  followed by ``ByteLevel(use_regex=False)``; ``none`` is ByteLevel alone. ``ignore_merges``
  is off: HF must apply merges exactly as we do.
* **tiktoken**: a ``.tiktoken`` ranks file (``base64(token bytes) rank`` per line, the format
  of OpenAI's published files) and :func:`to_tiktoken`, which builds a ``tiktoken.Encoding``
  from our ranks, pattern and special tokens with no download.

Neither library is imported unless its function is called.
"""

from __future__ import annotations

import base64
import json
import os
from itertools import pairwise
from pathlib import Path

from nanonlp.bpe.bytelevel import bytes_to_unicode
from nanonlp.bpe.patterns import GPT2_PATTERN
from nanonlp.bpe.tokenizer import Tokenizer
from nanonlp.errors import DataError
from nanonlp.fileio import atomic_write


def _bytelevel(token: bytes) -> str:
    m = bytes_to_unicode()
    return "".join(m[b] for b in token)


def to_hf_json(tok: Tokenizer) -> dict:
    """The ``tokenizer.json`` document for ``tok`` (``tokenizers.Tokenizer.from_str`` loads it)."""
    _check_unique(tok)
    ids = tok.ids or range(len(tok.vocab))  # a tokenizer read from HF files keeps its ids
    vocab = {_bytelevel(t): ids[k] for k, t in enumerate(tok.vocab)}
    for s, i in tok.special_tokens.items():
        # HF keeps an added token's id only if the model's vocabulary has it (GPT-2's
        # tokenizer.json lists <|endoftext|> in both); otherwise it numbers it after the rest
        if vocab.setdefault(s, i) != i:
            raise DataError(f"special token {s!r} is also the ordinary token {vocab[s]}; HF's "
                            "tokenizer.json cannot hold both")
    merges = [f"{_bytelevel(tok.vocab[a])} {_bytelevel(tok.vocab[b])}" for a, b in tok.merges]
    if tok.pattern == GPT2_PATTERN:
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
               "use_regex": True}
    else:
        bytelevel = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                     "use_regex": False}
        if tok.pattern:
            split = {"type": "Split", "pattern": {"Regex": tok.pattern}, "behavior": "Isolated",
                     "invert": False}
            pre = {"type": "Sequence", "pretokenizers": [split, bytelevel]}
        else:
            pre = bytelevel
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s, i in tok.special_tokens.items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre,
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def save_hf(tok: Tokenizer, path: str | os.PathLike) -> Path:
    """Write ``tokenizer.json`` (give the file path, or a folder to put it in)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    with atomic_write(path) as f:
        json.dump(to_hf_json(tok), f, ensure_ascii=False, indent=1)
    return path


def to_hf(tok: Tokenizer):
    """A ``tokenizers.Tokenizer`` equal to ``tok`` (special tokens are always matched, as in
    our ``encode(text, allowed_special="all")``)."""
    from tokenizers import Tokenizer as HFTokenizer

    return HFTokenizer.from_str(json.dumps(to_hf_json(tok)))


def mergeable_ranks(tok: Tokenizer) -> dict[bytes, int]:
    """tiktoken's ``mergeable_ranks``: token bytes -> id, for the ordinary tokens.

    tiktoken merges the pair whose result has the lowest id first, so a tokenizer with its own
    ids (:meth:`Tokenizer.from_hf`) exports only if its merges' ids rise in merge order (GPT-2's
    do; the bytes may be numbered in any order).
    """
    _check_unique(tok)
    if tok.ids is None:
        return {t: i for i, t in enumerate(tok.vocab)}
    merge_ids = tok.ids[256:]
    if any(a >= b for a, b in pairwise(merge_ids)):
        raise DataError("this tokenizer's merge ids do not rise in merge order, which "
                        "tiktoken's ranks need")
    return {t: tok.ids[k] for k, t in enumerate(tok.vocab)}


def save_tiktoken(tok: Tokenizer, path: str | os.PathLike) -> Path:
    """Write a ``.tiktoken`` ranks file (``tiktoken.load.load_tiktoken_bpe`` reads it).

    Special tokens are not part of that format: pass ``tok.special_tokens`` to tiktoken, or
    use :func:`to_tiktoken`.
    """
    path = Path(path)
    with atomic_write(path) as f:
        for token, rank in mergeable_ranks(tok).items():
            f.write(f"{base64.b64encode(token).decode('ascii')} {rank}\n")
    return path


def load_tiktoken_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """Read a ``.tiktoken`` ranks file (ours or OpenAI's) without tiktoken."""
    ranks = {}
    with open(path, encoding="ascii") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except ValueError:
                raise DataError(f"{path}:{lineno}: not a 'base64 rank' line: {line[:40]!r}") \
                    from None
    return ranks


def to_tiktoken(tok: Tokenizer, name: str = "nanonlp"):
    """A ``tiktoken.Encoding`` built from our ranks, pattern and special tokens (offline)."""
    import tiktoken

    # tiktoken needs a regex; pattern "none" (the whole text is one chunk) matches everything
    pat = tok.pattern or r"[\s\S]+"
    return tiktoken.Encoding(name=name, pat_str=pat, mergeable_ranks=mergeable_ranks(tok),
                             special_tokens=dict(tok.special_tokens))


def _check_unique(tok: Tokenizer) -> None:
    """Both formats key tokens by their bytes, so two ids with the same bytes cannot export.

    Merges ``(ab, c)`` and ``(a, bc)`` would make two such tokens. A trainer only learns the
    second if some chunk still holds ``a`` next to ``bc`` after ``abc`` exists, which the
    export tests check does not happen on real corpora; a hand-made merge list can do it.
    """
    seen: dict[bytes, int] = {}
    ids = tok.ids or range(len(tok.vocab))
    for k, t in enumerate(tok.vocab):
        if t in seen:
            raise DataError(f"tokens {seen[t]} and {ids[k]} are both {t!r}: tiktoken and HF key "
                            "tokens by their bytes and cannot hold both")
        seen[t] = ids[k]
