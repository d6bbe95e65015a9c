"""Pre-tokenization: the regexes that cut text into chunks before BPE sees it.

BPE never merges across a chunk boundary, so the split pattern decides what a token can be:
GPT-2's pattern keeps a leading space with each word (``" world"``), GPT-4's (tiktoken
``cl100k_base``) also caps digit runs at three and keeps newlines apart. ``"none"`` makes each
text one chunk (minbpe's ``BasicTokenizer``). Patterns use the ``regex`` module, which knows
``\\p{L}`` and possessive quantifiers, like the Rust engines inside tiktoken and HF tokenizers.

Follows OpenAI's GPT-2 ``encoder.py`` and tiktoken's ``cl100k_base`` definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import lru_cache

import regex

from nanonlp.errors import ConfigError, SpecialTokenError

#: GPT-2 (Radford et al. 2019), exactly the pattern HF's ByteLevel pre-tokenizer hard-codes.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: GPT-4, tiktoken's cl100k_base ``pat_str``.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

#: The same two patterns for text that is all ASCII, in the standard library's ``re``, which
#: splits English about twice as fast as ``regex`` (0.04 s against 0.085 s for
#: tinyshakespeare). On ASCII characters ``\p{L}`` is ``[A-Za-z]``, ``\p{N}`` is ``[0-9]``,
#: and ``re.ASCII``'s ``\s`` is ``regex``'s (tab to carriage return, and space). The possessive
#: quantifiers are dropped (``re`` has them from Python 3.11 only): none of them changes a
#: match here, since ``[^\r\n\p{L}\p{N}]?`` given back could never start ``\p{L}+``, and
#: ``[\r\n]*`` after a punctuation run always matches. Tested against ``regex`` on every
#: ASCII character.
ASCII_TWINS: dict[str, str] = {
    GPT2_PATTERN: r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)"""
                  r"""|\s+""",
    GPT4_PATTERN: r"""'(?i:[sdmt]|ll|ve|re)|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]{1,3}"""
                  r"""| ?[^\sA-Za-z0-9]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
}

#: Named patterns; "none" means no split: each text (between special tokens) is one chunk.
PATTERNS: dict[str, str] = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "none": ""}


def resolve_pattern(name_or_regex: str) -> str:
    """The regex for a pattern name, or the regex itself if it is not a name.

    >>> resolve_pattern("none")
    ''
    >>> resolve_pattern("gpt2") == GPT2_PATTERN
    True
    >>> resolve_pattern("gpt3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: unknown split pattern 'gpt3'; use gpt2, gpt4, none or a regex ...
    """
    if name_or_regex in PATTERNS:
        return PATTERNS[name_or_regex]
    # a bare word is a mistyped name, not a regex anyone means
    if regex.fullmatch(r"[A-Za-z0-9_-]+", name_or_regex):
        raise ConfigError(f"unknown split pattern {name_or_regex!r}; use gpt2, gpt4, none or a "
                          "regex containing a character class or alternation")
    compile_pattern(name_or_regex)
    return name_or_regex


def pattern_name(pattern: str) -> str:
    """The name of a known pattern, or ``"custom"``.

    >>> pattern_name(GPT4_PATTERN)
    'gpt4'
    """
    for name, pat in PATTERNS.items():
        if pat == pattern:
            return name
    return "custom"


@lru_cache(maxsize=16)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a split regex once (cached); a malformed one is a :class:`ConfigError`."""
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise ConfigError(f"split pattern {pattern!r} is not a valid regex: {e}") from None


class Chunker:
    """A split pattern's ``findall``: through its ASCII twin (``re``) on text that is all ASCII
    (``str.isascii`` reads a flag, so the test is free), through ``regex`` otherwise.

    >>> Chunker(GPT4_PATTERN).findall("Hello world!!  ok")
    ['Hello', ' world', '!!', ' ', ' ok']
    >>> Chunker(GPT4_PATTERN).findall("Héllo wörld")   # not ASCII: through regex
    ['Héllo', ' wörld']
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._full = compile_pattern(pattern).findall
        twin = ASCII_TWINS.get(pattern)
        self._ascii = re.compile(twin, re.ASCII).findall if twin else None

    def findall(self, text: str) -> list[str]:
        if self._ascii is not None and text.isascii():
            return self._ascii(text)
        return self._full(text)

    def __reduce__(self):  # (compiled patterns do not pickle: a spawned worker recompiles)
        return Chunker, (self.pattern,)


_chunker = lru_cache(maxsize=16)(Chunker)  # one per pattern, for split_chunks


def split_chunks(text: str, pattern: str) -> list[str]:
    """Cut ``text`` into the chunks BPE works on (no special-token handling here).

    >>> split_chunks("Hello world!!  ok", GPT2_PATTERN)
    ['Hello', ' world', '!!', ' ', ' ok']
    >>> split_chunks("abc 1234", GPT4_PATTERN)
    ['abc', ' ', '123', '4']
    >>> split_chunks("abc 1234", "")
    ['abc 1234']
    """
    if not pattern:
        return [text] if text else []
    return _chunker(pattern).findall(text)


def special_splitter(specials) -> regex.Pattern | None:
    """A regex whose ``split`` cuts text at special tokens and keeps them (longest first).

    >>> special_splitter(["<|eot|>"]).split("a<|eot|>b")
    ['a', '<|eot|>', 'b']
    """
    if not specials:
        return None
    alts = "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True))
    return regex.compile(f"({alts})")


def allowed_specials(text: str, specials: Collection[str], allowed_special: Collection[str] | str,
                     disallowed_special: Collection[str] | str) -> set[str]:
    """The special tokens an ``encode`` matches in ``text``, by tiktoken's rules.

    ``allowed_special`` (or ``"all"``) are matched; a special token in the text that is
    neither allowed nor removed from ``disallowed_special`` (default ``"all"``: every special
    token not allowed) raises :class:`SpecialTokenError`; ``disallowed_special=()`` lets it
    through as ordinary text.

    >>> allowed_specials("a<s>b", ["<s>"], "all", "all")
    {'<s>'}
    >>> allowed_specials("a<s>b", ["<s>"], (), ())
    set()
    """
    allowed = set(specials) if allowed_special == "all" else set(allowed_special)
    unknown = allowed - set(specials)
    if unknown:
        raise ConfigError(f"allowed_special names tokens this tokenizer lacks: {sorted(unknown)}")
    disallowed = set(specials) - allowed if disallowed_special == "all" \
        else set(disallowed_special)
    if disallowed:
        m = special_splitter(disallowed).search(text)
        if m:
            raise SpecialTokenError(m.group(), m.start())
    return allowed


def encode_with_specials(text: str, special_tokens: dict[str, int],
                         allowed_special: Collection[str] | str,
                         disallowed_special: Collection[str] | str,
                         encode_ordinary: Callable[[str], list[int]]) -> list[int]:
    """A tokenizer's ``encode``: the special tokens :func:`allowed_specials` lets through become
    their ids, the text between them goes to ``encode_ordinary``.

    >>> encode_with_specials("ab<s>c", {"<s>": 9}, "all", "all", lambda t: [ord(c) for c in t])
    [97, 98, 9, 99]
    """
    allowed = allowed_specials(text, special_tokens, allowed_special, disallowed_special)
    if not allowed:
        return encode_ordinary(text)
    out: list[int] = []
    for i, part in enumerate(special_splitter(allowed).split(text)):
        if i % 2:  # split() puts the matched special tokens at odd positions
            out.append(special_tokens[part])
        elif part:
            out += encode_ordinary(part)
    return out
