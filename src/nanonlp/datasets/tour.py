"""The tour's data step: which named data sets are available here, and how big they are."""

from __future__ import annotations

import time
from itertools import islice

from nanonlp import datasets as D
from nanonlp.tour import Figure, PartReport, TourContext


def run(ctx: TourContext) -> PartReport:
    counts: dict[str, int] = {}
    missing: list[str] = []
    rows = ["| data set | split | records | found in |", "| --- | --- | ---: | --- |"]
    from nanonlp.datasets import found_in  # the same "found in" that `nanonlp data list` prints

    limit = 1000 if ctx.quick else None  # quick mode: a lower bound is enough
    for ds in D.DATASETS:
        if not D.available(ds.name):
            missing.append(ds.name)
            continue
        split = ds.default_split
        n = sum(1 for _ in islice(D.load(ds.name, split), limit))
        counts[f"{ds.name}/{split}"] = n
        shown = f"{n:,}+" if limit is not None and n == limit else f"{n:,}"
        rows.append(f"| {ds.name} | {split} | {shown} | {found_in(ds)} |")
    report = PartReport(
        data=f"{len(counts)} of {len(D.DATASETS)} data sets available"
             f"{'' if D.data_root() else ' (NANONLP_DATA not set: packaged copies only)'}",
        summary="\n".join(rows) + (
            f"\n\nNot available here: {', '.join(missing)} "
            "(set NANONLP_DATA or run `nanonlp data download NAME`)." if missing else ""),
        metrics={"data sets available": len(counts), "data sets missing": len(missing)},
    )
    if counts:
        report.figures.append(_plot(ctx, counts))
    return report


def _plot(ctx: TourContext, counts: dict[str, int]) -> Figure:
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    names = sorted(counts, key=counts.get)
    fig = matplotlib.figure.Figure(figsize=(7, 0.35 * len(names) + 1.2))
    ax = fig.subplots()
    ax.barh(names, [counts[n] for n in names], color="#4c72b0")
    ax.set_xscale("log")
    ax.set_xlabel("records in the default split (log scale)")
    ax.set_title(f"Data sets available on this machine ({time.strftime('%Y-%m-%d')})")
    return ctx.figure(fig, "data_sets.png", "Records per available data set", counts)
