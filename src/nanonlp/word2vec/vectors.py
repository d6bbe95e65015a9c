"""``WordVectors``: the queryable result of training, separate from the trainer (as gensim's
``KeyedVectors`` is from ``Word2Vec``).

Queries: cosine ``similarity``, ``most_similar`` and analogies by 3CosAdd (Mikolov et al. 2013,
"Linguistic Regularities in Continuous Space Word Representations") or 3CosMul (Levy &
Goldberg 2014, "Linguistic Regularities in Sparse and Explicit Word Representations"), with
gensim's conventions so that numbers compare: the query words are excluded from the answers,
3CosAdd ranks by the cosine with the mean of the unit vectors, 3CosMul shifts cosines to
[0, 1] and adds 1e-6 to the denominator.

Files: the word2vec C tool's text format (``N D`` header, then ``word x1 ... xD`` lines) and
binary format (the same header, then ``word`` + space + D little-endian float32 per entry),
both readable by gensim's ``KeyedVectors.load_word2vec_format``, and an ``.npz`` (numpy, no
pickle) that loads fastest. The format follows the file suffix: ``.bin``, ``.npz``, else text.
"""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanonlp.errors import ConfigError, DataError, NanonlpError
from nanonlp.fileio import atomic_write, iter_lines, open_binary


