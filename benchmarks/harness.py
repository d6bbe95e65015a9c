"""The shared way to run a benchmark and record its figures.

Every script in ``benchmarks/`` measures ours and the anchor on the same data in the same run,
and for each figure calls :func:`result`, which prints one JSON line::

    {"benchmark": "bpe", "case": "tinyshakespeare/4096", "metric": "train_s", "ours": 1.9,
     "anchor": 1.2, "anchor_name": "HF tokenizers", "ratio": 1.58, "better": "lower"}

``ratio`` is always ours / anchor. With ``--record`` the script then calls :func:`record`,
which rewrites that benchmark's section of ``BENCHMARKS.md`` (atomically) with a table, the
exact command, the machine and the date. A benchmark of long phases keeps each phase's result
in its work folder (:func:`run_phases`), so phases run separately and are recorded together.
Benchmarks are never run by the test suite.

    python benchmarks/bpe.py             # print JSON lines
    python benchmarks/bpe.py --record    # ... and update BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"

sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark has (``--record``, ``--quick``)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--record", action="store_true", help="write the figures into BENCHMARKS.md")
    p.add_argument("--quick", action="store_true", help="small sizes, to check the script runs")
    return p


def data_dir() -> Path:
    """``$NANONLP_DATA``, or ``../shared/data`` beside the checkout; exits if neither exists."""
    for cand in (os.environ.get("NANONLP_DATA"), ROOT.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            os.environ["NANONLP_DATA"] = str(Path(cand).resolve())
            return Path(cand).resolve()
    sys.exit("benchmark needs the real data sets: set NANONLP_DATA")


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` (wall clock, perf_counter)."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def alternate(fns: dict, repeats: int, warmup: bool = True,
              keep: Callable[[str, object], None] | None = None) -> dict[str, float]:
    """Median wall-clock seconds of each fn, called in turn ``repeats`` times (after one
    untimed warm-up each, unless ``warmup`` is false): a slow moment of a shared machine then
    falls on every side alike, and the median drops it. ``keep(name, result)`` sees each
    call's result outside the timing; the result is then dropped, also outside it, so a
    benchmark can keep a digest instead of holding every side's output in memory."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for k in range(int(warmup) + repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
            if k or not warmup:
                times[name].append(elapsed)
            if keep is not None:
                keep(name, out)
            del out
    return {k: statistics.median(v) for k, v in times.items()}


def interleave(runs: dict[str, dict]) -> None:
    """Race runs of different step counts: step whichever run is least far along
    (``done / steps``) until all are done, so a changing machine load falls on every run
    alike. A run is a dict with ``it`` (one step per ``next``), ``steps``, ``done`` and
    ``seconds``; ``done`` and ``seconds`` (the sum of its own step times) grow in place."""
    while any(r["done"] < r["steps"] for r in runs.values()):
        run = min((r for r in runs.values() if r["done"] < r["steps"]),
                  key=lambda r: r["done"] / r["steps"])
        t0 = time.perf_counter()
        next(run["it"])
        run["seconds"] += time.perf_counter() - t0
        run["done"] += 1


