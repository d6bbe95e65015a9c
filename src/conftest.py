"""Set-up for the ``>>>`` examples in the package, which ``pytest --doctest-modules`` runs.

Each example runs in a fresh temporary folder with its own nanonlp cache, as every test does,
so none can write into the working directory or ``~/.cache``. The examples of ``nanonlp.ner``
(the only part that imports spaCy) are skipped where spaCy is not installed, as its tests are.
"""

from __future__ import annotations

import importlib.util

import pytest

# module prefix -> the optional package (an extra of pyproject.toml) its examples need
NEEDS = {"nanonlp.ner": "spacy", "nanonlp.serve": "starlette"}

# --doctest-modules would import this file again as a module of examples, under the name
# "conftest" that tests/conftest.py has too; it holds no examples.
collect_ignore = ["conftest.py"]
# the playground's modules import starlette (the `serve` extra) when they are imported, as
# collecting their examples does: without it they are not collected at all
if importlib.util.find_spec("starlette") is None:
    collect_ignore_glob = ["nanonlp/serve/*.py"]


@pytest.fixture(autouse=True)
def _example_env(request, tmp_path, monkeypatch):
    dtest = getattr(request.node, "dtest", None)  # the doctest.DocTest of a doctest item
    module = dtest.globs.get("__name__", "") if dtest is not None else ""
    for prefix, package in NEEDS.items():
        if module == prefix or module.startswith(prefix + "."):
            pytest.importorskip(package)
    monkeypatch.setenv("NANONLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
