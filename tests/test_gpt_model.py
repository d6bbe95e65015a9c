"""The GPT model and sampling: initial loss, causality, KV cache == recomputation, errors."""

import math

import numpy as np
import pytest
import torch

from nanonlp import layers
from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.config import PRESETS, GPTConfig, presets
from nanonlp.gpt.data import TokenData
from nanonlp.gpt.model import GPT
from nanonlp.gpt.sample import filter_logits, generate

pytestmark = pytest.mark.usefixtures("torch_one_thread")


VARIANTS = {
    "gpt2": dict(),
    "modern": dict(norm="rmsnorm", pos="rotary", qk_norm=True),
    "modern-layernorm": dict(norm="layernorm", pos="rotary", qk_norm=True,
                             qk_norm_kind="layernorm"),
    "untied-bias": dict(tie_weights=False, bias=True),
}


def tiny(seed=0, **kw):
    cfg = GPTConfig(**{**dict(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32), **kw})
    return GPT(cfg, torch.Generator().manual_seed(seed)).eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_initial_loss_is_uniform(variant):
    model = tiny(**VARIANTS[variant])
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 50, (8, 16), generator=g)
    y = torch.randint(0, 50, (8, 16), generator=g)
    _, loss = model(x, y)
    assert loss.item() == pytest.approx(math.log(50), abs=0.05)  # ln(vocab): no preference yet


