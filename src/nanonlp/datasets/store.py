"""Finding and fetching data set files.

A file of a named data set is looked for, in this order:

1. an explicit folder the caller passes (``path=``; nothing else is tried then);
2. ``$NANONLP_DATA/<name>/``;
3. the user cache, ``$NANONLP_CACHE`` or ``~/.cache/nanonlp`` (``$XDG_CACHE_HOME`` respected);
4. a copy inside an installed package (gensim ships the Lee corpus, the analogy questions,
   WS-353 and SimLex-999): the offline defaults;
5. a download into the cache, only when asked for (``download=True`` or
   ``nanonlp data download NAME``), so that nothing touches the network behind your back.

If none of them has the file, the error says which of these ways would provide it.
Downloads stream to a temporary file beside the target, are checked against the recorded size
and sha256, and only then renamed into place: an interrupted, truncated or corrupt transfer
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from nanonlp.datasets.spec import Dataset, FileSpec
from nanonlp.errors import DataError, DownloadError
from nanonlp.fileio import default_file_mode


def data_root() -> Path | None:
    """The shared data folder from ``$NANONLP_DATA``, or ``None`` when unset."""
    root = os.environ.get("NANONLP_DATA")
    return Path(root).expanduser() if root else None


def cache_root() -> Path:
    """The user cache: ``$NANONLP_CACHE``, else ``$XDG_CACHE_HOME/nanonlp`` (``~/.cache``)."""
    if os.environ.get("NANONLP_CACHE"):
        return Path(os.environ["NANONLP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nanonlp"


def package_file(spec: FileSpec) -> Path | None:
    """The copy of ``spec`` inside an installed package, if that package is installed."""
    if spec.package is None:
        return None
    pkg, rel = spec.package
    try:
        found = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for base in found.submodule_search_locations:
        candidate = Path(base) / rel
        if candidate.is_file():
            return candidate
    return None


def candidates(ds: Dataset, spec: FileSpec, path: str | os.PathLike | None = None
               ) -> list[tuple[str, Path | None]]:
    """Where ``spec`` would be looked for, in order, as ``(how, path)`` pairs."""
    if path is not None:
        return [("path", Path(path).expanduser() / spec.name)]
    root = data_root()
    return [
        ("NANONLP_DATA", root / ds.name / spec.name if root else None),
        ("cache", cache_root() / ds.name / spec.name),
        ("package", package_file(spec)),
    ]


def find_file(ds: Dataset, name: str, path: str | os.PathLike | None = None,
              download: bool = False, progress: bool = False) -> Path:
    """Resolve one file of ``ds`` (see the module docstring for the order)."""
    spec = ds.file(name)
    places = candidates(ds, spec, path)
    for _, p in places:
        if p is not None and p.is_file():
            return p
    if download and path is None and spec.urls:
        return fetch(spec, cache_root() / ds.name / spec.name, progress=progress)
    raise DataError(_not_found_message(ds, spec, places, path))


def _not_found_message(ds: Dataset, spec: FileSpec, places, path) -> str:
    looked = "; ".join(
        f"{how}: {p}" if p is not None else
        f"{how}: {'not set' if how == 'NANONLP_DATA' else 'not installed'}"
        for how, p in places
    )
    if path is not None:
        return f"data set {ds.name!r}: {spec.name} not found in {path} (looked at {looked})"
    if spec.urls:
        ways = (f"run `nanonlp data download {ds.name}` to fetch it from {spec.urls[0]}, "
                f"or put it in $NANONLP_DATA/{ds.name}/")
    else:
        ways = (f"it has no public download URL; put it in $NANONLP_DATA/{ds.name}/ "
                f"(`nanonlp data info {ds.name}` says where it comes from)")
    if spec.package:
        ways += f", or install {spec.package[0]} (it ships a copy)"
    return f"data set {ds.name!r}: {spec.name} not found ({looked}); {ways}"



def fetch(spec: FileSpec, dest: Path, *, progress: bool = False, timeout: float = 60.0) -> Path:
    """Download ``spec`` to ``dest`` atomically, trying its URLs in order; return ``dest``.

    The bytes go to a temporary file in ``dest``'s folder, are counted against the server's
    ``Content-Length`` and the recorded size, hashed against the recorded sha256, and renamed
    into place only if all of that holds. On any failure the temporary file is removed.
    """
    if not spec.urls:
        raise DownloadError(f"{spec.name}: no download URL is known")
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    try:
        for url in spec.urls:
            try:
                _fetch_one(url, spec, dest, progress=progress, timeout=timeout)
                return dest
            except DownloadError as e:
                errors.append(str(e))
    except BaseException:
        _remove_empty(made)
        raise
    _remove_empty(made)  # a failed download leaves no empty cache folder behind
    raise DownloadError("; ".join(errors))


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders ``fetch`` created (innermost first), as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived meanwhile), or already gone
            return


def _fetch_one(url: str, spec: FileSpec, dest: Path, *, progress: bool, timeout: float) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.chmod(tmp, default_file_mode())  # mkstemp's 0600 would make the cache private
    try:
        h = hashlib.sha256()
        n = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
                expected = resp.headers.get("Content-Length")
                expected = int(expected) if expected is not None else spec.size
                bar = _progress_bar(expected, dest.name) if progress else None
                while block := resp.read(1 << 16):
                    out.write(block)
                    h.update(block)
                    n += len(block)
                    if bar is not None:
                        bar.update(len(block))
                if bar is not None:
                    bar.close()
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            # IncompleteRead (a connection closed mid-body) is an HTTPException.
            raise DownloadError(f"{url}: download failed ({type(e).__name__}: {e})") from None
        if expected is not None and n != expected:
            raise DownloadError(f"{url}: transfer truncated ({n} of {expected} bytes)")
        if spec.size is not None and n != spec.size:
            raise DownloadError(f"{url}: got {n} bytes, expected {spec.size}")
        if spec.sha256 is not None and h.hexdigest() != spec.sha256:
            raise DownloadError(
                f"{url}: checksum mismatch (sha256 {h.hexdigest()[:16]}..., "
                f"expected {spec.sha256[:16]}...)"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _progress_bar(total: int | None, desc: str):
    from nanonlp.progress import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)
