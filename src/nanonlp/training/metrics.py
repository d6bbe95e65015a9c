"""Where step records go: a JSON-lines metrics file and a loss-curve PNG (a bare matplotlib
``Figure``: no pyplot, so no display is needed and a notebook's inline backend is left alone)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanonlp.fileio import atomic_write


class MetricsLog:
    """Records as JSON lines in ``path``; the whole file is rewritten atomically on
    :meth:`flush`, so a reader never sees half a line. Records already in the file (an
    interrupted run being resumed) are kept, up to the step the run resumes from."""

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if resume_step is not None and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if rec.get("step", 0) <= resume_step:
                    self.records.append(rec)

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def flush(self) -> None:
        with atomic_write(self.path) as f:
            f.writelines(json.dumps(r) + "\n" for r in self.records)


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