@pytest.mark.parametrize("variant", VARIANTS)
def test_causality(variant):
    model = tiny(**VARIANTS[variant])
    x = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(2))
    x2 = x.clone()
    x2[:, 9] = (x2[:, 9] + 1) % 50
    a, b = model(x)[0], model(x2)[0]
    assert torch.equal(a[:, :9], b[:, :9])  # positions before t never see token t
    assert not torch.allclose(a[:, 9:], b[:, 9:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_kv_cache_greedy_equals_full_recompute(variant):
    model = tiny(seed=3, **VARIANTS[variant])
    prompt = [1, 2, 3, 4, 5]
    # 30 new tokens: past block_size 16, so the window slides as well
    cached = list(generate(model, prompt, 30, temperature=0, use_cache=True))
    full = list(generate(model, prompt, 30, temperature=0, use_cache=False))
    assert cached == full and len(cached) == 30


def test_sampling_is_seeded_and_stops():
    model = tiny(seed=4)
    a = list(generate(model, [1], 20, temperature=1.0, top_k=10,
                      generator=torch.Generator().manual_seed(0)))
    b = list(generate(model, [1], 20, temperature=1.0, top_k=10,
                      generator=torch.Generator().manual_seed(0)))
    assert a == b
    stop = a[5]
    c = list(generate(model, [1], 20, temperature=1.0, top_k=10, stop_ids=[stop],
                      generator=torch.Generator().manual_seed(0)))
    assert c == a[:a.index(stop)]


def test_filter_logits():
    x = torch.tensor([1.0, 4.0, 3.0, 2.0])
    assert filter_logits(x, top_k=1).tolist() == [-math.inf, 4.0, -math.inf, -math.inf]
    # softmax of x: 0.032, 0.644, 0.237, 0.087; top_p 0.85 keeps 0.644 + 0.237
    assert filter_logits(x, top_p=0.85).tolist() == [-math.inf, 4.0, 3.0, -math.inf]
    assert filter_logits(x, top_p=1.0).tolist() == x.tolist()


def test_bad_inputs():
    model = tiny()
    with pytest.raises(ConfigError, match=r"sequence of 17 tokens is longer than block_size 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(DataError, match=r"prompt: token id 50 is outside the model's vocabulary "
                                        r"\(0..49\)"):
        list(generate(model, [3, 50], 5))
    with pytest.raises(ConfigError, match=r"unknown preset 'gpt5'; presets: tiny, "):
        presets("gpt5")
    with pytest.raises(ConfigError, match=r"n_embd 30 is not a multiple of n_head 4"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ConfigError, match=r"unknown pos 'alibi'"):
        GPTConfig(pos="alibi")
    arr = np.arange(10, dtype=np.uint16)
    with pytest.raises(DataError, match=r"val: 10 tokens, fewer than block_size \+ 1 = 17"):
        TokenData({"train": np.arange(100, dtype=np.uint16) % 5, "val": arr}, 16, 50)
    with pytest.raises(DataError, match=r"train: token id 99 is outside the vocabulary"):
        TokenData({"train": np.arange(100, dtype=np.uint16)}, 16, 50)


def test_presets_build():
    for name, p in PRESETS.items():
        cfg = GPTConfig(**{**p["model"], "vocab_size": p["model"].get("vocab_size", 65)})
        assert cfg.block_size >= 32, name
    cpu = presets("nanogpt-cpu")
    assert (cpu["model"]["n_layer"], cpu["model"]["n_embd"], cpu["model"]["block_size"],
            cpu["train"]["batch_size"], cpu["train"]["max_steps"]) == (4, 128, 64, 12, 2000)
    with torch.device("meta"):  # shapes only: no memory, no time
        gpt2 = GPT(GPTConfig(**presets("gpt2")["model"]))
    assert gpt2.num_params(embeddings=True) == 124_439_808  # GPT-2 small, "124M"
    assert gpt2.num_params() == 123_653_376  # what nanoGPT prints (no position table)


def test_bidirectional_attention_with_padding_ignores_pads():
    # the BERT use of nanonlp.layers: no causal mask, padded keys hidden
    from nanonlp.layers import Block

    torch.manual_seed(0)
    block = Block(16, 2, causal=False).eval()
    x = torch.randn(2, 6, 16)
    pad = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    y, _ = block(x, pad_mask=pad)
    x2 = x.clone()
    x2[1, 4:] = torch.randn(2, 16)  # change the padding: real positions must not notice
    y2, _ = block(x2, pad_mask=pad)
    assert torch.allclose(y[1, :4], y2[1, :4], atol=1e-6)
    alone, _ = block(x[1:, :4])  # the same sequence without padding
    assert torch.allclose(y[1, :4], alone[0], atol=1e-5)
    # bidirectional: position 0 sees position 3
    x3 = x.clone()
    x3[0, 3] = torch.randn(16)
    assert not torch.allclose(block(x3, pad_mask=pad)[0][0, 0], y[0, 0])


def test_decoding_layout_changes_strides_only(tmp_path):
    """generate() re-lays the Linear weights out for one-row products (see decoding_layout_):
    logits, saved checkpoints and the HF export must be the same as before it ran."""
    from nanonlp.gpt.export import export_hf
    from nanonlp.gpt.model import load_gpt, save_gpt

    model = tiny(seed=4)
    x = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        before = model(x)[0]
    before_state = {k: v.clone() for k, v in model.state_dict().items()}
    list(generate(model, [1, 2, 3], 5, temperature=0))
    assert model.lm_head.weight.stride() == (1, 50)  # (in, out) in memory, shape (50, 32)
    assert model.lm_head.weight is model.transformer.wte.weight  # still tied
    with torch.no_grad():
        assert torch.allclose(model(x)[0], before, atol=1e-6, rtol=0)
    save_gpt(model, tmp_path / "ckpt")
    reloaded = load_gpt(tmp_path / "ckpt")
    assert all(torch.equal(v, before_state[k]) for k, v in reloaded.state_dict().items())
    pytest.importorskip("transformers")
    from nanonlp.bpe import CharTokenizer
    export_hf(model, tmp_path / "hf", CharTokenizer.train("abc"))
    assert (tmp_path / "hf" / "model.safetensors").exists()


def test_rotary_equals_the_rotation_written_out():
    from nanonlp.layers import apply_rotary, rotary_tables

    hs, T = 8, 5
    x = torch.randn(2, 3, T, hs, generator=torch.Generator().manual_seed(0))
    cos, sin = rotary_tables(hs, T)
    h = hs // 2
    c, s = cos[:, :h], sin[:, h:]  # the angles once each
    x1, x2 = x[..., :h], x[..., h:]
    written_out = torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)
    assert torch.equal(apply_rotary(x, cos, sin), written_out)  # bit for bit
    # a rotation: lengths of each pair kept, and q.k depends on the distance only
    y = apply_rotary(x, cos, sin)
    assert torch.allclose(y[..., :h] ** 2 + y[..., h:] ** 2, x1 ** 2 + x2 ** 2, atol=1e-5)
    q = k = torch.randn(hs, generator=torch.Generator().manual_seed(1)).expand(1, 1, T, hs)
    rq, rk = apply_rotary(q, cos, sin)[0, 0], apply_rotary(k, cos, sin)[0, 0]
    assert torch.allclose(rq[3] @ rk[1], rq[4] @ rk[2], atol=1e-5)


def test_qk_norm_kind():
    model = tiny(pos="rotary", qk_norm=True, qk_norm_kind="layernorm")
    assert isinstance(model.transformer.h[0].attn.q_norm, torch.nn.LayerNorm)
    assert model.transformer.h[0].attn.q_norm.bias is None
    assert not isinstance(tiny(qk_norm=True).transformer.h[0].attn.k_norm, torch.nn.LayerNorm)
    with pytest.raises(ConfigError, match="qk_norm_kind"):
        GPTConfig(qk_norm_kind="batchnorm")


def test_label_smoothing_is_in_the_training_loss_only():
    import torch.nn.functional as F

    cfg = GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16,
                    label_smoothing=0.1)
    model = GPT(cfg, torch.Generator().manual_seed(0))
    x = torch.randint(0, 20, (3, 8), generator=torch.Generator().manual_seed(1))
    y = x.roll(-1, 1)
    y[0, :4] = -1  # positions the loss skips
    logits, loss = model(x, targets=y)
    flat = logits.view(-1, 20), y.view(-1)
    assert torch.allclose(loss, F.cross_entropy(*flat, ignore_index=-1, label_smoothing=0.1))
    model.eval()
    _, plain = model(x, targets=y)
    assert torch.allclose(plain, F.cross_entropy(*flat, ignore_index=-1)) and plain < loss
    with pytest.raises(ConfigError, match="label_smoothing must be in"):
        GPTConfig(label_smoothing=1.0)


