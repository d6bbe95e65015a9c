"""Build the docs site: stage the sources, turn the notebooks into pages, run Sphinx.

The tutorials are written as jupytext percent scripts in ``notebooks/`` (they diff like code).
This script copies ``docs/`` into ``<out>/src`` next to each tutorial converted to an
unexecuted ``.ipynb``, then runs ``sphinx-build -n -W --keep-going`` on that staged tree.
MyST-NB executes each notebook while reading it (through jupyter-cache, kept in ``<out>``, so
an unchanged notebook is not run twice), which makes the docs build the one place notebooks
run: the tests read the executed copies from the build instead of running them again.
Nothing is written inside the repository unless ``--out`` points there (``make docs`` does).

    python docs/build.py                     # full size, into docs/_build
    python docs/build.py --fast --out /tmp/d # NANONLP_FAST=1: every notebook shrinks to seconds
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "tutorials.json"
FAST_ENV = "NANONLP_FAST"  # the one switch that shrinks every notebook


def tutorials() -> list[dict]:
    """The tutorials in course order, from ``notebooks/tutorials.json``, each with its ``stem``
    (the page name: ``ner-spacy.py`` -> ``ner-spacy``)."""
    entries = json.loads(INDEX.read_text(encoding="utf-8"))["tutorials"]
    for e in entries:
        e["stem"] = Path(e["file"]).stem
    return entries


def _write_if_changed(path: Path, data: bytes) -> None:
    # an unchanged file keeps its mtime, so Sphinx's incremental build skips the page
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def stage(src: Path) -> None:
    """Copy ``docs/`` (minus build outputs) and the converted notebooks into ``src``."""
    import jupytext
    import nbformat

    keep = set()
    for path in DOCS.rglob("*"):
        rel = path.relative_to(DOCS)
        if rel.parts[0] in ("_build", "__pycache__") or path.is_dir() or path.suffix == ".pyc":
            continue
        _write_if_changed(src / rel, path.read_bytes())
        keep.add(rel)
    entries = tutorials()
    for e in entries:
        nb = jupytext.read(NOTEBOOKS / e["file"], fmt="py:percent")
        rel = Path("tutorials") / f"{e['stem']}.ipynb"
        _write_if_changed(src / rel, nbformat.writes(nb).encode("utf-8"))
        keep.add(rel)
    index = Path("tutorials") / "tutorials.json"
    _write_if_changed(src / index, json.dumps(entries, indent=1).encode("utf-8"))
    keep.add(index)
    for path in list(src.rglob("*")):  # a page deleted from docs/ must not linger
        if path.is_file() and path.relative_to(src) not in keep:
            path.unlink()


@dataclass
class BuildResult:
    returncode: int  # sphinx-build's exit status (0: no warning, no error)
    html: str  # the built site
    executed: str  # MyST-NB's executed notebooks (<stem>.ipynb) and failure reports
    log: str  # sphinx-build's stdout and stderr
    seconds: float  # wall-clock of the whole build


def build(out: str | os.PathLike, fast: bool = False, jobs: str = "1",
          builder: str = "html") -> BuildResult:
    """Stage, then run Sphinx with warnings as errors; never raises on a failed build."""
    out = Path(out).resolve()
    start = time.perf_counter()
    stage(out / "src")
    env = dict(os.environ)
    env[FAST_ENV] = "1" if fast else "0"
    env["NANONLP_DOCS_OUT"] = str(out)  # conf.py keeps the execution cache here
    # the kernels inherit this: inline figures even where the caller set e.g. MPLBACKEND=Agg
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    cmd = [sys.executable, "-m", "sphinx", "-b", builder, "-n", "-W", "--keep-going",
           "-j", jobs, "-d", str(out / "doctrees"), str(out / "src"), str(out / builder)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return BuildResult(proc.returncode, str(out / builder), str(out / "jupyter_execute"),
                       proc.stdout + proc.stderr, time.perf_counter() - start)


def build_once(out: str | os.PathLike, fast: bool = True) -> BuildResult:
    """:func:`build` unless ``out`` already holds a finished build (the tests share one).

    A lock file serialises concurrent callers (pytest-xdist workers) on the same ``out``.
    """
    import fcntl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = out / "result.json"
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return BuildResult(**json.loads(done.read_text(encoding="utf-8")))
        result = build(out, fast=fast)
        done.write_text(json.dumps(asdict(result)), encoding="utf-8")
        return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(DOCS / "_build"), help="build folder (default docs/_build)")
    p.add_argument("--fast", action="store_true", help=f"run the notebooks with {FAST_ENV}=1")
    p.add_argument("--jobs", default="1", help="sphinx-build -j (notebooks run in parallel)")
    p.add_argument("--clean", action="store_true", help="delete the build folder first")
    args = p.parse_args(argv)
    if args.clean:
        shutil.rmtree(args.out, ignore_errors=True)
    result = build(args.out, fast=args.fast, jobs=args.jobs)
    sys.stdout.write(result.log)
    print(f"docs: {'built' if result.returncode == 0 else 'FAILED'} in {result.seconds:.0f} s "
          f"-> {result.html}/index.html")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