def phase_flag(p: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add ``--phase NAME`` (repeatable), the ``only`` of :func:`run_phases`."""
    p.add_argument("--phase", action="append", choices=list(names),
                   help="run only this phase, again even when its result is kept "
                   "(repeatable; default: every phase not kept yet, and none with --record)")


def run_phases(phases: dict[str, Callable[[], tuple[list, dict]]], work: Path,
               only: Iterable[str] | None = None, record: bool = False
               ) -> tuple[list[dict], dict[str, dict]]:
    """Run a benchmark's phases, each one's result kept as ``work/phase-NAME.json``; return
    the rows of all of them and their notes by name (``{name: notes}``), in ``phases`` order.

    A phase returns ``(rows, notes)``: its :func:`result` rows and what the section's text
    needs. By default a kept phase is read back (its rows printed again) and the others run;
    delete a file to run that phase again. ``only`` (``--phase``) runs just the phases it
    names, again even when kept, and reads back the other kept ones. ``record``
    (``--record``) runs nothing more: it collects the kept results, and exits naming the
    phases that have none before anything runs, so recording never trains.
    """
    only = set(only or ())
    if only - phases.keys():
        raise ValueError(f"no phase {sorted(only - phases.keys())} (the phases: "
                         f"{', '.join(phases)})")
    if record:
        missing = [name for name in phases
                   if name not in only and not (work / f"phase-{name}.json").exists()]
        if missing:
            sys.exit(f"--record: {work} keeps no result of the phase"
                     f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}; run "
                     f"{'them' if len(missing) > 1 else 'it'} first, without --record ("
                     + " ".join(f"--phase {name}" for name in missing) + ")")
    from nanonlp.fileio import atomic_write

    rows: list[dict] = []
    notes: dict[str, dict] = {}
    for name, phase in phases.items():
        done = work / f"phase-{name}.json"
        # --phase: the phases named; --record alone: none; neither: those not kept
        run = (name in only) if (only or record) else not done.exists()
        if run:
            r, n = phase()
            with atomic_write(done) as f:
                json.dump([r, n], f, default=str)
        elif done.exists():
            r, n = json.loads(done.read_text())
            for row in r:
                print(json.dumps(row), flush=True)
        else:
            continue  # --phase named others, and this one is not kept yet
        rows += r
        notes[name] = n
        print(json.dumps({name: n}, default=str), flush=True)
    return rows, notes


def result(benchmark: str, case: str, metric: str, ours: float, anchor: float,
           anchor_name: str, better: str = "lower", **extra) -> dict:
    """Print and return one figure: ours, the anchor, and ours / anchor."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    ratio = ours / anchor if anchor else float("nan")
    row = {"benchmark": benchmark, "case": case, "metric": metric, "ours": _round(ours),
           "anchor": _round(anchor), "anchor_name": anchor_name, "ratio": _round(ratio),
           "better": better, **extra}
    print(json.dumps(row), flush=True)
    return row


def _round(x: float) -> float:
    return float(f"{x:.4g}") if isinstance(x, float) else x


def machine() -> str:
    """One line describing this machine: CPU, cores, Python and key library versions.

    The CPU's family and model numbers follow its name: a VM may name only "AMD EPYC", and
    its generation decides kernel speeds (family 25 is Zen 3/4, whose AVX-512 runs at half
    width; family 26 is Zen 5, full width)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        m = re.search(r"model name\s*:\s*(.+)", info)
        cpu = m.group(1).strip() if m else cpu
        fam, mod = (re.search(rf"^{k}\s*:\s*(\d+)", info, re.M) for k in ("cpu family", "model"))
        if fam and mod:
            cpu += f" (family {fam.group(1)}, model {mod.group(1)})"
    except OSError:
        pass
    versions = []
    for mod in ("numpy", "torch", "gensim", "tokenizers", "tiktoken", "spacy", "transformers"):
        module = sys.modules.get(mod)
        if module is not None:
            versions.append(f"{mod} {getattr(module, '__version__', '?')}")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
            + (", " + ", ".join(versions) if versions else ""))


def record(benchmark: str, rows: list[dict], notes: str = "") -> None:
    """Replace the ``## benchmark`` section of BENCHMARKS.md with these rows.

    The section's ``###`` subsections (written by hand, e.g. the variants tried and not kept)
    are carried over after the new table.
    """
    from nanonlp.fileio import atomic_write

    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    lines = [f"## {benchmark}", "",
             f"Command: `{command}`  ", f"Machine: {machine()}  ",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["| case | metric | ours | anchor | anchor is | ours / anchor | better |",
              "| --- | --- | ---: | ---: | --- | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['metric']} | {r['ours']} | {r['anchor']} | "
                     f"{r['anchor_name']} | {r['ratio']} | {r['better']} |")
    section = "\n".join(lines) + "\n"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else _HEADER
    pattern = re.compile(rf"^## {re.escape(benchmark)}\n.*?(?=^## |\Z)", re.M | re.S)
    old = pattern.search(text)
    by_hand = re.search(r"^### .*", old.group(0), re.M | re.S) if old else None
    if by_hand:
        section += "\n" + by_hand.group(0).rstrip("\n") + "\n"
    text = pattern.sub(lambda _: section + "\n", text) if old else \
        text.rstrip("\n") + "\n\n" + section
    with atomic_write(BENCHMARKS_MD) as f:
        f.write(text.rstrip("\n") + "\n")


_HEADER = """# Benchmarks

Each section is written by `python benchmarks/<name>.py --record`: ours and the anchor on the
same data in the same run, with the ratio ours / anchor. Timings depend on the machine and on
what else ran on it; the ratio is the figure to compare across machines. A `###` subsection at
the end of a section is written by hand, and a new record keeps it.
"""
