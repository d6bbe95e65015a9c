"""bert import: a transformers BERT folder with a WordPiece vocabulary becomes a BERT checkpoint
with HF's logits; BertModel (no head), Google's TF names, round trips; fill-mask and
fine-tuning run on it; bad folders are one-line errors that leave nothing behind."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from nanonlp import datasets
from nanonlp.bert.from_hf import import_hf
from nanonlp.bert.model import load_bert
from nanonlp.bpe.wordpiece import WordPiece
from nanonlp.cli import main
from nanonlp.errors import DataError

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
#: 2 layers x 64 wide, an MLP that is not 4x, 40 positions, 3 token types
SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=100,
             max_position_embeddings=40, type_vocab_size=3)


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory):
    """An uncased WordPiece vocabulary trained by HF tokenizers (vocab.txt + its config)."""
    d = tmp_path_factory.mktemp("wordpiece")
    t = tokenizers.BertWordPieceTokenizer(lowercase=True)
    t.train_from_iterator(datasets.text("lee_corpus"), vocab_size=900, special_tokens=SPECIALS,
                          show_progress=False)
    t.save_model(str(d))
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return d


def hf_folder(path, vocab_dir, model_cls=None, seed=0, **options):
    """A random-init HF BERT with the vocabulary beside it; every parameter perturbed."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer_config.json"):
        (path / name).write_bytes((vocab_dir / name).read_bytes())
    n = len((vocab_dir / "vocab.txt").read_text(encoding="utf-8").splitlines())
    cfg = transformers.BertConfig(vocab_size=n, **{**SHAPE, **options})
    torch.manual_seed(seed)
    hf = (model_cls or transformers.BertForMaskedLM)(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    hf.save_pretrained(path)
    return hf


def batch(vocab_size, seed=2):
    """Ids without [PAD] (0) and one padded row, with token types; HF's attention mask."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, vocab_size, (3, 40), generator=g)
    x[2, 25:] = 0  # a padded row: our model masks [PAD] keys itself
    types = torch.randint(0, 3, (3, 40), generator=g)
    return x, types, (x != 0).long()


def test_logits_equal_hf(tmp_path, vocab_dir):
    hf = hf_folder(tmp_path / "hf", vocab_dir)
    r = import_hf(tmp_path / "hf", tmp_path / "ckpt")
    assert not r.fresh_head and r.dropped == []
    ours = load_bert(tmp_path / "ckpt")
    c = ours.config
    assert (c.n_layer, c.n_embd, c.n_head, c.n_inner, c.block_size) == (2, 64, 4, 100, 40)
    assert (c.type_vocab_size, c.norm_eps, c.lowercase) == (3, 1e-12, False)
    tok = WordPiece.from_hf(vocab_dir)
    assert (c.pad_id, c.cls_id, c.sep_id, c.mask_id) == tuple(
        tok.special_tokens[s] for s in ("[PAD]", "[CLS]", "[SEP]", "[MASK]"))
    x, types, mask = batch(c.vocab_size)
    with torch.no_grad():
        want = hf(x, attention_mask=mask, token_type_ids=types).logits
        got, _ = ours(x, types)
        real = mask.bool()  # HF's outputs at padded positions are not comparable
        assert (got[real] - want[real]).abs().max() < 1e-5
        assert (ours(x[:2])[0] - hf(x[:2]).logits).abs().max() < 1e-5  # types default to 0
    assert r.params == sum(p.numel() for p in hf.parameters())


def test_bertmodel_folder_head_starts_fresh(tmp_path, vocab_dir, capsys):
    hf = hf_folder(tmp_path / "full", vocab_dir)
    hf.bert.save_pretrained(tmp_path / "base")  # BertModel, no pooler (BertForMaskedLM's)
    base = transformers.BertModel(hf.config)  # with a pooler this time
    base.load_state_dict(hf.bert.state_dict(), strict=False)
    base.save_pretrained(tmp_path / "base2")
    for name in ("vocab.txt", "tokenizer_config.json"):
        for d in ("base", "base2"):
            (tmp_path / d / name).write_bytes((vocab_dir / name).read_bytes())
    x, types, mask = batch(hf.config.vocab_size)
    for d, dropped in (("base", []), ("base2", ["pooler"])):
        capsys.readouterr()
        assert main(["bert", "import", str(tmp_path / d), str(tmp_path / f"ckpt-{d}")]) == 0
        out = capsys.readouterr().out
        assert "no MLM head (a BertModel)" in out and ("left out: pooler" in out) == bool(dropped)
        ours = load_bert(tmp_path / f"ckpt-{d}")
        with torch.no_grad():
            want = hf.bert(x, attention_mask=mask, token_type_ids=types).last_hidden_state
            got = ours.bert(x, types)
        assert (got[mask.bool()] - want[mask.bool()]).abs().max() < 1e-5
        assert torch.equal(ours.head_bias, torch.zeros_like(ours.head_bias))  # BERT's init


def test_google_checkpoint_names(tmp_path, vocab_dir):
    """TF's LayerNorm gamma/beta, a position_ids buffer, the pooler and NSP head, as HF's
    conversions of Google's checkpoints store them: the same model, pooler and NSP left out."""
    hf = hf_folder(tmp_path / "hf", vocab_dir)
    sd = load_file(tmp_path / "hf" / "model.safetensors")
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                    "LayerNorm.beta"): v
           for k, v in sd.items()}
    old["bert.embeddings.position_ids"] = torch.arange(40)[None]
    old["bert.pooler.dense.weight"] = torch.zeros(64, 64)
    old["bert.pooler.dense.bias"] = torch.zeros(64)
    old["cls.seq_relationship.weight"] = torch.zeros(2, 64)
    old["cls.seq_relationship.bias"] = torch.zeros(2)
    old["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"].clone()
    save_file(old, tmp_path / "hf" / "model.safetensors")
    r = import_hf(tmp_path / "hf", tmp_path / "ckpt")
    assert r.dropped == ["pooler", "next-sentence head"] and not r.fresh_head
    x, _, _ = batch(hf.config.vocab_size)
    with torch.no_grad():
        got = load_bert(tmp_path / "ckpt")(x[:2])[0]
        assert (got - hf(x[:2]).logits).abs().max() < 1e-5


