"""Where step records go: a JSON-lines metrics file and a loss-curve PNG (a bare matplotlib
``Figure``: no pyplot, so no display is needed and a notebook's inline backend is left alone)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanonlp.errors import DataError
from nanonlp.fileio import atomic_write


class MetricsLog:
    """Records as JSON lines in ``path``, one line appended (and flushed) per :meth:`add`, so
    a killed run loses at most the line being written.

    ``resume_step`` (a run resumed from a checkpoint of that step; 0 for a fresh run) keeps
    the records already in the file up to that step and rewrites the file atomically to hold
    just those, so the log of a resumed run equals that of a run never interrupted. Without
    it the file starts empty. A torn last line (a kill mid-write) is dropped; a bad line
    anywhere else is a :class:`DataError` naming ``file:line``. ``write=False`` keeps the
    records in memory only (the default writes only on torchrun's rank 0, ``$RANK``).
    """

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None, *,
                 write: bool | None = None, last_record: dict[str, Any] | None = None):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        self.write = write if write is not None else os.environ.get("RANK", "0") == "0"
        if resume_step is not None and self.path.exists():
            self.records = [r for r in read_records(self.path)
                            if r.get("step", 0) <= resume_step]
        # the record of the step a checkpoint was saved at: a kill between that save and the
        # log line would lose it, so the checkpoint carries it and it is put back here
        if last_record is not None and last_record.get("loss") is not None and \
                last_record.get("step") not in {r.get("step") for r in self.records}:
            self.records.append(last_record)
        if self.write and self.path.exists():  # a fresh run creates the file with its first line
            with atomic_write(self.path) as f:
                f.writelines(json.dumps(r) + "\n" for r in self.records)
        elif self.write and self.records:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.path) as f:
                f.writelines(json.dumps(r) + "\n" for r in self.records)

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.write:
            line = json.dumps(record) + "\n"  # serialise first: a bad record writes nothing
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)

    def flush(self) -> None:
        """Nothing to do: :meth:`add` writes each record as it comes (kept for callers)."""


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a metrics file; a torn last line is dropped, any other bad line is a
    :class:`DataError` naming ``file:line``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a metrics file") from None
    lines = data.split(b"\n")
    torn = len(lines) if data.endswith(b"\n") else len(lines) - 1  # 0-based index of a torn line
    records = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
            if not isinstance(rec, dict) or not isinstance(rec.get("step", 0), int):
                raise ValueError("not a record")
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            if i == torn:
                break  # the line a killed run was writing
            raise DataError(f"{path}:{i + 1}: not a metrics record (expected a JSON object "
                            f"with an integer 'step'): {raw[:60].decode('utf-8', 'replace')!r}") \
                from None
        records.append(rec)
    return records


def plot_losses(records: Iterable[dict[str, Any]], path: str | os.PathLike,
                title: str = "training loss") -> Path:
    """Train loss per step (thin), eval train/val losses (markers); returns the PNG path."""
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    records = list(records)
    fig = matplotlib.figure.Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot([r["step"] for r in records], [r["loss"] for r in records], lw=0.7, alpha=0.6,
            label="train (per step)")
    evals = [r for r in records if r.get("eval")]
    for split, style in (("train", "o-"), ("val", "s-")):
        ax.plot([r["step"] for r in evals], [r["eval"][split] for r in evals], style, ms=3,
                label=f"{split} (eval)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path
