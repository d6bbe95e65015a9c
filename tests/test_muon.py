"""Muon (training/muon.py): the Newton-Schulz band, one step against the paper's pseudo-code,
bfloat16 against float32, exact resume, and the bad inputs (issue #32)."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from nanonlp.errors import ConfigError
from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.data import TokenData
from nanonlp.gpt.model import GPT
from nanonlp.training import TrainConfig, Trainer, muon
from nanonlp.training.muon import Muon, make_muon, muon_params, newton_schulz

pytestmark = pytest.mark.usefixtures("torch_one_thread")

MODEL = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.1)


def svd_of(s_values, m, n, seed=0):
    """A random m x n matrix with the given singular values (descending)."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    k = len(s_values)
    return (U[:, :k] * torch.tensor(s_values, dtype=torch.float64)) @ V[:, :k].T


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(64, 64), (128, 512), (512, 128), (33, 7)])
def test_random_matrices_come_out_in_the_band(shape, dtype):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    s_in = torch.linalg.svdvals(G)
    s = torch.linalg.svdvals(newton_schulz(G, dtype=dtype).float())
    big = s_in >= 0.002 * G.norm()  # the band's promise (a square matrix has tiny ones)
    assert big.sum() >= min(shape) - 2
    assert muon.NS_BAND[0] <= s[big].min() and s[big].max() <= muon.NS_BAND[1]


@pytest.mark.parametrize("cond", [1e2, 1e4])
def test_ill_conditioned_matrices_in_the_band_above_the_floor(cond):
    s_in = torch.logspace(0, -math.log10(cond), 48, dtype=torch.float64)
    G = svd_of(s_in.tolist(), 48, 96).float()
    s = torch.linalg.svdvals(newton_schulz(G, dtype=torch.float32))
    big = s_in >= 0.002 * G.double().norm()
    assert muon.NS_BAND[0] <= s[big].min() and s[big].max() <= muon.NS_BAND[1]
    # below the floor every singular value grows, by at most a^5, and keeps its order
    small_in, small_out = s_in[~big] / G.double().norm(), s[~big].double()
    assert (small_out > small_in).all() and (small_out <= small_in * muon.NS_COEFFS[0] ** 5).all()
    # the singular vectors are G's: U^T Q V is diagonal
    U, _, Vh = torch.linalg.svd(G)
    D = U.T @ newton_schulz(G, dtype=torch.float32) @ Vh[:48].T
    assert torch.allclose(D, torch.diag(torch.diagonal(D)), atol=1e-4)


def test_bfloat16_and_float32_agree():
    """bfloat16 keeps 8 mantissa bits: the update differs by 2-4% of its norm (the documented
    muon.NS_BF16_REL_DIFF is 5%) and points the same way; the band, not the digits, is what
    Muon relies on."""
    for shape in ((64, 256), (384, 128)):
        G = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
        a = newton_schulz(G, dtype=torch.float32)
        b = newton_schulz(G, dtype=torch.bfloat16)
        assert b.dtype == torch.float32
        assert (a - b).norm() / a.norm() < muon.NS_BF16_REL_DIFF
        assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), 0) > 0.999


