"""Shared test fixtures: an isolated environment for every test, and the real-data switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = os.environ.get("NANONLP_DATA")

# --doctest-modules would import this file again as a module of examples, under the name
# "conftest" that src/conftest.py has too; it holds no examples.
collect_ignore = ["conftest.py"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Point the nanonlp cache at a fresh folder so no test reads or writes ~/.cache."""
    monkeypatch.setenv("NANONLP_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # dtype auto on a CPU trains in float32, whatever this machine's bfloat16 speed: test
    # numbers (and runs compared across processes) must not depend on a timing probe
    monkeypatch.setenv("NANONLP_CPU_BF16", "0")


@pytest.fixture
def real_data() -> Path:
    """The real data sets folder; the test is skipped when NANONLP_DATA is not set."""
    if not REAL_DATA or not Path(REAL_DATA).is_dir():
        pytest.skip("NANONLP_DATA is not set (real data sets not available)")
    return Path(REAL_DATA)


@pytest.fixture
def no_real_data(monkeypatch):
    """Run as on a fresh machine: no NANONLP_DATA."""
    monkeypatch.delenv("NANONLP_DATA", raising=False)


@pytest.fixture
def torch_one_thread():
    """Run torch on one thread: tiny test matrices gain nothing from a second thread, which
    only adds contention on a shared 2-core machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
