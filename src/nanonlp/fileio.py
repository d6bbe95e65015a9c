"""Safe file plumbing: atomic writes and strict text reading.

Two rules hold everywhere in nanonlp:

* an output file either appears complete or not at all, so we write to a temporary file in
  the same folder and ``os.replace`` it into place (atomic on POSIX and Windows);
* input text is UTF-8, strictly: a bad byte is an error naming the file and line, never a
  silent U+FFFD that poisons a vocabulary.

Compressed inputs (``.gz``, ``.bz2``, ``.xz`` and a member of a ``.zip``) are read in place.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nanonlp.errors import DataError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open ``path`` for writing through a temporary file that replaces it on success.

    If the body raises (or the process is interrupted) the temporary file is removed and any
    previous ``path`` is left untouched.

    >>> with atomic_write(tmp / "out.txt") as f:   # doctest: +SKIP
    ...     f.write("all or nothing\\n")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "b" in mode:
        encoding = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates the file 0600; give it the permissions a plain open() would have.
    os.chmod(tmp, default_file_mode())
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, keep_others: bool = False) -> Iterator[Path]:
    """Build a folder in a temporary sibling and swap it in whole when the body succeeds.

    The body writes into the yielded ``.<name>.tmp-XXXX`` folder (same parent, so the renames
    stay on one file system). When the body returns, the folder is renamed to
    ``.<name>.new-XXXX``: that rename is the mark of a complete folder (a ``.tmp-`` folder may
    be half-written, a ``.new-`` one never is). Then the old ``path`` is renamed aside to
    ``.<name>.old-XXXX``, the new folder renamed into place and the old one deleted. If the body
    raises, the temporary folder is removed and ``path`` is untouched. A reader sees the old
    folder or the new one, never a mix of the two. A process killed between the two renames
    leaves no ``path`` but both complete folders: :func:`recover_dir` (called here first, and
    by the checkpoint readers) renames the newer back into place, and the hidden leftovers of
    earlier kills are removed before the new folder is built. ``keep_others`` carries over
    entries of the old folder that the new one does not have (a data folder may hold the
    user's other files).

    >>> with atomic_dir(tmp / "ckpt") as d:   # doctest: +SKIP
    ...     (d / "config.json").write_text("{}")
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    remove_stale(path, keep_others)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; give it what mkdir would
    tag = tmp.name.rsplit("-", 1)[1]
    new = path.parent / f".{path.name}.new-{tag}"
    old = path.parent / f".{path.name}.old-{tag}"
    try:
        yield tmp
        os.rename(tmp, new)  # the body finished: from here on the folder counts as complete
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    had_old = path.exists() or path.is_symlink()
    try:
        if had_old:
            os.rename(path, old)
        os.rename(new, path)
    except BaseException as e:
        if isinstance(e, FileNotFoundError) and not new.exists() and path.is_dir():
            pass  # a reader's recover_dir moved our complete folder into place: done
        else:
            if had_old and not path.exists() and old.exists():
                os.rename(old, path)
            shutil.rmtree(new, ignore_errors=True)
            raise
    if had_old:
        _retire(old, path, keep_others)


def _hidden_siblings(path: Path) -> list[tuple[str, Path]]:
    """The ``.<name>.{tmp,new,old}-XXXX`` folders :func:`atomic_dir` leaves beside ``path``
    when it is killed, as ``(kind, folder)``."""
    prefix = f".{path.name}."
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        kind, dash, tag = entry.name[len(prefix):].partition("-")
        if dash and tag and kind in ("tmp", "new", "old"):
            found.append((kind, Path(entry.path)))
    return found


def recover_dir(path: str | os.PathLike) -> bool:
    """Put back ``path`` if a killed :func:`atomic_dir` swap left it missing; True if it did.

    Only complete folders qualify: a ``.new-`` folder (renamed so once its body finished), or
    else the ``.old-`` folder (the previous ``path`` itself). A ``.tmp-`` folder beside an
    ``.old-`` folder with the same tag also counts as complete (an older nanonlp renamed
    ``path`` aside only once the body had finished). The newest complete folder wins.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        return False
    hidden = _hidden_siblings(path)
    olds = {p.name.rsplit("-", 1)[1]: p for kind, p in hidden if kind == "old"}
    new = [p for kind, p in hidden
           if kind == "new" or (kind == "tmp" and p.name.rsplit("-", 1)[1] in olds)]
    for group in (new, list(olds.values())):
        for folder in sorted(group, key=_mtime, reverse=True):
            try:
                os.rename(folder, path)
            except FileNotFoundError:
                continue  # another process took it first
            except OSError:
                if path.exists():
                    return True  # another process put one back meanwhile
                raise
            return True
    return False


def remove_stale(path: str | os.PathLike, keep_others: bool = False) -> None:
    """Delete the hidden folders killed :func:`atomic_dir` swaps left beside ``path``.

    Call it after :func:`recover_dir`. An ``.old-`` folder is retired as a finished swap
    would have retired it (with ``keep_others``, its entries that ``path`` lacks are moved in
    first). Where ``path`` is still missing, a kill came during its first build: what is left
    are half-written ``.tmp-`` folders (a complete one would have been put in place), and
    they go too.
    """
    path = Path(path)
    exists = path.exists()
    for kind, folder in _hidden_siblings(path):
        if not exists and kind != "tmp":
            continue
        if kind == "old":
            _retire(folder, path, keep_others)
        elif folder.is_symlink():
            folder.unlink()
        else:
            shutil.rmtree(folder, ignore_errors=True)


#: the name :func:`atomic_write` gives its temporary file: ``.<name>.<8 random characters>.tmp``
_TEMP_FILE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Delete the temporary files that killed :func:`atomic_write` calls left in ``folder``
    (e.g. ``.loss.png.k3j9x_2a.tmp``); returns their names. Only for a folder whose one
    writer is starting (a run folder): another process's write in progress would be lost.

    >>> _ = Path(".loss.png.k3j9x_2a.tmp").write_bytes(b"half a png")
    >>> _ = Path(".notes.tmp").write_text("the user's")
    >>> remove_stale_temps(".")
    ['.loss.png.k3j9x_2a.tmp']
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if _TEMP_FILE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return sorted(removed)


def _retire(old: Path, path: Path, keep_others: bool) -> None:
    """Delete the folder a swap renamed aside, carrying its other entries over if asked."""
    if keep_others and old.is_dir():
        for entry in old.iterdir():
            if not (path / entry.name).exists():
                os.rename(entry, path / entry.name)
    if old.is_symlink():  # path was a link to a folder: drop the link, not its target
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it, so set it straight back
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0o666 less the process umask."""
    return 0o666 & ~_umask()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks (a checkpoint, a data file, an index)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def split_member(path: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``archive.zip::member`` into the archive path and the member name.

    >>> split_member("data/fra-eng.zip::fra.txt")
    (PosixPath('data/fra-eng.zip'), 'fra.txt')
    >>> split_member("input.txt")
    (PosixPath('input.txt'), None)
    """
    s = os.fspath(path)
    if "::" in s:
        archive, member = s.split("::", 1)
        return Path(archive), member
    return Path(s), None


#: What a damaged compressed file or zip archive raises while it is read: a truncated stream
#: (EOFError), a corrupt one (gzip's BadGzipFile and bz2's "Invalid data stream" are OSErrors,
#: zlib.error, LZMAError), a bad zip (BadZipFile, including a member's CRC mismatch).
_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_KINDS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz"}


@contextlib.contextmanager
def open_binary(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a file for binary reading, decompressing ``.gz``/``.bz2``/``.xz`` transparently.

    ``archive.zip::member`` opens one member of a zip archive, streamed (never read whole).
    A damaged archive or compressed stream, found when opened or while it is read inside the
    ``with`` body, is a :class:`DataError` naming the file.
    """
    archive, member = split_member(path)
    if not archive.exists():
        raise DataError(f"{archive}: no such file")
    if archive.is_dir():
        raise DataError(f"{archive}: is a folder, expected a file")
    if member is not None:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise _damaged(e, f"{archive}: not a readable zip archive") from None
        with zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                names = ", ".join(zf.namelist()[:5])
                raise DataError(f"{archive}: no member {member!r} (it has {names}, ...)") from None
            try:
                f = zf.open(info)
            except (*_DAMAGED, RuntimeError, NotImplementedError) as e:  # encrypted, odd method
                raise DataError(f"{os.fspath(path)}: cannot unpack this zip member "
                                f"({_reason(e)})") from None
            try:
                with f:
                    yield f
            except _DAMAGED as e:
                raise _damaged(e, f"{os.fspath(path)}: damaged zip member") from None
        return
    kind = _KINDS.get(archive.suffix)
    if kind is None:
        with open(archive, "rb") as f:
            yield f
        return
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[archive.suffix]
    try:
        with opener(archive, "rb") as f:
            yield f
    except _DAMAGED as e:
        raise _damaged(e, f"{archive}: not a valid {kind} file, or cut short") from None


def _damaged(e: BaseException, what: str) -> DataError:
    """The error for a damaged file: ``WHAT (reason)``. A :class:`PermissionError` is the
    user's to fix, not a sign of damage: it is raised as it is."""
    if isinstance(e, PermissionError):
        raise e
    return DataError(f"{what} ({_reason(e)})")


def _reason(e: BaseException) -> str:
    """A short reason for a damaged-file error: its first line, or its type."""
    text = str(e).splitlines()[0][:80] if str(e) else ""
    return text or type(e).__name__


def read_text_lines(path: str | os.PathLike, what: str = "file") -> list[str]:
    """The lines of a small UTF-8 text file, split at ``\\n`` (a file that ends with a newline
    ends with ``''``); a missing file (``no such WHAT``) or bytes that are not UTF-8 is a
    :class:`DataError` naming the file.

    >>> _ = Path("t.txt").write_text("a\\nb\\n")
    >>> read_text_lines("t.txt")
    ['a', 'b', '']
    >>> read_text_lines("nope.txt", "vocabulary file")
    Traceback (most recent call last):
    nanonlp.errors.DataError: nope.txt: no such vocabulary file
    """
    try:
        return Path(path).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise DataError(f"{os.fspath(path)}: no such {what}") from None
    except UnicodeDecodeError:
        raise DataError(f"{os.fspath(path)}: not UTF-8 text") from None


def read_versioned(path: str | os.PathLike, fmt: str, version: int, what: str) -> list[str]:
    """The lines of a text file nanonlp wrote with the header ``FMT VERSION`` (tokenizer and
    vocabulary files), the header checked: a missing file, bytes that are not UTF-8, another
    header or a newer version is a :class:`DataError` naming the file.

    >>> _ = Path("t.model").write_text("nanonlp-x 1\\nab\\n")
    >>> read_versioned("t.model", "nanonlp-x", 1, "x model")
    ['nanonlp-x 1', 'ab', '']
    >>> read_versioned("t.model", "nanonlp-y", 1, "y model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nanonlp.errors.DataError: t.model:1: not a nanonlp y model (expected 'nanonlp-y 1', ...)
    """
    path = Path(path)
    lines = read_text_lines(path, "tokenizer file")
    head = lines[0].split(" ")
    if len(head) != 2 or head[0] != fmt or not head[1].isdigit():
        raise DataError(f"{path}:1: not a nanonlp {what} (expected '{fmt} {version}', got "
                        f"{lines[0][:40]!r})")
    if int(head[1]) > version:
        raise DataError(f"{path}: {what} format version {head[1]} is newer than this "
                        f"nanonlp reads ({version}); upgrade nanonlp")
    return lines


def read_json(path: str | os.PathLike, missing: str = "no such file") -> Any:
    """The value of a small JSON file; a missing or malformed file is a :class:`DataError`
    naming it (``missing`` says what was expected there).

    >>> read_json("nowhere.json", "missing (expected a model folder)")
    Traceback (most recent call last):
    nanonlp.errors.DataError: nowhere.json: missing (expected a model folder)
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{os.fspath(path)}: {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{os.fspath(path)}: not valid JSON ({str(e)[:60]})") from None


def iter_json_lines(path: str | os.PathLike) -> Iterator[tuple[str, Any]]:
    """``(file:line, value)`` for each non-blank line of a JSON-lines file; a line that is not
    JSON is a :class:`DataError` naming it (what each value must be is the caller's check).

    >>> _ = Path("r.jsonl").write_text('{"a": 1}\\n\\n[2]\\n')
    >>> list(iter_json_lines("r.jsonl"))
    [('r.jsonl:1', {'a': 1}), ('r.jsonl:3', [2])]
    """
    name = os.fspath(path)
    for lineno, line in iter_lines(path):
        if lineno == 1:
            line = line.removeprefix("\ufeff")  # a UTF-8 byte order mark, as editors write
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None


def iter_lines(path: str | os.PathLike, *, keepends: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` from a UTF-8 text file, 1-based, streaming.

    Line ends (``\\n`` and ``\\r\\n``) are stripped unless ``keepends``. A byte sequence that is
    not UTF-8 raises :class:`DataError` naming the file, the line and the byte offset.
    """
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{os.fspath(path)}:{lineno}: not valid UTF-8 "
                    f"(byte {raw[e.start]:#04x} at column {e.start + 1})"
                ) from None
            if not keepends:
                line = line.rstrip("\r\n") if line.endswith("\n") else line
            yield lineno, line


def read_text(path: str | os.PathLike) -> str:
    """Read a whole UTF-8 file (compressed or a zip member) into one string, strictly."""
    with open_binary(path) as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{os.fspath(path)}:{line}: not valid UTF-8 (byte {data[e.start]:#04x})"
        ) from None


def iter_text_chunks(path: str | os.PathLike, chunk_chars: int = 1 << 20) -> Iterator[str]:
    """Stream a UTF-8 file as strings of about ``chunk_chars`` characters.

    Chunks end on a line boundary where the file has lines, so a caller that splits text into
    words never sees a word cut in two (text8 is one 100 MB line: it is cut at a space).
    """
    with open_binary(path) as raw:
        decoder = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        buf = ""
        while True:
            try:
                piece = decoder.read(chunk_chars)
            except UnicodeDecodeError:
                # the decoder failed somewhere in a block it read ahead: re-scan the file line
                # by line (only on this error path) so the message names the right line
                for _ in iter_lines(path):
                    pass
                raise DataError(f"{os.fspath(path)}: not valid UTF-8") from None
            if not piece:
                break
            buf += piece
            cut = buf.rfind("\n")
            if cut < 0:
                cut = buf.rfind(" ")
            if cut < 0:
                continue
            out, buf = buf[: cut + 1], buf[cut + 1 :]
            yield out
        if buf:
            yield buf