class UnknownWordError(NanonlpError, KeyError):
    """A query named a word that has no vector; the message names it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class WordVectors:
    """Vectors for a vocabulary: ``wv["king"]``, ``wv.most_similar("king")``, ``wv.save(p)``."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray,
                 counts: np.ndarray | None = None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise DataError(f"{len(words)} words but vectors of shape {vectors.shape}")
        self.words = list(words)  # index -> word, most frequent first when trained here
        self.vectors = vectors  # (V, D) float32
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise DataError("the vocabulary holds a word twice")
        self._norms: np.ndarray | None = None

    # -- lookup ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index_of(word)]

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} words, dim {self.dim})"

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def index_of(self, word: str) -> int:
        """The row of ``word``; an unknown word raises :class:`UnknownWordError` naming it."""
        try:
            return self.index[word]
        except KeyError:
            hint = ""
            for variant in (word.lower(), word.capitalize(), word.upper()):
                if variant in self.index:
                    hint = f"; did you mean {variant!r}?"
                    break
            raise UnknownWordError(f"word {word!r} is not in the vocabulary "
                                   f"({len(self):,} words){hint}") from None

    @property
    def norms(self) -> np.ndarray:
        """(V,) Euclidean length of each vector (computed once)."""
        if self._norms is None:
            self._norms = np.linalg.norm(self.vectors, axis=1)
        return self._norms

    def unit(self, word: str) -> np.ndarray:
        """The vector of ``word`` scaled to length 1 (a zero vector stays zero)."""
        i = self.index_of(word)
        return self.vectors[i] / max(self.norms[i], 1e-30)

    # -- queries --------------------------------------------------------------------------

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit(a) @ self.unit(b))

    def _scores(self, query: np.ndarray, limit: int) -> np.ndarray:
        """Cosine of ``query`` (D,) with the first ``limit`` vectors: (limit,)."""
        return (self.vectors[:limit] @ query) / np.maximum(self.norms[:limit], 1e-30)

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        scores[[i for i in exclude if i < len(scores)]] = -np.inf
        k = min(topn, len(scores) - len(exclude))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def most_similar(self, positive: str | Sequence[str] = (), negative: Sequence[str] = (),
                     topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words closest to ``mean(unit(positive)) - unit(negative)`` (3CosAdd), best first.

        ``most_similar(["woman", "king"], ["man"])`` answers man : king :: woman : ?.
        ``restrict_vocab`` searches only the first (most frequent) words, as gensim does.
        """
        positive = [positive] if isinstance(positive, str) else list(positive)
        if not positive and not negative:
            raise NanonlpError("most_similar needs at least one word")
        _check_query(topn, restrict_vocab)
        terms = [self.unit(w) for w in positive] + [-self.unit(w) for w in negative]
        mean = np.mean(terms, axis=0)  # (D,) float32, as gensim's matutils.unitvec input
        mean = mean / max(float(np.linalg.norm(mean)), 1e-30)
        exclude = {self.index[w] for w in (*positive, *negative)}
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        return self._top(self._scores(mean.astype(np.float32), limit), exclude, topn)

    def most_similar_cosmul(self, positive: Sequence[str] = (), negative: Sequence[str] = (),
                            topn: int = 10, restrict_vocab: int | None = None
                            ) -> list[tuple[str, float]]:
        """3CosMul (Levy & Goldberg 2014): ``prod (1+cos(w,p))/2 / (prod (1+cos(w,n))/2 + eps)``."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        if not positive:
            raise NanonlpError("most_similar_cosmul needs at least one positive word")
        _check_query(topn, restrict_vocab)
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        pos = [(1 + self._scores(self.unit(w), limit)) / 2 for w in positive]  # each (limit,)
        neg = [(1 + self._scores(self.unit(w), limit)) / 2 for w in negative]
        scores = np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 1e-6)
        exclude = {self.index[w] for w in (*positive, *negative)}
        return self._top(scores, exclude, topn)

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: str = "add",
                restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """a : b :: c : ?  by 3CosAdd (``method="add"``) or 3CosMul (``"mul"``).

        With vectors in which king - man + woman is exactly queen:

        >>> wv = WordVectors(["man", "woman", "king", "queen", "apple"],
        ...                  np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 1], [0, 0, 1]]))
        >>> [(w, round(s, 2)) for w, s in wv.analogy("man", "king", "woman", topn=2)]
        [('queen', 0.96), ('apple', 0.56)]
        """
        if method == "add":
            return self.most_similar([b, c], [a], topn, restrict_vocab)
        if method == "mul":
            return self.most_similar_cosmul([b, c], [a], topn, restrict_vocab)
        raise NanonlpError(f"analogy method must be 'add' or 'mul', got {method!r}")

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, format: str | None = None) -> Path:
        """Write ``text`` / ``binary`` (word2vec C formats) or ``npz``; default from the suffix."""
        path = Path(path)
        fmt = format or _format_of(path)
        if fmt == "npz":
            with atomic_write(path, "wb") as f:
                np.savez(f, words=np.array(self.words, dtype=str), vectors=self.vectors,
                         counts=self.counts if self.counts is not None else np.zeros(0, int))
            return path
        bad = next((w for w in self.words if not w or any(ch.isspace() for ch in w)), None)
        if bad is not None:
            raise DataError(f"{path}: word {bad!r} is empty or holds whitespace, which the "
                            "word2vec format cannot store")
        if fmt not in ("binary", "text"):
            raise DataError(f"unknown vectors format {fmt!r} (text, binary or npz)")
        header = f"{len(self)} {self.dim}\n".encode()
        with atomic_write(path, "wb") as raw:
            f = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else raw
            f.write(header)
            if fmt == "binary":
                for word, vec in zip(self.words, self.vectors.astype("<f4")):
                    f.write(word.encode("utf-8") + b" " + vec.tobytes() + b"\n")
            else:
                for word, vec in zip(self.words, self.vectors.tolist()):
                    # 9 significant digits round-trip any float32 exactly
                    f.write((word + " " + " ".join(f"{x:.9g}" for x in vec) + "\n").encode())
            if f is not raw:
                f.close()  # writes the gzip trailer; raw is closed by atomic_write
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, format: str | None = None) -> WordVectors:
        """Read a file written by :meth:`save`, by gensim, or by the word2vec C tool."""
        path = Path(path)
        fmt = format or _format_of(path)
        if fmt == "npz":
            try:
                with np.load(path, allow_pickle=False) as z:
                    counts = z["counts"] if "counts" in z and len(z["counts"]) else None
                    wv = cls([str(w) for w in z["words"]], z["vectors"], counts)
            except (OSError, ValueError, KeyError, EOFError, MemoryError, zipfile.BadZipFile) as e:
                if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                    raise DataError(f"{path}: cannot read ({e.strerror})") from None
                raise DataError(f"{path}: not a nanonlp vectors .npz "
                                f"({type(e).__name__}: {str(e)[:80]})") from None
            _check_finite(path, wv)
        elif fmt == "binary":
            wv = _read_binary(path)
        elif fmt == "text":
            wv = _read_text(path)
        else:
            raise DataError(f"unknown vectors format {fmt!r} (text, binary or npz)")
        return wv

    def to_gensim(self):
        """A gensim ``KeyedVectors`` holding the same words and vectors (same order)."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim)
        kv.add_vectors(self.words, self.vectors)
        if self.counts is not None:
            for w, c in zip(self.words, self.counts.tolist()):
                kv.set_vecattr(w, "count", c)
        return kv

    @classmethod
    def from_gensim(cls, kv) -> WordVectors:
        """From a gensim ``KeyedVectors`` (or a ``Word2Vec`` model's ``.wv``): a copy, so later
        training of the gensim model leaves it alone."""
        counts = getattr(kv, "expandos", {}).get("count")  # gensim's per-word attributes
        return cls(list(kv.index_to_key), np.array(kv.vectors, dtype=np.float32),
                   None if counts is None else np.array(counts))


def _check_query(topn: int, restrict_vocab: int | None) -> None:
    if isinstance(topn, bool) or not isinstance(topn, int | np.integer) or topn < 1:
        raise ConfigError(f"topn must be an integer >= 1, got {topn!r}")
    if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or not isinstance(
            restrict_vocab, int | np.integer) or restrict_vocab < 1):
        raise ConfigError(f"restrict_vocab must be an integer >= 1 (or None), got "
                          f"{restrict_vocab!r}")


def _check_finite(path: Path, wv: WordVectors) -> None:
    """A NaN or infinite component is a damaged file: every cosine with it is NaN."""
    bad = ~np.isfinite(wv.vectors).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: the vector of {wv.words[i]!r} (entry {i + 1}) holds "
                        f"{wv.vectors[i][~np.isfinite(wv.vectors[i])][0]}; vectors must be "
                        f"finite ({int(bad.sum())} of {len(wv)} are not)")


def _format_of(path: Path) -> str:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    return {".npz": "npz", ".bin": "binary"}.get(last, "text")


def _parse_header(path: Path, line: str, lineno: int = 1) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise DataError(f"{path}:{lineno}: expected a header 'COUNT DIM', got {line[:60]!r}")
    n, d = int(parts[0]), int(parts[1])
    if d < 1:
        raise DataError(f"{path}:{lineno}: vector size must be positive, got {d}")
    return n, d


def _read_text(path: Path) -> WordVectors:
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError(f"{path}: empty file, expected a header 'COUNT DIM'")
    n, d = _parse_header(path, first[1])
    # each of n entries takes at least a 1-byte word and d " x" numbers: a header that asks
    # for more than the file can hold is refused before anything is allocated
    _check_size(path, n, d, 2 * d + 1, first[1])
    words: list[str] = []
    # rows are allocated as they are read (doubling), so a compressed file, whose real size is
    # unknown until read, cannot make us allocate more than it holds
    vectors = np.empty((min(n, max(1, (1 << 20) // (4 * d))), d), dtype=np.float32)
    for lineno, line in lines:
        parts = line.rstrip().split(" ")
        if len(parts) == 1 and not parts[0]:
            continue  # tolerate blank lines (e.g. a trailing one)
        if len(words) == n:
            raise DataError(f"{path}:{lineno}: more vectors than the {n} the header announces")
        if len(parts) != d + 1:
            raise DataError(f"{path}:{lineno}: expected a word and {d} numbers, got "
                            f"{len(parts) - 1} numbers")
        try:
            row = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            bad = next(p for p in parts[1:] if not _is_float(p))
            raise DataError(f"{path}:{lineno}: {bad!r} is not a number") from None
        if not np.isfinite(row).all():
            raise DataError(f"{path}:{lineno}: the vector of {parts[0]!r} holds "
                            f"{row[~np.isfinite(row)][0]}; vectors must be finite")
        if len(words) == len(vectors):  # grow as the file proves it holds the rows
            vectors = np.resize(vectors, (min(n, max(1, 2 * len(vectors))), d))
        vectors[len(words)] = row
        words.append(parts[0])
    if len(words) != n:
        raise DataError(f"{path}: the header announces {n} vectors but the file holds "
                        f"{len(words)}")
    return WordVectors(words, vectors[:n])


def _check_size(path: Path, n: int, d: int, min_entry: int, header: str,
                size: int | None = None) -> None:
    """Refuse a header whose ``n`` entries of at least ``min_entry`` bytes cannot fit in the
    file (``size`` bytes after the header; an uncompressed file's size when not given)."""
    if size is None:
        if path.suffix in (".gz", ".bz2", ".xz") or "::" in str(path):
            return  # the real size is known only once read: rows are allocated as they come
        size = path.stat().st_size
    if n * min_entry - 1 > size:
        raise DataError(f"{path}:1: the header {header.strip()[:40]!r} announces {n:,} vectors "
                        f"of size {d:,}, at least {n * min_entry - 1:,} bytes, but the file "
                        f"holds {size:,}")


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _read_binary(path: Path) -> WordVectors:
    with open_binary(path) as f:
        data = f.read()
    end = data.find(b"\n")
    if end < 0:
        raise DataError(f"{path}:1: expected a header 'COUNT DIM' and a newline")
    try:
        header = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise DataError(f"{path}:1: the header is not 'COUNT DIM' text") from None
    n, d = _parse_header(path, header)
    nbytes = 4 * d
    # each entry is at least a 1-byte word, a space and d float32s
    _check_size(path, n, d, nbytes + 2, header, len(data) - end - 1)
    words: list[str] = []
    vectors = np.empty((n, d), dtype=np.float32)
    pos = end + 1
    for i in range(n):
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1  # the C tool ends each entry with a newline; gensim does not
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + nbytes > len(data):
            raise DataError(f"{path}: entry {i + 1} (byte {pos}): the file ends early, "
                            f"the header announces {n} vectors of size {d}")
        try:
            word = data[pos:space].decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}: entry {i + 1} (byte {pos}): the word is not valid "
                            "UTF-8") from None
        words.append(word)
        vectors[i] = np.frombuffer(data, dtype="<f4", count=d, offset=space + 1)
        if not np.isfinite(vectors[i]).all():
            raise DataError(f"{path}: entry {i + 1} (byte {pos}): the vector of {word!r} holds "
                            f"{vectors[i][~np.isfinite(vectors[i])][0]}; vectors must be finite")
        pos = space + 1 + nbytes
    if data[pos:].strip():
        raise DataError(f"{path}: entry {n + 1} (byte {pos}): more data than the {n} vectors "
                        "the header announces")
    return WordVectors(words, vectors)
