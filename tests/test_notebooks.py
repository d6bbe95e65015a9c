"""The tutorials: the list in notebooks/tutorials.json matches the files, each file is a valid
jupytext notebook with real checks, and each one ran top to bottom in fast mode.

The notebooks are executed once, by the docs build (MyST-NB, ``NANONLP_FAST=1``), which
``tests/test_docs.py`` shares: the slow tests here read the executed copies the build keeps.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _load_build():
    spec = importlib.util.spec_from_file_location("nanonlp_docs_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


build = _load_build()
TUTORIALS = build.tutorials()
STEMS = [t["stem"] for t in TUTORIALS]


def shared_build(tmp_path_factory):
    """The one fast docs build of this test session (shared across xdist workers too)."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    pytest.importorskip("sphinx_design")
    pytest.importorskip("sphinx-mathjax-offline")  # MathJax served with the site (conf.py)
    pytest.importorskip("jupytext")
    pytest.importorskip("ipykernel")
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return build.build_once(base / "docs-build", fast=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return shared_build(tmp_path_factory)


def test_the_list_and_the_folder_agree():
    files = sorted(p.name for p in NOTEBOOKS.glob("*.py"))
    assert sorted(t["file"] for t in TUTORIALS) == files
    assert len(set(STEMS)) == len(STEMS)
    for t in TUTORIALS:
        assert t["title"] and t["summary"], t
        assert "\n" not in t["summary"] and len(t["summary"]) < 200, t["file"]


def test_no_built_notebooks_are_committed():
    # .ipynb are build outputs; the jupytext scripts are the sources
    assert not list(NOTEBOOKS.glob("*.ipynb"))
    ignore = (ROOT / ".gitignore").read_text(encoding="utf-8")
    assert "notebooks/*.ipynb" in ignore


@pytest.mark.parametrize("stem", STEMS)
def test_notebook_source_is_a_tutorial(stem):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(NOTEBOOKS / f"{stem}.py", fmt="py:percent")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    markdown = [c for c in cells if c.cell_type == "markdown"]
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert len(markdown) >= 5  # it explains as it goes
    assert 'os.environ.get("NANONLP_FAST"' in code  # the one switch to fast mode
    # the hand-built piece is checked against the library with real assertions
    checks = re.findall(r"^\s*(assert |np\.testing\.assert_|torch\.testing\.assert_)", code,
                        flags=re.M)
    assert len(checks) >= 3, f"{stem}: only {len(checks)} checks"
    assert "from nanonlp" in code


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_notebook_runs_in_fast_mode(built, stem):
    executed = Path(built.executed) / "tutorials" / f"{stem}.ipynb"
    # MyST-NB logs "<src>/tutorials/<stem>.ipynb: WARNING: Executing notebook failed: ..."
    # followed by the traceback's indented lines
    failed = re.findall(r"^.*Executing notebook failed.*?(?=\n\S|\Z)", built.log,
                        flags=re.S | re.M)
    mine = [f for f in failed if f"/{stem}.ipynb" in f.splitlines()[0]]
    assert not mine, "\n".join(mine)
    assert executed.exists(), f"no executed copy of {stem}; build log:\n{built.log[-3000:]}"
    nb = json.loads(executed.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("traceback", errors[0])[-5:]
    assert all(c.get("execution_count") for c in code), f"{stem}: not every cell ran"
    # it showed results: at least one figure, and printed output
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{stem}: no figure"
    assert any(o.get("output_type") == "stream" for o in outputs)