@pytest.mark.parametrize("T", [24, 200])
def test_bfloat16_cpu_training_attention_agrees_with_float32_math(T):
    """layers.attention takes the math kernel for short bfloat16 training rows on a CPU (the
    fused kernel's backward is slow there) and the fused one for long rows: both give the
    float32 softmax(q k^T / sqrt(hs)) v, and its gradients, to bfloat16's precision."""
    from nanonlp.layers import attention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, T, 16, generator=g) for _ in range(3))
    leaves = [t.to(torch.bfloat16).requires_grad_() for t in (q, k, v)]
    y = attention(*leaves, None, True, 0.0)
    y.float().pow(2).sum().backward()
    ref = [t.clone().requires_grad_() for t in (q, k, v)]
    att = (ref[0] @ ref[1].mT) / 4.0
    att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    want = att.softmax(-1) @ ref[2]
    want.pow(2).sum().backward()
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), want, atol=3e-2, rtol=3e-2)
    for got, exp in zip(leaves, ref):
        torch.testing.assert_close(got.grad.float(), exp.grad, atol=0.1, rtol=5e-2)


@pytest.mark.skipif(not layers.ONEDNN, reason="this torch has no oneDNN linear op")
@pytest.mark.parametrize("gelu", [None, "none", "tanh"])
def test_onednn_linear_equals_f_linear(monkeypatch, gelu):
    """layers.Linear's oneDNN path (float32 CPU inference) gives F.linear's products (and the
    fused GELU F.gelu's), and the other cases take F.linear itself."""
    lin = layers.Linear(24, 40)
    x = torch.randn(3, 5, 24)
    with torch.no_grad():
        assert not layers.onednn_ok(x, lin.weight)  # 14,400 multiply-adds: F.linear's
        monkeypatch.setattr(layers, "ONEDNN_MIN_MACS", 0)
        assert layers.onednn_ok(x, lin.weight)
        fast = lin(x, gelu=gelu)
        monkeypatch.setattr(layers, "ONEDNN", False)
        assert not layers.onednn_ok(x, lin.weight)
        slow = lin(x, gelu=gelu)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    monkeypatch.setattr(layers, "ONEDNN", True)
    assert not layers.onednn_ok(x, lin.weight)  # gradients on: the op has no backward
    lin.weight.requires_grad_(False)  # a frozen weight, a trainable bias: F.linear's gradient
    lin(x, gelu=gelu).sum().backward()
    assert lin.bias.grad is not None and lin.bias.grad.abs().sum() > 0
    with torch.no_grad():
        assert not layers.onednn_ok(x.double(), lin.weight.double())
        assert not layers.onednn_ok(x, lin.weight.t().contiguous().t())  # decoding layout
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not layers.onednn_ok(x, lin.weight)


