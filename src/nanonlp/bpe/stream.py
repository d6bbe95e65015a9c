"""Reading text files in pieces that never cut a pre-tokenization chunk in two.

Training and ``encode_file`` stream files of any size, so they read about a megabyte at a time.
Where a piece ends matters: the GPT-2 and GPT-4 split patterns look one character ahead
(``\\s+(?!\\S)``) and their matches run greedily, so a cut inside a word or a whitespace run
would change the chunks, and with them the tokens. We cut only just before a space that follows
a non-whitespace character: no match of either pattern runs from a non-space across a space
or looks past one, so the pieces split exactly as the whole file would (tested). With the
``none`` pattern each line of a file is its own text. A cut never falls inside a special token.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Iterator

from nanonlp.errors import DataError
from nanonlp.fileio import open_binary

PIECE_CHARS = 1 << 20  # about 1 MB per piece: big enough to amortise, small enough to stream


def safe_cut(text: str, specials: Iterable[str] = (), end: int | None = None) -> int:
    """The last index ``q`` (before ``end``, if given) where ``text[:q]`` and ``text[q:]``
    split like ``text``; 0 if none.

    ``text[q]`` is a space and ``text[q - 1]`` is not whitespace, and no special token spans q.

    >>> safe_cut("one two  three")   # "one two" + "  three"
    7
    >>> safe_cut("one two  three", end=7)   # "one" + " two  three"
    3
    >>> safe_cut("   ")
    0
    """
    q = len(text) if end is None else end
    while True:
        q = text.rfind(" ", 0, q)
        if q <= 0:
            return 0
        if not text[q - 1].isspace() and not _inside_special(text, q, specials):
            return q


def _inside_special(text: str, q: int, specials: Iterable[str]) -> bool:
    for s in specials:
        start = max(0, q - len(s) + 1)
        i = text.find(s, start, q + len(s) - 1)
        if 0 <= i < q < i + len(s):
            return True
    return False


def iter_pieces(path: str | os.PathLike, *, by_line: bool = False, specials: Iterable[str] = (),
                piece_chars: int = PIECE_CHARS) -> Iterator[str]:
    """Stream a strict UTF-8 file as pieces that split into the same chunks as the whole file.

    ``by_line=True`` yields each line with its line end instead (the ``none`` pattern). A bad
    byte raises :class:`DataError` naming the file and line.
    """
    specials = tuple(specials)
    with open_binary(path) as raw:
        if by_line:
            for lineno, line in enumerate(raw, start=1):
                try:
                    yield line.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise _bad_utf8(path, lineno, line[e.start]) from None
            return
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        lines_before = 1  # line number at the start of the bytes being decoded
        buf = ""
        while True:
            data = raw.read(piece_chars)
            try:
                buf += decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                bad = e.object  # the undecoded bytes held over plus this read
                raise _bad_utf8(path, lines_before + bad.count(b"\n", 0, e.start),
                                bad[e.start]) from None
            lines_before += data.count(b"\n")
            if not data:
                break
            q = safe_cut(buf, specials)
            if q:
                yield buf[:q]
                buf = buf[q:]
        if buf:
            yield buf


def decode_utf8(data: bytes, name: str) -> str:
    """Decode ``data`` strictly; a bad byte raises :class:`DataError` naming ``name`` and line.

    >>> decode_utf8(b"ok\\n", "<stdin>")
    'ok\\n'
    >>> decode_utf8(b"ok\\ncaf\\xe9", "<stdin>")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.DataError: <stdin>:2: not valid UTF-8 (byte 0xe9); ...
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad_utf8(name, data.count(b"\n", 0, e.start) + 1, data[e.start]) from None


def _bad_utf8(path: str | os.PathLike, lineno: int, byte: int) -> DataError:
    return DataError(f"{os.fspath(path)}:{lineno}: not valid UTF-8 (byte {byte:#04x}); "
                     "convert the file to UTF-8 first")
