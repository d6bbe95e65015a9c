"""BERT model: bidirectionality, padding invariance, HF parity, checkpoints, bad input."""

from __future__ import annotations

import pytest
import torch

from nanonlp.bert.config import BertConfig, presets
from nanonlp.bert.model import BertClassifier, BertForMaskedLM, load_bert, save_bert
from nanonlp.errors import ConfigError, DataError

PAD = 99


def small_config(**kw) -> BertConfig:
    return BertConfig(**{**dict(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=32,
                                cls_id=96, sep_id=97, mask_id=98, pad_id=PAD), **kw})


@pytest.fixture(params=[False, True], ids=["postnorm", "prenorm"])
def model(request, torch_one_thread):
    m = BertForMaskedLM(small_config(prenorm=request.param),
                        torch.Generator().manual_seed(0)).eval()
    with torch.no_grad():
        m.head_bias.normal_(generator=torch.Generator().manual_seed(1))  # not just zeros
    return m


def test_presets_have_the_turc_shapes():
    for name, (L, H) in {"tiny": (2, 128), "mini": (4, 256), "small": (4, 512)}.items():
        m = presets(name)["model"]
        assert (m["n_layer"], m["n_embd"]) == (L, H)
        assert H // m["n_head"] == 64  # Turc et al.: heads of 64 dimensions


def test_bidirectional_a_later_token_changes_earlier_logits(model):
    x = torch.tensor([[96, 5, 6, 7, 8, 97]])
    y = x.clone()
    y[0, 4] = 9
    with torch.no_grad():
        a, b = model(x)[0], model(y)[0]
    assert not torch.allclose(a[0, :4], b[0, :4], atol=1e-4)  # positions before the change


def test_padding_changes_nothing_for_real_tokens(model):
    x = torch.tensor([[96, 5, 6, 7, 97]])
    padded = torch.tensor([[96, 5, 6, 7, 97, PAD, PAD, PAD], [96, 11, 12, 13, 14, 15, 16, 97]])
    with torch.no_grad():
        a = model(x)[0]
        b = model(padded)[0]
    torch.testing.assert_close(b[0, :5], a[0], atol=1e-5, rtol=1e-5)


def test_encoder_through_onednn_equals_the_blas_path(model, monkeypatch):
    """Fast path == slow path: float32 inference takes oneDNN's products (and its fused erf
    GELU); the hidden states of a padded batch equal F.linear's."""
    from nanonlp import layers

    if not layers.ONEDNN:
        pytest.skip("this torch has no oneDNN linear op")
    x = torch.tensor([[96, 5, 6, 7, 97, PAD, PAD, PAD], [96, 11, 12, 13, 14, 15, 16, 97]])
    monkeypatch.setattr(layers, "ONEDNN_MIN_MACS", 0)  # every product of the small model
    with torch.no_grad():
        fast, fast_logits = model.bert(x), model(x)[0]  # the MLM head's tied product too
        monkeypatch.setattr(layers, "ONEDNN", False)
        slow, slow_logits = model.bert(x), model(x)[0]
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_logits, slow_logits, atol=1e-5, rtol=1e-5)