@pytest.mark.skipif(not layers.ONEDNN, reason="this torch has no oneDNN linear op")
@pytest.mark.parametrize("variant", ["gpt2", "modern"])
def test_gpt_logits_through_onednn_equal_the_blas_ones(monkeypatch, variant):
    """Fast path == slow path for a whole model: logits and cached decoding agree."""
    model = tiny(**VARIANTS[variant])
    idx = torch.randint(0, 50, (2, 12), generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(layers, "ONEDNN_MIN_MACS", 0)  # every product of the tiny model
    with torch.no_grad():
        fast, _ = model(idx)
        monkeypatch.setattr(layers, "ONEDNN", False)
        slow, _ = model(idx)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_mlp_hooks_see_the_product_before_the_gelu(monkeypatch):
    """The fused GELU is skipped when a hook watches c_fc or the GELU: they see what they see
    with gradients on, and a wrong width gets F.linear's own error."""
    monkeypatch.setattr(layers, "ONEDNN_MIN_MACS", 0)
    mlp = layers.MLP(8, hidden=16, gelu="none")
    x = torch.randn(2, 3, 8)
    seen = []
    mlp.c_fc.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    with torch.no_grad():
        y = mlp(x)
    torch.testing.assert_close(seen[0], torch.nn.functional.linear(x, mlp.c_fc.weight,
                                                                   mlp.c_fc.bias))
    torch.testing.assert_close(y, mlp.dropout(mlp.c_proj(torch.nn.functional.gelu(seen[0]))))
    with torch.no_grad(), pytest.raises(RuntimeError, match="cannot be multiplied"):
        layers.Linear(8, 4)(torch.randn(2, 7))


@pytest.mark.skipif(not layers.ONEDNN, reason="this torch has no oneDNN linear op")
def test_decoding_layout_keeps_the_rows_of_weights_onednn_multiplies(monkeypatch):
    """One-row products of large weights go through oneDNN on their (out, in) rows, so the
    decoding layout leaves those alone and transposes the small ones, and greedy decoding
    gives the same ids either way."""
    from nanonlp.gpt.sample import decoding_layout_

    monkeypatch.setattr(layers, "ONEDNN_MIN_MACS", 32 * 96)  # c_attn and c_fc, not c_proj
    model = tiny()
    decoding_layout_(model)
    block = model.transformer.h[0]
    assert block.attn.c_attn.weight.is_contiguous() and block.mlp.c_fc.weight.is_contiguous()
    assert not block.attn.c_proj.weight.is_contiguous()
    fast = list(generate(model, [1, 2, 3], 8, temperature=0))
    monkeypatch.setattr(layers, "ONEDNN", False)
    slow = list(generate(tiny(), [1, 2, 3], 8, temperature=0))
    assert fast == slow
