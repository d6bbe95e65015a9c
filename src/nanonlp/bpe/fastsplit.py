"""The GPT-4 split without a regex engine: one numba pass over the text's code points.

GPT-4's pattern (:data:`nanonlp.bpe.patterns.GPT4_PATTERN`) is seven alternatives tried in
order at each position::

    '(?i:[sdmt]|ll|ve|re)          a contraction: 's 'd 'm 't 'll 've 're, any case
    [^\\r\\n\\p{L}\\p{N}]?+\\p{L}+      letters, after at most one character that is no letter,
                                   digit or line break (" word", "(word", "\\tword")
    \\p{N}{1,3}                     one to three digits
     ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*     punctuation (after at most one space), then line breaks
    \\s*[\\r\\n]                     white space up to its last line break
    \\s+(?!\\S)                      white space, except the last character before a non-space
    \\s+                            white space

Each one reads only the class of each character: letter, digit, line break (``\\r``, ``\\n``),
other white space, anything else. :func:`chunk_ends` walks the text once and applies the rules
above to those classes. The classes come from the ``regex`` module itself (:func:`classify`),
one character at a time, for the characters a text actually holds, so the chunks are those of
``regex.findall(GPT4_PATTERN, text)`` by construction; the tests check it on random text. The
one rule that is not a class test is the contraction's case-insensitive letter, where the
``regex`` module also accepts U+017F (long s) for ``s``.

Why: ``regex.findall`` took more than half of the encoding time on English text, about 50 ns a
character; this pass and slicing the chunks out take about a third of that. The slow regex
stays the definition, and the path for every other pattern.
"""

from __future__ import annotations

from itertools import pairwise

import numba
import numpy as np
import regex

OTHER, LETTER, DIGIT, SPACE, NEWLINE = 0, 1, 2, 3, 4
UNKNOWN = 255  # not classified yet
_LETTER, _DIGIT, _SPACE = regex.compile(r"\p{L}"), regex.compile(r"\p{N}"), regex.compile(r"\s")
#: the class of each code point, filled in as texts bring new characters
_classes = np.full(0x110000, UNKNOWN, dtype=np.uint8)


def classify(c: str) -> int:
    """The class of one character, as GPT-4's pattern sees it.

    >>> [classify(c) for c in "a1 \\n.é٣\\u3000"] == [LETTER, DIGIT, SPACE, NEWLINE, OTHER,
    ...                                              LETTER, DIGIT, SPACE]
    True
    """
    if _LETTER.fullmatch(c):
        return LETTER
    if _DIGIT.fullmatch(c):
        return DIGIT
    if c in "\r\n":
        return NEWLINE
    return SPACE if _SPACE.fullmatch(c) else OTHER


@numba.njit(cache=True)
def _contraction(t, i, n):
    # the length of a contraction at t[i] == "'" (0 if none): [sdmt] -> 2, ll|ve|re -> 3
    if i + 1 >= n:
        return 0
    c = t[i + 1]
    if c == 0x17F:  # long s: the regex module's case folding matches it to "s"
        return 2
    if c >= 128:
        return 0
    c |= 32  # ASCII lower case; non-letters become non-letters
    if c == 115 or c == 100 or c == 109 or c == 116:  # s d m t
        return 2
    if i + 2 < n and t[i + 2] < 128:
        d = t[i + 2] | 32
        if (c == 108 and d == 108) or (c == 118 and d == 101) or (c == 114 and d == 101):
            return 3  # ll ve re
    return 0


@numba.njit(cache=True)
def chunk_ends(t, classes):
    """Where each chunk of GPT-4's split ends, for the code points ``t`` (uint8 or uint32)."""
    n = t.size
    ends = np.empty(n, dtype=np.int64)
    k = 0
    i = 0
    while i < n:
        c = classes[t[i]]
        nxt = classes[t[i + 1]] if i + 1 < n else UNKNOWN
        j = i + _contraction(t, i, n) if t[i] == 39 else i  # 39: "'"
        if j > i:
            pass
        elif c == LETTER or (c in (OTHER, SPACE) and nxt == LETTER):
            j = i + 1  # letters, after one optional prefix character
            while j < n and classes[t[j]] == LETTER:
                j += 1
        elif c == DIGIT:
            j = i + 1
            while j < n and j < i + 3 and classes[t[j]] == DIGIT:
                j += 1
        elif c == OTHER or (t[i] == 32 and nxt == OTHER):
            j = i + 1  # punctuation (after one optional space), then line breaks
            while j < n and classes[t[j]] == OTHER:
                j += 1
            while j < n and classes[t[j]] == NEWLINE:
                j += 1
        elif c in (SPACE, NEWLINE):  # white space: the run i..e
            e = i
            last_break = -1
            while e < n and classes[t[e]] in (SPACE, NEWLINE):
                if classes[t[e]] == NEWLINE:
                    last_break = e
                e += 1
            if last_break >= 0:
                j = last_break + 1  # \s*[\r\n]: up to the last line break
            elif e == n or e - i == 1:
                j = e  # \s+(?!\S) at the end of the text, or \s+ for a single character
            else:
                j = e - 1  # \s+(?!\S): the last space goes with the word after it
        else:
            j = i + 1  # an unclassified character: the caller classifies them all first
        ends[k] = j
        k += 1
        i = j
    return ends[:k]


@numba.njit(cache=True)
def _joined(t, ends, sep):
    # the code points with ``sep`` between chunks, so that str.split cuts the chunks out in C
    out = np.empty(t.size + ends.size - 1, dtype=t.dtype)
    o = 0
    start = 0
    for k in range(ends.size):
        if k:
            out[o] = sep
            o += 1
        for i in range(start, ends[k]):
            out[o] = t[i]
            o += 1
        start = ends[k]
    return out


def split_gpt4(text: str) -> list[str]:
    """``regex.findall(GPT4_PATTERN, text)``, faster.

    >>> split_gpt4("Hello world's 12345 end!!\\n\\n  x")
    ['Hello', ' world', "'s", ' ', '123', '45', ' end', '!!\\n\\n', ' ', ' x']
    """
    if not text:
        return []
    if text.isascii():  # O(1) for a str: one byte per character, no conversion
        t, codec = np.frombuffer(text.encode("ascii"), dtype=np.uint8), "ascii"
    else:
        t = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codec = "utf-32-le"
    for cp in np.unique(t[_classes[t] == UNKNOWN]).tolist():
        _classes[cp] = classify(chr(cp))
    ends = chunk_ends(t, _classes)
    if "\0" in text:  # no free separator: slice the chunks out one by one
        return [text[a:b] for a, b in pairwise([0, *ends.tolist()])]
    # Slicing 4 million chunks out of 20 MB one by one costs more than scanning it; joining
    # them with NULs and letting str.split cut them takes a third of that.
    return _joined(t, ends, 0).tobytes().decode(codec, "surrogatepass").split("\0")