def test_round_trips(tmp_path, vocab_dir):
    hf_folder(tmp_path / "hf", vocab_dir)
    import_hf(tmp_path / "hf", tmp_path / "ckpt")
    assert main(["bert", "export", str(tmp_path / "ckpt"), str(tmp_path / "hf2")]) == 0
    a = load_file(tmp_path / "hf" / "model.safetensors")
    b = load_file(tmp_path / "hf2" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "hf2" / "vocab.txt").read_bytes() == (vocab_dir / "vocab.txt").read_bytes()
    ref = transformers.BertTokenizerFast.from_pretrained(tmp_path / "hf2")
    tok = WordPiece.from_hf(tmp_path / "hf2")
    text = "The Prime Minister said on Tuesday that Ärger [MASK] naïve."
    assert tok.encode(text, allowed_special="all") == \
        ref(text, add_special_tokens=False)["input_ids"]
    import_hf(tmp_path / "hf2", tmp_path / "ckpt2")  # export then import: the checkpoint
    s1 = load_file(tmp_path / "ckpt" / "model.safetensors")
    s2 = load_file(tmp_path / "ckpt2" / "model.safetensors")
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    c1 = json.loads((tmp_path / "ckpt" / "config.json").read_text())["model_config"]
    c2 = json.loads((tmp_path / "ckpt2" / "config.json").read_text())["model_config"]
    assert c1 == c2


def test_fill_mask_and_finetune_on_an_import(tmp_path, vocab_dir, capsys):
    from nanonlp.bert.finetune import FinetuneConfig, make_trainer
    from nanonlp.bert.predict import fill_mask
    from nanonlp.datasets import Example

    hf = hf_folder(tmp_path / "hf", vocab_dir)
    import_hf(tmp_path / "hf", tmp_path / "ckpt")
    tok = WordPiece.from_hf(vocab_dir)
    text = "The government said the [MASK] would fall."
    fills = fill_mask(load_bert(tmp_path / "ckpt"), tok, text, top_k=3)
    ids = [tok.special_tokens["[CLS]"], *tok.encode(text, allowed_special={"[MASK]"}),
           tok.special_tokens["[SEP]"]]
    with torch.no_grad():
        logits = hf(torch.tensor([ids])).logits[0, ids.index(tok.special_tokens["[MASK]"])]
    assert [t for t, _ in fills[0]] == [tok.decode([int(i)]) for i in logits.topk(3).indices]
    capsys.readouterr()
    (tmp_path / "in.txt").write_text(text + "\n")
    assert main(["bert", "predict", str(tmp_path / "ckpt"), "--input",
                 str(tmp_path / "in.txt")]) == 0
    assert repr(fills[0][0][0]) in capsys.readouterr().out
    records = {s: [Example("a good film", "pos"), Example("a bad film", "neg")] * 4
               for s in ("train", "val")}
    trainer = make_trainer(FinetuneConfig(task="sst2"), tmp_path / "ckpt",
                           train=dict(max_steps=2, batch_size=4, eval_interval=2, eval_steps=1,
                                      warmup_steps=0, out=str(tmp_path / "ft")),
                           records=records)
    assert len(list(trainer.run())) == 2


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(model_type="gpt2"), "model_type 'gpt2' is not BERT"),
    (lambda d: d.update(hidden_act="gelu_new"), "hidden_act is 'gelu_new'"),
    (lambda d: d.update(position_embedding_type="relative_key"),
     "position_embedding_type is 'relative_key'"),
    (lambda d: d.update(num_hidden_layers=3), r"missing weight\(s\) bert.h.2.attn.c_attn.bias"),
    (lambda d: d.update(hidden_size=32),
     r"LayerNorm.bias has shape \(64,\), the config wants \(32,\)"),
])
def test_bad_folders_refused_nothing_written(tmp_path, vocab_dir, capsys, edit, message):
    hf_folder(tmp_path / "hf", vocab_dir)
    cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    edit(cfg)
    (tmp_path / "hf" / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["bert", "import", str(tmp_path / "hf"), str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(DataError, match=message):
        import_hf(tmp_path / "hf", tmp_path / "ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]


def test_missing_or_mismatched_vocabulary(tmp_path, vocab_dir):
    hf_folder(tmp_path / "hf", vocab_dir)
    (tmp_path / "hf" / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
    with pytest.raises(DataError, match=r"lacks the special token\(s\) \[MASK\]"):
        import_hf(tmp_path / "hf", tmp_path / "ckpt")
    (tmp_path / "hf" / "vocab.txt").unlink()
    with pytest.raises(DataError, match=r"no vocab\.txt"):
        import_hf(tmp_path / "hf", tmp_path / "ckpt")
    big = (vocab_dir / "vocab.txt").read_text() + "".join(f"extra{i}\n" for i in range(5))
    (tmp_path / "hf" / "vocab.txt").write_text(big)
    with pytest.raises(DataError, match="more than the model's vocab_size"):
        import_hf(tmp_path / "hf", tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()
