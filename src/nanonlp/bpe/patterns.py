"""Pre-tokenization: the regexes that cut text into chunks before BPE sees it.

BPE never merges across a chunk boundary, so the split pattern decides what a token can be:
GPT-2's pattern keeps a leading space with each word (``" world"``), GPT-4's (tiktoken
``cl100k_base``) also caps digit runs at three and keeps newlines apart. ``"none"`` makes each
text one chunk (minbpe's ``BasicTokenizer``). Patterns use the ``regex`` module, which knows
``\\p{L}`` and possessive quantifiers, like the Rust engines inside tiktoken and HF tokenizers.

Follows OpenAI's GPT-2 ``encoder.py`` and tiktoken's ``cl100k_base`` definitions.
"""

from __future__ import annotations

from collections.abc import Collection
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
    return compile_pattern(pattern).findall(text)


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
