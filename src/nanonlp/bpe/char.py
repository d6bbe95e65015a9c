"""A character-level tokenizer with the BPE tokenizer's interface (for char-level GPT).

The vocabulary is the sorted set of characters seen in training (nanoGPT's
``shakespeare_char``), then the special tokens. A character outside the vocabulary is an error
naming it, not a silent unknown id: a char-level model cannot spell what it never saw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from nanonlp.bpe.patterns import special_splitter
from nanonlp.bpe.stream import iter_pieces
from nanonlp.bpe.tokenfile import write_tokens
from nanonlp.errors import DataError
from nanonlp.fileio import atomic_write, read_versioned

FORMAT = "nanonlp-char"
FORMAT_VERSION = 1


class CharTokenizer:
    """One id per character.

    >>> tok = CharTokenizer.train("hello")
    >>> tok.encode("hole"), tok.decode([0, 1])
    ([1, 3, 2, 0], 'eh')
    """

    def __init__(self, chars: Sequence[str], special: Sequence[str] = ()):
        self.chars = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        if len(self.stoi) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise DataError("a character vocabulary needs distinct single characters")
        self.special_tokens = {s: len(self.chars) + i for i, s in enumerate(special)}
        self.special_ids = {i: s for s, i in self.special_tokens.items()}

    @classmethod
    def train(cls, source: str | Iterable[str] = (), *, files: Sequence[str | os.PathLike] = (),
              special: Sequence[str] = ()) -> CharTokenizer:
        """Collect the characters of the texts and files (special tokens are not text)."""
        texts = [source] if isinstance(source, str) else source
        splitter = special_splitter(tuple(special))
        seen: set[str] = set()
        for text in [*texts, *(p for f in files for p in iter_pieces(f, specials=special))]:
            for part in (splitter.split(text)[::2] if splitter else (text,)):
                seen.update(part)
        if not seen:
            raise DataError("nothing to train on: the texts/files hold no characters")
        return cls(sorted(seen), special)

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + len(self.special_tokens)

    def encode(self, text: str, *, allowed_special: Iterable[str] | str = ()) -> list[int]:
        """Ids of the characters; ``allowed_special`` (or ``"all"``) become special ids."""
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        splitter = special_splitter(tuple(allowed))
        out: list[int] = []
        for k, part in enumerate(splitter.split(text) if splitter else [text]):
            if k % 2:
                out.append(self.special_tokens[part])
                continue
            try:
                out += [self.stoi[c] for c in part]
            except KeyError:
                bad = next(c for c in part if c not in self.stoi)
                raise DataError(f"character {bad!r} (U+{ord(bad):04X}) is not in the "
                                f"vocabulary of {len(self.chars)} characters") from None
        return out

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of ``ids`` (``errors`` is accepted for interface parity; chars never fail)."""
        out = []
        for i in ids:
            if 0 <= i < len(self.chars):
                out.append(self.chars[i])
            elif i in self.special_ids:
                out.append(self.special_ids[i])
            else:
                raise DataError(f"token id {i} is not in the vocabulary (ids 0..."
                                f"{self.vocab_size - 1})")
        return "".join(out)

    def encode_file(self, src: str | os.PathLike, dst: str | os.PathLike, **_) -> int:
        """Encode a UTF-8 file into a token array (``.npy`` or raw); returns its length."""
        ids = (self.encode(p, allowed_special="all")
               for p in iter_pieces(src, specials=self.special_tokens))
        return write_tokens(dst, ids, self.vocab_size)

    def save(self, prefix: str | os.PathLike) -> Path:
        """Write ``prefix.model``: a version line, then one JSON string per char / special."""
        prefix = Path(prefix)
        path = prefix.with_name(prefix.name + ".model")
        with atomic_write(path) as f:
            f.write(f"{FORMAT} {FORMAT_VERSION}\nchars {len(self.chars)}\n")
            f.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in self.chars)
            f.write(f"special {len(self.special_tokens)}\n")
            f.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in self.special_tokens)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Read a file written by :meth:`save`; a bad line is a :class:`DataError` naming it."""
        path = Path(path)
        lines = read_versioned(path, FORMAT, FORMAT_VERSION, "char model")
        lineno = 1

        def strings(prefix: str, single: bool) -> list[str]:
            """The count line ``prefix N``, then N JSON strings (one character each if single)."""
            nonlocal lineno
            lineno += 1
            line = lines[lineno - 1] if lineno <= len(lines) else "<end of file>"
            n = line.removeprefix(prefix + " ")
            if not line.startswith(prefix + " ") or not n.isdigit():
                raise DataError(f"{path}:{lineno}: expected '{prefix} N', got {line[:40]!r}")
            out = []
            for _ in range(int(n)):
                lineno += 1
                line = lines[lineno - 1] if lineno <= len(lines) else "<end of file>"
                try:
                    value = json.loads(line)
                except ValueError:
                    value = None
                if not isinstance(value, str) or not value or (single and len(value) != 1):
                    what = "one character" if single else "a non-empty string"
                    raise DataError(f"{path}:{lineno}: expected a JSON string of {what}, got "
                                    f"{line[:40]!r}")
                out.append(value)
            return out

        chars = strings("chars", single=True)
        special = strings("special", single=False)
        try:
            return cls(chars, special)
        except DataError as e:
            raise DataError(f"{path}: {e}") from None
