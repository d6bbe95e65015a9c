"""Two processes under DDP (gloo, CPU) compute what one process computes on the same global
batch: each rank takes its half of the same sampled batch, and gradients are averaged."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.data import TokenData
from nanonlp.gpt.model import GPT
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.distributed import DistInfo

MODEL = GPTConfig(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=16)
STEPS = 3


def run(out, dist=None, optimizer="adamw"):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    arrays = {s: rng.integers(0, 13, 400).astype(np.uint16) for s in ("train", "val")}
    cfg = TrainConfig(max_steps=STEPS, batch_size=8, grad_accum=2, lr=1e-2, warmup_steps=1,
                      log_interval=1, optimizer=optimizer,
                      eval_interval=STEPS, eval_steps=2, device="cpu", out=str(out))
    t = Trainer(GPT(MODEL, torch.Generator().manual_seed(0)),
                TokenData(arrays, 8, 13), cfg, kind="gpt", model_config=MODEL.to_dict(),
                dist=dist)
    recs = list(t.run())
    return t, [r.loss for r in recs], recs[-1].eval


WORKER = """
import os, sys
import torch
from safetensors.torch import save_file
sys.path.insert(0, {tests!r})
from test_training_ddp import run
from nanonlp.training.distributed import setup, teardown

out = sys.argv[1]
info = setup("cpu")
try:
    t, losses, ev = run(out, info, sys.argv[2])
    if info.is_main:
        tensors = {{k: v.clone() for k, v in t.model.state_dict().items()
                   if k != "lm_head.weight"}}
        tensors["losses"] = torch.tensor(losses)
        tensors["eval"] = torch.tensor([ev["train"], ev["val"]])
        save_file(tensors, os.path.join(out, "result.safetensors"))
finally:
    teardown()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_two_process_gloo_equals_single_process(tmp_path, optimizer):
    single, losses, ev = run(tmp_path / "single", DistInfo(), optimizer)
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=os.path.dirname(os.path.abspath(__file__))))
    # torchrun in a fresh interpreter, exactly as users launch it. (Forking the test process
    # instead deadlocks at random: libraries loaded by earlier tests hold threads and locks.)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(script), str(out),
         optimizer],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = load_file(out / "result.safetensors")
    assert torch.allclose(got["losses"], torch.tensor(losses), atol=1e-5)
    assert torch.allclose(got["eval"], torch.tensor([ev["train"], ev["val"]]), atol=1e-5)
    for k, v in single.model.state_dict().items():
        if k != "lm_head.weight":
            assert torch.allclose(got[k], v, atol=1e-5), k
    assert (out / "last" / "model.safetensors").exists()  # rank 0 wrote the checkpoint