def paper_ns5(G):
    """The paper's NewtonSchulz5, written from its pseudo-code with the polynomial spelled out:
    X <- a X + b (X X^T) X + c (X X^T)^2 X, on the wide orientation, after X / ||X||_F."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.double()
    if X.shape[0] > X.shape[1]:
        return paper_ns5(G.T).T
    X = X / (X.norm() + 1e-7)
    for _ in range(5):
        XXt = X @ X.T
        X = a * X + b * XXt @ X + c * XXt @ XXt @ X
    return X.float()


def test_two_steps_equal_the_papers_pseudo_code():
    torch.manual_seed(0)
    model = GPT(MODEL, torch.Generator().manual_seed(0))
    ref = GPT(MODEL, torch.Generator().manual_seed(0))
    opt = make_muon(model, lr=1e-2, muon_lr=0.05, weight_decay=0.1, betas=(0.9, 0.95),
                    momentum=0.9)
    opt.param_groups[0]["ns_dtype"] = "float32"
    hidden, rest = muon_params(ref)
    # the AdamW part is torch's own AdamW (decay on matrices only)
    adam = torch.optim.AdamW([{"params": [p for p in rest if p.dim() >= 2]},
                              {"params": [p for p in rest if p.dim() < 2],
                               "weight_decay": 0.0}],
                             lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    bufs = [torch.zeros_like(p) for p in hidden]
    x = torch.randint(0, 11, (4, 8), generator=torch.Generator().manual_seed(3))
    for _ in range(2):
        for m in (model, ref):
            m.zero_grad()
            m.eval()
            m(x[:, :-1], targets=x[:, 1:])[1].backward()
        opt.step()
        adam.step()
        with torch.no_grad():
            for p, B in zip(hidden, bufs):
                B.mul_(0.9).add_(p.grad)  # B_t = mu B_{t-1} + G_t
                O = paper_ns5(p.grad + 0.9 * B)  # Nesterov: orthogonalise G_t + mu B_t
                p.sub_(0.05 * max(1, p.shape[0] / p.shape[1]) ** 0.5 * O)
    for (name, a), b in zip(model.named_parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4), name


def test_muon_takes_hidden_matrices_only():
    untied = GPT(GPTConfig(**{**MODEL.to_dict(), "tie_weights": False, "bias": True}))
    hidden, rest = muon_params(untied)
    names = {id(p): n for n, p in untied.named_parameters()}
    assert sorted(names[id(p)] for p in hidden) == sorted(
        f"transformer.h.{i}.{m}.weight" for i in range(2)
        for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"))
    assert {"lm_head.weight", "transformer.wte.weight", "transformer.wpe.weight",
            "transformer.ln_f.bias"} <= {names[id(p)] for p in rest}
    assert len(hidden) + len(rest) == len(list(untied.parameters()))


def test_a_model_without_hidden_matrices_is_refused():
    with pytest.raises(ConfigError, match=r"optimizer muon needs 2-D hidden weight matrices.*"
                                          r"Embedding has none.*adamw"):
        make_muon(nn.Embedding(10, 4), 1e-3, 0.02, 0.1, (0.9, 0.95))


def test_unknown_optimizer_is_refused():
    with pytest.raises(ConfigError, match="unknown optimizer 'sgd'; choose adamw, muon"):
        TrainConfig(optimizer="sgd")


def data():
    rng = np.random.default_rng(0)
    train = (np.arange(3000) % 11 + (rng.random(3000) < 0.1)).astype(np.uint16) % 11
    val = (np.arange(500) % 11).astype(np.uint16)
    return TokenData({"train": train, "val": val}, block_size=8, vocab_size=11)


def trainer(out, steps, resume=None, optimizer="muon"):
    cfg = TrainConfig(max_steps=steps, batch_size=4, grad_accum=2, lr=1e-2, warmup_steps=2,
                      decay_steps=10, eval_interval=3, eval_steps=2, device="cpu",
                      out=str(out), log_interval=1, optimizer=optimizer, muon_lr=0.05)
    return Trainer(GPT(MODEL, torch.Generator().manual_seed(0)), data(), cfg, kind="gpt",
                   model_config=MODEL.to_dict(), resume_from=resume)


def test_muon_trains_and_resumes_exactly(tmp_path):
    t = trainer(tmp_path / "a", 8)
    assert isinstance(t.optimizer, Muon)
    full = [r.loss for r in t.run()]
    assert full[-1] < full[0] - 0.3
    assert [r.loss for r in trainer(tmp_path / "b", 6).run()] == full[:6]
    resumed = trainer(tmp_path / "c", 8, resume=tmp_path / "b" / "last")
    assert resumed.optimizer.param_groups[0]["muon"] and resumed.step == 6
    assert [r.loss for r in resumed.run()] == full[6:]  # momentum buffers came back exactly


@pytest.mark.parametrize("saved, asked", [("adamw", "muon"), ("muon", "adamw")])
def test_resume_with_the_other_optimizer_is_refused(tmp_path, saved, asked):
    list(trainer(tmp_path / "a", 3, optimizer=saved).run())
    with pytest.raises(ConfigError, match=f"trained with optimizer {saved}, and this run asks "
                                          f"for {asked}.*--train.optimizer {saved}.*--init"):
        trainer(tmp_path / "b", 6, resume=tmp_path / "a" / "last", optimizer=asked)
    assert not (tmp_path / "b").exists()


def test_cli_bad_optimizer_inputs_are_one_line_exit_2(tmp_path, capsys):
    from nanonlp.cli import main

    (tmp_path / "text.txt").write_text("hello world, the cat sat on the mat\n" * 200)
    data_dir, run = tmp_path / "d", tmp_path / "run"
    assert main(["gpt", "prepare", "--source", str(tmp_path / "text.txt"), "--out",
                 str(data_dir)]) == 0
    base = ["gpt", "train", str(data_dir), "--preset", "tiny", "--train.device", "cpu",
            "--train.eval_steps", "1"]
    assert main([*base, "--train.out", str(run), "--train.max_steps", "2"]) == 0
    capsys.readouterr()
    cases = [([*base, "--train.out", str(tmp_path / "x"), "--train.optimizer", "sgd"],
              "unknown optimizer 'sgd'"),
             ([*base, "--train.out", str(tmp_path / "y"), "--resume", str(run / "last"),
               "--train.optimizer", "muon", "--train.max_steps", "4"],
              "trained with optimizer adamw, and this run asks for muon")]
    for argv, message in cases:
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_newton_schulz_runs_in_the_runs_precision(tmp_path):
    assert trainer(tmp_path / "a", 1).optimizer.param_groups[0]["ns_dtype"] == "float32"
    cfg = dict(dtype="bfloat16")
    t = Trainer(GPT(MODEL), data(), TrainConfig(device="cpu", out=str(tmp_path / "b"),
                                                optimizer="muon", **cfg),
                kind="gpt", model_config=MODEL.to_dict())
    assert t.optimizer.param_groups[0]["ns_dtype"] == "bfloat16"
