"""``nanonlp tour``: a short end-to-end pass over every part of nanonlp.

Each part lives in ``nanonlp/<part>/tour.py`` as ``run(ctx) -> PartReport``; this module runs
the parts that exist, in the course's order, and writes one report folder: ``report.md`` with
figures (PNG) and the numbers behind each figure, plus ``report.json``. A part whose module
does not exist yet is listed as "not built yet". The whole tour is meant to take about five
minutes on two CPU cores; ``quick=True`` shrinks every part to seconds (the tests use it).
It needs no network and no ``NANONLP_DATA``: parts fall back to corpora packaged with gensim,
or, where no real data exists offline, to a small task that nanonlp generates and labels so.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nanonlp.errors import ConfigError, NanonlpError
from nanonlp.fileio import atomic_write

#: (key, title, module) in the course's order; each module defines ``run(ctx)``.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("data", "Named data sets", "nanonlp.datasets.tour"),
    ("bpe", "1. Byte-level BPE tokenizer", "nanonlp.bpe.tour"),
    ("word2vec", "2. Word vectors (word2vec in numpy and gensim)", "nanonlp.word2vec.tour"),
    ("ner", "3. Named-entity recognition with spaCy", "nanonlp.ner.tour"),
    ("translate", "4. Machine translation (GRU encoder-decoder)", "nanonlp.seq2seq.tour"),
    ("gpt", "5. Decoder-only transformer (GPT)", "nanonlp.gpt.tour"),
    ("bert", "6. Encoder-only transformer (BERT)", "nanonlp.bert.tour"),
)


@dataclass
class TourConfig:
    out: str = "runs/tour"  # report folder (created; an earlier report there is replaced)
    parts: str = "all"  # comma-separated part keys to run, e.g. "data,bpe"
    quick: bool = False  # seconds per part instead of about a minute (what the tests use)
    seed: int = 0  # one seed for every part, so two tours give the same numbers

    def __post_init__(self):
        keys = [k for k, _, _ in PARTS]
        if self.parts != "all":
            unknown = [p for p in self.parts.split(",") if p.strip() not in keys]
            if unknown:
                raise ConfigError(f"unknown tour part(s) {unknown}; parts: {', '.join(keys)}")

    def selected(self) -> list[tuple[str, str, str]]:
        if self.parts == "all":
            return list(PARTS)
        wanted = {p.strip() for p in self.parts.split(",")}
        return [p for p in PARTS if p[0] in wanted]


@dataclass
class Figure:
    """A PNG in the report folder, its caption and the numbers it shows."""

    file: str
    caption: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class PartReport:
    """What one part of the tour did: a markdown summary, metrics, figures, data provenance."""

    title: str = ""
    status: str = "ok"  # ok | not built | failed
    data: str = ""  # which data it ran on, and from where (or that it is synthetic)
    summary: str = ""  # markdown
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class TourContext:
    """What a part gets: where to write, how big to go, the seed."""

    out: Path
    quick: bool
    seed: int

    def path(self, name: str) -> Path:
        """A path for an artefact of this part inside the report folder."""
        return self.out / name

    def figure(self, fig, name: str, caption: str, data: dict) -> Figure:
        """Lay out ``fig``, save it as ``name`` in the report folder and describe it."""
        fig.tight_layout()
        save_figure(fig, self.path(name))
        return Figure(name, caption, data)


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG atomically (a report never links a half-written file)."""
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)


def run_tour(config: TourConfig, progress: bool = True) -> Path:
    """Run the selected parts and write ``report.md`` and ``report.json``; return the report path.

    A part that fails is reported as failed and the tour goes on; if any failed, a
    :class:`NanonlpError` naming them is raised after the report is written.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(out=out, quick=config.quick, seed=config.seed)
    parts = config.selected()
    reports: list[tuple[str, PartReport]] = []
    bar = _bar(len(parts)) if progress else None
    for key, title, module in parts:
        if bar is not None:
            bar.set_description(f"tour: {key}")
        reports.append((key, _run_part(title, module, ctx)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    path = write_report(out, reports, config)
    failed = [key for key, r in reports if r.status == "failed"]
    if failed:
        raise NanonlpError(f"tour: part(s) failed: {', '.join(failed)}; report at {path}")
    return path


def _run_part(title: str, module: str, ctx: TourContext) -> PartReport:
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or \
            importlib.util.find_spec(module) is None:
        return PartReport(title=title, status="not built",
                          summary="Not built yet: this part has no code in nanonlp so far.")
    start = time.perf_counter()
    try:
        report = importlib.import_module(module).run(ctx)
    except NanonlpError as e:
        report = PartReport(status="failed", summary=f"Failed: {e}")
    report.title = title
    report.seconds = round(time.perf_counter() - start, 1)
    return report


def write_report(out: Path, reports: list[tuple[str, PartReport]], config: TourConfig) -> Path:
    """Write ``report.md`` (figures inline, numbers under each) and ``report.json``."""
    lines = ["# nanonlp tour", "",
             f"Run on {time.strftime('%Y-%m-%d %H:%M')} with seed {config.seed}"
             f"{' (quick mode)' if config.quick else ''}.", "",
             "| part | status | time (s) | data |", "| --- | --- | ---: | --- |"]
    for _, r in reports:
        lines.append(f"| {r.title} | {r.status} | {r.seconds:g} | {r.data or '-'} |")
    for _, r in reports:
        lines += ["", f"## {r.title}", ""]
        if r.data:
            lines += [f"*Data:* {r.data}", ""]
        if r.summary:
            lines += [r.summary.rstrip(), ""]
        if r.metrics:
            lines += ["| metric | value |", "| --- | ---: |"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in r.metrics.items()]
            lines.append("")
        for fig in r.figures:
            lines += [f"![{fig.caption}]({fig.file})", "", f"*{fig.caption}*", ""]
            if fig.data:
                lines += ["<details><summary>numbers</summary>", "", "```json",
                          json.dumps(fig.data, indent=1, default=str), "```", "</details>", ""]
    path = out / "report.md"
    with atomic_write(path) as f:
        f.write("\n".join(lines) + "\n")
    with atomic_write(out / "report.json") as f:
        json.dump({key: asdict(r) for key, r in reports}, f, indent=1, default=str)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _bar(total: int):
    from nanonlp.progress import tqdm

    return tqdm(total=total, unit="part")
