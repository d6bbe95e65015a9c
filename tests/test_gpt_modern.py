"""The speedrun's architecture pieces as GPTConfig fields (issue #32): each changes what it
should and nothing else, KV-cache decoding still equals full recompute with each one on, old
configs keep their meaning, and export takes what GPT-2 can hold and refuses the rest."""

import pytest
import torch
import torch.nn.functional as F

from nanonlp.errors import ConfigError
from nanonlp.gpt.config import GPTConfig, presets
from nanonlp.gpt.model import GPT
from nanonlp.gpt.sample import generate
from nanonlp.layers import MLP
from nanonlp.training.schedule import make_optimizer

pytestmark = pytest.mark.usefixtures("torch_one_thread")

BASE = dict(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)
PIECES = {
    "relu2": dict(activation="relu2"),
    "zero-init": dict(zero_init_proj=True),
    "untied": dict(tie_weights=False),
    "softcap": dict(logit_softcap=3.0),
    "all": dict(activation="relu2", zero_init_proj=True, tie_weights=False, logit_softcap=15.0,
                pos="rotary", qk_norm=True),
}


def model_with(seed=0, perturb=False, **kw):
    model = GPT(GPTConfig(**{**BASE, **kw}), torch.Generator().manual_seed(seed)).eval()
    if perturb:  # move off the initialisation, so zero projections compute something
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def test_relu2_equals_relu_squared():
    mlp = MLP(8, hidden=16, gelu="relu2")
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mlp(x), mlp.c_proj(F.relu(mlp.c_fc(x)) ** 2))
    gelu = MLP(8, hidden=16)
    gelu.load_state_dict(mlp.state_dict())  # same weights, no parameter for the activation
    assert not torch.allclose(gelu(x), mlp(x))


def test_zero_init_blocks_are_the_identity():
    model = model_with(zero_init_proj=True)
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(0))
    for block in model.transformer.h:
        assert torch.equal(block(x)[0], x)  # x + 0 + 0
    idx = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(1))
    emb = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(5))
    assert torch.allclose(model(idx)[0], model.lm_head(model.transformer.ln_f(emb)))
    assert model.transformer.h[0].attn.c_attn.weight.abs().sum() > 0  # only projections
    plain = model_with()
    assert plain.transformer.h[0].mlp.c_proj.weight.abs().sum() > 0


def test_untied_head_has_its_own_weight():
    model = model_with(tie_weights=False)
    assert model.lm_head.weight is not model.transformer.wte.weight
    assert model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr()
    assert "lm_head.weight" in dict(model.named_parameters())
    idx = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(0))
    model(idx, idx)[1].backward()
    # the head's gradient is its own; the embedding's only comes through the inputs
    assert not torch.allclose(model.lm_head.weight.grad, model.transformer.wte.weight.grad)


def test_softcap_bounds_logits():
    model = model_with(logit_softcap=3.0)
    raw = model_with()
    with torch.no_grad():  # a large head, so uncapped logits run far past the cap
        model.lm_head.weight.mul_(200)
        raw.lm_head.weight.mul_(200)
    idx = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(0))
    capped, uncapped = model(idx)[0], raw(idx)[0]
    assert uncapped.abs().max() > 10 and capped.abs().max() <= 3.0
    assert torch.allclose(capped, 3.0 * torch.tanh(uncapped / 3.0), atol=1e-5)


@pytest.mark.parametrize("cap", [0, -1.0, "30"])
def test_softcap_must_be_positive(cap):
    with pytest.raises(ConfigError, match="logit_softcap must be > 0"):
        GPTConfig(logit_softcap=cap)


@pytest.mark.parametrize("piece", PIECES)
def test_kv_cache_equals_full_recompute(piece):
    model = model_with(seed=3, perturb=True, **PIECES[piece])
    cached = list(generate(model, [1, 2, 3, 4, 5], 30, temperature=0, use_cache=True))
    full = list(generate(model, [1, 2, 3, 4, 5], 30, temperature=0, use_cache=False))
    assert cached == full and len(cached) == 30


def test_old_configs_keep_their_meaning():
    old = {**BASE, "norm": "layernorm", "activation": "gelu_tanh"}  # saved before the fields
    cfg = GPTConfig.from_dict(old)
    assert (cfg.zero_init_proj, cfg.logit_softcap, cfg.tie_weights) == (False, None, True)
    a, b = GPT(cfg), GPT(GPTConfig(**BASE))
    idx = torch.arange(8)[None]
    assert torch.equal(a(idx)[0], b(idx)[0])


def test_export_takes_relu2_and_untied_and_refuses_softcap(tmp_path):
    transformers = pytest.importorskip("transformers")
    from nanonlp.gpt.export import export_hf

    model = model_with(perturb=True, activation="relu2", tie_weights=False,
                       zero_init_proj=True)
    export_hf(model, tmp_path / "hf")
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    idx = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(hf(idx).logits, model(idx)[0], atol=1e-5)
    capped = model_with(logit_softcap=30.0)
    with pytest.raises(ConfigError, match=r"GPT-2 cannot hold this model \(logit_softcap=30.0\)"):
        export_hf(capped, tmp_path / "hf2")
    assert not (tmp_path / "hf2").exists()


def test_gpu_muon_presets_are_their_base_shapes_with_cpu_muons_pieces():
    pieces = ("norm", "pos", "qk_norm", "qk_norm_kind", "activation")
    shape = ("block_size", "n_layer", "n_head", "n_embd", "dropout")
    cpu = presets("cpu-muon")
    for name, base in (("shakespeare-char-muon", "shakespeare-char"), ("gpt2-muon", "gpt2")):
        p, b = presets(name), presets(base)
        assert [p["model"].get(k) for k in shape] == [b["model"].get(k) for k in shape], name
        assert [p["model"][k] for k in pieces] == [cpu["model"][k] for k in pieces], name
        assert [p["train"].get(k, 1) for k in ("batch_size", "grad_accum")] == \
            [b["train"].get(k, 1) for k in ("batch_size", "grad_accum")], name
        assert (p["train"]["optimizer"], p["train"]["muon_lr"]) == ("muon", 0.02), name
    with torch.device("meta"):  # shapes only
        gpt2 = GPT(GPTConfig(**presets("gpt2-muon")["model"]))
    # GPT-2 small's 123,653,376 less its 102,144 biases, plus 2 x 64 QK-norm gains a block
    assert gpt2.num_params(embeddings=True) == 123_653_376 - 102_144 + 12 * 128
    opt = make_optimizer(gpt2, 6e-4, 0.1, (0.9, 0.95), optimizer="muon")
    sizes = [(g["muon"], len(g["params"]), sum(p.numel() for p in g["params"]))
             for g in opt.param_groups]
    # Muon: the 4 hidden matrices of each of 12 blocks; AdamW: the tied embedding (decayed)
    # and 12 x 4 norms + the final norm (not decayed)
    assert sizes == [(True, 48, 12 * 768 * 768 * 12), (False, 1, 50257 * 768),
                     (False, 49, 12 * (2 * 768 + 2 * 64) + 768)]