def test_hf_export_parity(model, tmp_path):
    pytest.importorskip("transformers")
    if model.config.prenorm:
        pytest.skip("pre-norm BERTs do not export (see test_prenorm_adds_a_final_norm_and_export_is_refused)")
    from transformers import BertForMaskedLM as HFBertForMaskedLM

    from nanonlp.bert.export import export_hf

    export_hf(model, tmp_path / "hf")
    hf = HFBertForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.tensor([[96, 5, 6, 7, 8, 9, 10, 97], [96, 11, 12, 97, PAD, PAD, PAD, PAD]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        ours = model(x, types)[0]
        theirs = hf(input_ids=x, token_type_ids=types, attention_mask=(x != PAD).long()).logits
    real = x != PAD
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=1e-4)
    assert hf.config.hidden_act == "gelu" and hf.config.layer_norm_eps == 1e-12
    # the decoder is tied to the word embedding in the loaded model too
    assert hf.cls.predictions.decoder.weight.data_ptr() == \
        hf.bert.embeddings.word_embeddings.weight.data_ptr()


def test_save_load_round_trip(model, tmp_path):
    save_bert(model, tmp_path / "ck")
    again = load_bert(tmp_path / "ck")
    x = torch.tensor([[96, 5, 6, 97]])
    with torch.no_grad():
        torch.testing.assert_close(again(x)[0], model(x)[0])
    clf = BertClassifier(small_config(), ["neg", "pos"], "sequence").eval()
    save_bert(clf, tmp_path / "clf")
    again = load_bert(tmp_path / "clf")
    assert isinstance(again, BertClassifier) and again.labels == ["neg", "pos"]
    with torch.no_grad():
        torch.testing.assert_close(again(x)[0], clf(x)[0])


def test_loss_is_over_masked_positions_only(model):
    x = torch.tensor([[96, 5, 6, 7, 97]])
    y = torch.tensor([[-1, 5, -1, 7, -1]])
    with torch.no_grad():
        full = model(x)[0]
        _, loss = model(x, targets=y)
    want = torch.nn.functional.cross_entropy(full[0, [1, 3]], torch.tensor([5, 7]))
    torch.testing.assert_close(loss, want)


def test_sequence_longer_than_position_table_is_a_clear_error(model):
    with pytest.raises(DataError, match="sequence of 17 tokens is longer than the position "
                                        r"table \(block_size 16\)"):
        model(torch.full((1, 17), 5))


def test_bad_ids_and_configs_are_clear_errors(model, tmp_path):
    with pytest.raises(DataError, match=r"token id 100 is outside the model's vocabulary "
                                        r"\(0\.\.99\)"):
        model(torch.tensor([[96, 100, 97]]))
    with pytest.raises(ConfigError, match="n_embd 30 is not a multiple of n_head 4"):
        small_config(n_embd=30, n_head=4)
    with pytest.raises(ConfigError, match=r"pad_id 100 is outside the vocabulary \(0\.\.99\)"):
        small_config(pad_id=100)
    with pytest.raises(ConfigError, match="unknown task 'span'"):
        BertClassifier(small_config(), ["a", "b"], "span")
    with pytest.raises(DataError, match="no such checkpoint folder"):
        load_bert(tmp_path / "nothing")


def test_prenorm_block_default_is_unchanged(torch_one_thread):
    from nanonlp.layers import Block

    torch.manual_seed(0)
    blk = Block(16, 2, causal=True).eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        a = x + blk.attn(blk.ln_1(x))[0]
        want = a + blk.mlp(blk.ln_2(a))
        torch.testing.assert_close(blk(x)[0], want)


def test_prenorm_adds_a_final_norm_and_export_is_refused(tmp_path, torch_one_thread):
    from nanonlp.bert.export import export_hf

    pre = BertForMaskedLM(small_config(prenorm=True)).eval()
    post = BertForMaskedLM(small_config()).eval()
    assert pre.bert.ln_f is not None and post.bert.ln_f is None
    assert pre.num_params() == post.num_params() + 2 * 32  # the final norm's weight and bias
    with pytest.raises(ConfigError, match=r"pre-norm BERT \(prenorm=true\) has no transformers BERT"):
        export_hf(pre, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_mean_pooling_ignores_padding_and_differs_from_cls(torch_one_thread, tmp_path):
    mean = BertClassifier(small_config(), ["neg", "pos"], "sequence", pooling="mean").eval()
    cls = BertClassifier(small_config(), ["neg", "pos"], "sequence").eval()
    x = torch.tensor([[96, 5, 6, 7, 97]])
    padded = torch.tensor([[96, 5, 6, 7, 97, PAD, PAD]])
    with torch.no_grad():
        torch.testing.assert_close(mean(padded)[0], mean(x)[0], atol=1e-5, rtol=1e-5)
        # by hand: the pooler and classifier on the mean of the real tokens' hidden states
        h = mean.bert(x).mean(1)
        torch.testing.assert_close(mean(x)[0], mean.classifier(torch.tanh(mean.pooler(h))))
        assert not torch.allclose(mean(x)[0], cls(x)[0])
    save_bert(mean, tmp_path / "m")
    again = load_bert(tmp_path / "m")
    assert again.pooling == "mean"
    with torch.no_grad():
        torch.testing.assert_close(again(padded)[0], mean(padded)[0])
    with pytest.raises(ConfigError, match="unknown pooling 'sum'"):
        BertClassifier(small_config(), ["a", "b"], pooling="sum")
