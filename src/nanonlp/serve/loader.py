"""Everything ``nanonlp serve`` loads at start: the models of a runs folder and of the command
line (:mod:`nanonlp.serve.models`), then the search indexes with the encoders that embedded
them (:mod:`nanonlp.serve.encoders`), which may be BERTs loaded just before."""

from __future__ import annotations

import os
from pathlib import Path

from nanonlp.errors import NanonlpError
from nanonlp.serve.encoders import Encoders, load_search
from nanonlp.serve.models import KINDS, MAX_PER_KIND, Models, discover, load


def load_all(paths: dict[str, list[str | os.PathLike]], runs: str | os.PathLike | None = None,
             warn=None) -> Models:
    """Load what ``runs`` holds (see :func:`discover`), then the models named per kind.

    A model named on the command line that fails to load is an error; one found in the runs
    folder that fails is skipped with a ``warn(message)``. Indexes come last: each needs the
    checkpoint that embedded it, which may be one of the BERTs loaded before it.
    """
    models, encoders = Models(), Encoders()
    indexes: list[tuple[Path, str]] = []
    if runs is not None:
        left: list[tuple[str, Path]] = []
        found = discover(runs, left)
        if left and warn is not None:
            kinds = sorted({k for k, _ in left})
            warn(f"{len(left)} more model(s) below {runs} not loaded ({', '.join(kinds)}: at "
                 f"most {MAX_PER_KIND} of a kind from a runs folder); name them with "
                 f"--{kinds[0]} to serve them")
        for kind, path in found:
            name = Path(path).relative_to(runs).as_posix()
            if kind == "index":
                indexes.append((path, name))
                continue
            try:
                models.add(entry := load(kind, path, name))
            except NanonlpError as e:
                if warn is not None:
                    warn(f"skipped {path}: {e}")
            else:
                if kind == "bert":
                    encoders.add(path, entry)
    for kind in KINDS[:-1]:
        for path in paths.get(kind) or ():
            models.add(entry := load(kind, path))
            if kind == "bert":
                encoders.add(path, entry)
    for path, name in indexes:
        try:
            models.add(load_search(path, encoders, name))
        except NanonlpError as e:
            if warn is not None:
                warn(f"skipped {path}: {e}")
    for spec in paths.get("index") or ():
        models.add(load_search(spec, encoders))
    return models


# ----------------------------------------------------------------------------------------------
# discovery in a runs folder
