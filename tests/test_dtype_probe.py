"""dtype auto on a CPU (issue #32): bfloat16 only where a start-up probe measured it faster,
the choice said in the run's first line, kept on resume, fixed by NANONLP_CPU_BF16."""

import pytest
import torch
from test_muon import trainer  # a small GPT Trainer on CPU

from nanonlp.training import device
from nanonlp.training.device import Probe, cpu_auto_dtype, cpu_bf16_probe, pick_dtype
from nanonlp.training.driver import describe

pytestmark = pytest.mark.usefixtures("torch_one_thread")
CPU = torch.device("cpu")


def test_probe_decides_by_measured_time():
    assert Probe(1.0, 0.5).faster and not Probe(1.0, 0.95).faster
    assert str(Probe(2.0, 1.0)) == "dtype auto: bfloat16 (bfloat16 measured 0.50x float32's time)"
    assert str(Probe(1.0, 1.6)) == "dtype auto: float32 (bfloat16 measured 1.60x float32's time)"


def test_probe_is_cached_and_leaves_the_threads_alone(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    torch.set_num_threads(1)
    first = cpu_bf16_probe()
    assert cpu_bf16_probe() is first  # once per process
    assert first[0] > 0 and first[1] > 0 and torch.get_num_threads() == 1


def test_no_native_bfloat16_means_float32_untimed(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(device, "_probe", lambda *a: pytest.fail("timed without bf16"))
    monkeypatch.delenv("NANONLP_CPU_BF16")
    assert not cpu_bf16_probe().faster
    assert pick_dtype("auto", CPU) == torch.float32


@pytest.mark.parametrize("measured, want", [(Probe(1.0, 0.4), torch.bfloat16),
                                             (Probe(1.0, 1.6), torch.float32)])
def test_auto_follows_the_probe_and_says_so(monkeypatch, tmp_path, measured, want):
    monkeypatch.delenv("NANONLP_CPU_BF16")
    monkeypatch.setattr(device, "cpu_bf16_probe", lambda: measured)
    assert pick_dtype("auto", CPU) == want
    t = trainer(tmp_path / "a", 3, optimizer="adamw")
    assert t.dtype == want and t.dtype_note == str(measured)
    assert f"({measured})" in describe(t, "GPT")
    list(t.run())
    # a resumed run keeps the run's choice, whatever a new probe says
    other = Probe(1.0, 1.6) if want == torch.bfloat16 else Probe(1.0, 0.4)
    monkeypatch.setattr(device, "cpu_bf16_probe", lambda: other)
    again = trainer(tmp_path / "b", 5, resume=tmp_path / "a" / "last", optimizer="adamw")
    assert again.dtype == want and "as chosen when the run began" in again.dtype_note


@pytest.mark.parametrize("fixed, want", [("0", torch.float32), ("1", torch.bfloat16)])
def test_environment_fixes_the_choice(monkeypatch, fixed, want):
    monkeypatch.setenv("NANONLP_CPU_BF16", fixed)
    monkeypatch.setattr(device, "cpu_bf16_probe", lambda: pytest.fail("probed"))
    assert cpu_auto_dtype() == (want, f"dtype auto: {str(want)[6:]} (NANONLP_CPU_BF16={fixed})")
    assert pick_dtype("auto", CPU) == want
    assert pick_dtype("float32", CPU) == torch.float32  # an explicit dtype is never probed
