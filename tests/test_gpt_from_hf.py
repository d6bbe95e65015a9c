"""gpt import: a transformers GPT-2 folder becomes a GPT checkpoint with HF's logits, exactly;
round trips through export; the GPT-2 family's configs; the tokenizer comes along; bad input
is a one-line error and leaves nothing behind."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch
from safetensors.torch import load_file, save_file

from nanonlp import datasets
from nanonlp.bpe.formats import load_tokenizer
from nanonlp.cli import main
from nanonlp.errors import DataError
from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.export import export_hf
from nanonlp.gpt.from_hf import config_from_hf, import_hf, load_hf
from nanonlp.gpt.model import GPT, load_gpt
from nanonlp.gpt.sample import generate

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

pytestmark = pytest.mark.usefixtures("torch_one_thread")

#: odd shapes, so a transposed or misplaced matrix cannot pass by symmetry
SHAPE = dict(vocab_size=1200, n_positions=96, n_embd=48, n_layer=3, n_head=4)


def hf_folder(path, seed=0, model_cls=None, **options):
    """A random-init HF GPT-2 saved with save_pretrained; every parameter perturbed (HF starts
    biases at 0 and norms at 1, which would hide a missed copy)."""
    cfg = transformers.GPT2Config(**{**SHAPE, **options})
    torch.manual_seed(seed)
    hf = (model_cls or transformers.GPT2LMHeadModel)(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    hf.save_pretrained(path)
    return hf


def ids(n=2, T=96, seed=3):
    return torch.randint(0, SHAPE["vocab_size"], (n, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("options", [
    dict(),
    dict(tie_word_embeddings=False),
    dict(activation_function="gelu", layer_norm_epsilon=1e-3, n_inner=100),
    dict(activation_function="gelu_pytorch_tanh", resid_pdrop=0.0, embd_pdrop=0.2),
], ids=["gpt2", "untied", "gelu-eps-inner", "pytorch-tanh"])
def test_logits_equal_hf(tmp_path, options):
    hf = hf_folder(tmp_path / "hf", **options)
    r = import_hf(tmp_path / "hf", tmp_path / "ckpt")
    ours = load_gpt(tmp_path / "ckpt")
    x = ids()
    with torch.no_grad():
        want, got = hf(x).logits, ours(x)[0]
    assert (got - want).abs().max() < 1e-5
    assert r.params == sum(p.numel() for p in hf.parameters())
    c = ours.config
    assert (c.block_size, c.n_embd, c.n_layer, c.n_head, c.bias) == (96, 48, 3, 4, True)
    assert c.tie_weights == options.get("tie_word_embeddings", True)
    assert c.norm_eps == options.get("layer_norm_epsilon", 1e-5)
    assert c.n_inner == options.get("n_inner")
    assert c.activation == ("gelu" if options.get("activation_function") == "gelu"
                            else "gelu_tanh")
    assert c.dropout == max(options.get(k, 0.1) for k in ("resid_pdrop", "embd_pdrop",
                                                          "attn_pdrop"))
    assert not r.tokenizer


def test_gpt2model_folder_and_openai_names(tmp_path):
    """A GPT2Model folder (no ``transformer.`` prefix, no head: tied) and an old upload that
    also carries the mask buffers and a tied lm_head.weight give the same model."""
    hf = hf_folder(tmp_path / "hf")
    base = tmp_path / "base"
    hf.transformer.save_pretrained(base)
    assert json.loads((base / "config.json").read_text())["architectures"] == ["GPT2Model"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text((tmp_path / "hf" / "config.json").read_text())
    sd = {k.removeprefix("transformer."): v.contiguous() for k, v in hf.state_dict().items()
          if k != "lm_head.weight"}
    for i in range(SHAPE["n_layer"]):
        sd[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 96, 96))
        sd[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    sd["lm_head.weight"] = sd["wte.weight"].clone()
    save_file(sd, old / "model.safetensors")
    x = ids()
    with torch.no_grad():
        want = hf(x).logits
        for folder in (base, old):
            assert (load_hf(folder)(x)[0] - want).abs().max() < 1e-5


def test_pytorch_model_bin_with_weights_only(tmp_path):
    hf = hf_folder(tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(hf.state_dict(), tmp_path / "hf" / "pytorch_model.bin")
    x = ids()
    with torch.no_grad():
        assert (load_hf(tmp_path / "hf")(x)[0] - hf(x).logits).abs().max() < 1e-5


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):  # what a malicious pickle does: call something on load
        return (pathlib.Path.touch, (self.path,))


def test_pickle_that_runs_code_is_refused(tmp_path, capsys):
    hf_folder(tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save({"transformer.wte.weight": _Payload(tmp_path / "pwned")},
               tmp_path / "hf" / "pytorch_model.bin")
    capsys.readouterr()
    assert main(["gpt", "import", str(tmp_path / "hf"), str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert "refused: not a plain file of tensors (Unsupported global" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "ckpt").exists()


def test_import_export_round_trip(tmp_path):
    """import then export: every tensor of the original folder comes back equal (HF then
    loads the export with the original's logits); export then import: our checkpoint."""
    hf = hf_folder(tmp_path / "hf", tie_word_embeddings=False, layer_norm_epsilon=1e-4)
    import_hf(tmp_path / "hf", tmp_path / "ckpt")
    export_hf(load_gpt(tmp_path / "ckpt"), tmp_path / "hf2")
    a = load_file(tmp_path / "hf" / "model.safetensors")
    b = load_file(tmp_path / "hf2" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf2").eval()
    x = ids()
    with torch.no_grad():
        assert torch.equal(back(x).logits, hf(x).logits)
    cfg = GPTConfig(vocab_size=77, block_size=40, n_layer=2, n_head=3, n_embd=24, bias=True,
                    dropout=0.1, activation="gelu", norm_eps=1e-6, n_inner=50)
    ours = GPT(cfg, torch.Generator().manual_seed(5))
    export_hf(ours, tmp_path / "ours-hf")
    again = load_hf(tmp_path / "ours-hf")
    assert again.config == cfg
    sa, sb = ours.state_dict(), again.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


#: the config.json of each GPT-2 family member, as published, and its parameter count
FAMILY = {
    "gpt2": (dict(n_embd=768, n_head=12, n_layer=12), 124_439_808),
    "gpt2-medium": (dict(n_embd=1024, n_head=16, n_layer=24, n_special=0,
                         predict_special_tokens=True), 354_823_168),
    "gpt2-large": (dict(n_embd=1280, n_head=20, n_layer=36), 774_030_080),
    "gpt2-xl": (dict(n_embd=1600, n_head=25, n_layer=48, output_past=True), 1_557_611_200),
    "distilgpt2": (dict(n_embd=768, n_head=12, n_layer=6, _num_labels=1, is_decoder=False,
                        id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0}), 81_912_576),
}
GPT2_COMMON = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
               "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1,
               "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
               "model_type": "gpt2", "n_ctx": 1024, "n_positions": 1024, "resid_pdrop": 0.1,
               "summary_activation": None, "summary_first_dropout": 0.1,
               "summary_proj_to_labels": True, "summary_type": "cls_index",
               "summary_use_proj": True, "vocab_size": 50257,
               "task_specific_params": {"text-generation": {"do_sample": True,
                                                            "max_length": 50}}}


@pytest.mark.parametrize("name", list(FAMILY))
def test_gpt2_family_configs(name):
    fields, n_params = FAMILY[name]
    cfg = config_from_hf({**GPT2_COMMON, **fields}, f"{name}/config.json")
    assert (cfg.vocab_size, cfg.block_size, cfg.bias, cfg.tie_weights) == (50257, 1024, True, True)
    assert (cfg.activation, cfg.norm_eps, cfg.dropout) == ("gelu_tanh", 1e-5, 0.1)
    assert cfg.gpt2_compatible
    with torch.device("meta"):  # shapes only: no memory for 1.5B parameters
        model = GPT(cfg)
    assert model.num_params(embeddings=True) == n_params


@pytest.fixture(scope="module")
def hf_with_tokenizer(tmp_path_factory):
    """A tiny GPT-2 folder with a byte-level BPE trained by HF tokenizers beside it."""
    folder = tmp_path_factory.mktemp("hf-tok")
    t = tokenizers.ByteLevelBPETokenizer()
    t.train_from_iterator(datasets.text("lee_corpus"), vocab_size=SHAPE["vocab_size"],
                          special_tokens=["<|endoftext|>"], show_progress=False)
    t.save_model(str(folder))
    hf = hf_folder(folder, seed=4)
    return folder, hf


def test_tokenizer_comes_along_and_sample_matches_hf_generate(tmp_path, hf_with_tokenizer,
                                                               capsys):
    folder, hf = hf_with_tokenizer
    assert main(["gpt", "import", str(folder), str(tmp_path / "ckpt")]) == 0
    out = capsys.readouterr().out
    assert "tokenizer.model from the folder's tokenizer" in out and "3 layers x 48" in out
    tok = load_tokenizer(tmp_path / "ckpt")  # a checkpoint folder: its tokenizer.model
    ref = transformers.GPT2TokenizerFast.from_pretrained(folder)
    text = "The government said on Monday that 42 people, including café owners, left."
    prompt = tok.encode(text)
    assert prompt == ref.encode(text)
    ours = list(generate(load_gpt(tmp_path / "ckpt"), prompt, 12, temperature=0))
    want = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                       pad_token_id=0, eos_token_id=None)[0, len(prompt):].tolist()
    assert ours == want
    assert main(["gpt", "sample", str(tmp_path / "ckpt"), "--prompt", "The government",
                 "--max_new_tokens", "5", "--temperature", "0"]) == 0
    assert capsys.readouterr().out.startswith("The government")
    # exported again, the tokenizer.json keeps HF's ids
    assert main(["gpt", "export", str(tmp_path / "ckpt"), str(tmp_path / "hf2")]) == 0
    again = transformers.GPT2TokenizerFast.from_pretrained(tmp_path / "hf2")
    assert again.encode(text + "<|endoftext|>") == ref.encode(text + "<|endoftext|>")


def _broken(tmp_path, edit_config=None, edit_tensors=None):
    hf_folder(tmp_path / "hf")
    cfg_path = tmp_path / "hf" / "config.json"
    if edit_config:
        d = json.loads(cfg_path.read_text())
        edit_config(d)
        cfg_path.write_text(json.dumps(d))
    if edit_tensors:
        sd = load_file(tmp_path / "hf" / "model.safetensors")
        edit_tensors(sd)
        save_file(sd, tmp_path / "hf" / "model.safetensors")
    return tmp_path / "hf"


@pytest.mark.parametrize("config, tensors, message", [
    (lambda d: d.update(model_type="llama", architectures=["LlamaForCausalLM"]), None,
     "model_type 'llama' is not GPT-2"),
    (lambda d: d.update(activation_function="swish"), None, "unknown activation_function"),
    (lambda d: d.update(scale_attn_by_inverse_layer_idx=True), None,
     "scale_attn_by_inverse_layer_idx is True"),
    (lambda d: d.pop("n_embd"), None, "no 'n_embd'"),
    (None, lambda sd: sd.pop("transformer.h.2.mlp.c_fc.bias"),
     r"missing weight\(s\) transformer.h.2.mlp.c_fc.bias"),
    (None, lambda sd: sd.__setitem__("transformer.h.0.mlp.c_fc.weight", torch.zeros(48, 10)),
     r"c_fc.weight has shape \(10, 48\), the config wants \(192, 48\)"),
    (lambda d: d.update(n_layer=2), None,
     r"unexpected tensor 'transformer.h.2.attn.c_attn.bias' \(not in a 2-layer GPT-2\)"),
    (lambda d: d.update(vocab_size=100), None,
     r"transformer.wte.weight has shape \(1200, 48\), the config wants \(100, 48\)"),
])
def test_bad_folders_refused_nothing_written(tmp_path, capsys, config, tensors, message):
    folder = _broken(tmp_path, config, tensors)
    capsys.readouterr()
    assert main(["gpt", "import", str(folder), str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(DataError, match=message):
        import_hf(folder, tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # no temporary folder left either


def test_tokenizer_larger_than_model_and_bad_out(tmp_path, hf_with_tokenizer):
    folder, _ = hf_with_tokenizer
    small = tmp_path / "small"
    small.mkdir()
    for f in folder.iterdir():
        (small / f.name).write_bytes(f.read_bytes())
    d = json.loads((small / "config.json").read_text())
    hf_folder(small, vocab_size=1000)  # overwrites config and weights, keeps the tokenizer
    with pytest.raises(DataError, match=r"tokenizer has 1,200 ids, more than the model's "
                                        r"vocab_size 1,000"):
        import_hf(small, tmp_path / "ckpt")
    assert d["vocab_size"] == 1200 and not (tmp_path / "ckpt").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="afile: exists and is not a folder"):
        import_hf(folder, tmp_path / "afile")
    with pytest.raises(DataError, match="is the folder being imported"):
        import_hf(folder, folder)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="exists and is not a nanonlp checkpoint"):
        import_hf(folder, other)
    assert (other / "notes.txt").read_text() == "keep me"
    import_hf(folder, tmp_path / "ckpt")
    import_hf(folder, tmp_path / "ckpt")  # an earlier checkpoint is replaced whole
    with pytest.raises(DataError, match="not a nanonlp checkpoint"):
        import_hf(folder, small)  # a transformers folder is not a checkpoint to overwrite


def test_sharded_safetensors(tmp_path):
    hf = hf_folder(tmp_path / "hf")
    hf.save_pretrained(tmp_path / "shards", max_shard_size="100KB")
    assert (tmp_path / "shards" / "model.safetensors.index.json").exists()
    x = ids()
    with torch.no_grad():
        assert (load_hf(tmp_path / "shards")(x)[0] - hf(x).logits).abs().max() < 1e-5


@pytest.fixture
def imported(tmp_path, hf_with_tokenizer):
    """An imported GPT-2 (with its tokenizer) and text prepared with that tokenizer."""
    from nanonlp.gpt.data import PrepareConfig, prepare

    folder, hf = hf_with_tokenizer
    import_hf(folder, tmp_path / "ckpt")
    text = tmp_path / "text.txt"
    text.write_text("\n".join(list(datasets.text("lee_corpus"))[:60]), encoding="utf-8")
    prepare(PrepareConfig(source=str(text), out=str(tmp_path / "data"),
                          tokenizer=str(tmp_path / "ckpt" / "tokenizer.model")))
    return tmp_path / "ckpt", tmp_path / "data", hf


def test_evaluate_equals_hf_loss(imported):
    import numpy as np

    from nanonlp.gpt.train import evaluate

    ckpt, data, hf = imported
    r = evaluate(ckpt, data, "val", max_windows=4)
    arr = np.fromfile(data / "val.bin", dtype=np.uint16).astype(np.int64)
    x = torch.from_numpy(arr[:4 * 96 + 1])
    with torch.no_grad():
        want = hf(x[:-1].view(4, 96), labels=None).logits
        loss = torch.nn.functional.cross_entropy(want.reshape(-1, want.shape[-1]),
                                                 x[1:].reshape(-1))
    assert r.tokens == 4 * 96 and abs(r.loss - float(loss)) < 1e-5


def test_train_init_continues_from_the_imported_model(imported, tmp_path):
    from nanonlp.gpt.data import TokenData
    from nanonlp.gpt.train import make_trainer

    ckpt, data, _ = imported
    train = dict(max_steps=3, batch_size=4, eval_interval=3, eval_steps=1, log_interval=1,
                 lr=1e-4, min_lr=1e-5, warmup_steps=0, out=str(tmp_path / "run"))
    trainer = make_trainer(data, "tiny", {"dropout": 0.0, "block_size": 32}, train, init=ckpt)
    assert trainer.model.config.block_size == 32 and trainer.model.config.n_layer == 3
    # the first step's loss is the imported model's loss on the first batch the run draws
    g = torch.Generator().manual_seed(trainer.config.seed)
    (x,), y = TokenData.load(data, 32).batch("train", 4, g)
    with torch.no_grad():
        _, want = load_gpt(ckpt)(x, y)
    records = list(trainer.run())
    assert abs(records[0].loss - float(want)) < 1e-5
    assert records[-1].saved and (tmp_path / "run" / "last" / "tokenizer.model").read_bytes() \
        == (ckpt / "tokenizer.model").read_bytes()
    assert load_gpt(tmp_path / "run" / "last").config.block_size == 32


def test_train_init_refusals(imported, tmp_path, capsys):
    from nanonlp.errors import ConfigError
    from nanonlp.gpt.data import PrepareConfig, prepare
    from nanonlp.gpt.train import make_trainer

    ckpt, data, _ = imported
    with pytest.raises(ConfigError, match=r"model options \['n_layer'\] come from the --init"):
        make_trainer(data, "tiny", {"n_layer": 2}, init=ckpt)
    with pytest.raises(ConfigError, match="longer than the --init checkpoint's position table"):
        make_trainer(data, "tiny", {"block_size": 200}, init=ckpt)
    with pytest.raises(ConfigError, match="not both"):
        make_trainer(data, "tiny", init=ckpt, resume=ckpt)
    prepare(PrepareConfig(source=str(tmp_path / "text.txt"), out=str(tmp_path / "chars")))
    with pytest.raises(ConfigError, match="tokenized with another tokenizer"):
        make_trainer(tmp_path / "chars", "tiny", init=ckpt)
    capsys.readouterr()
    assert main(["gpt", "train", str(tmp_path / "chars"), "--init", str(tmp_path / "data")]) == 2
    assert "not a checkpoint" in capsys.readouterr().err


def test_an_imported_gpt2_fine_tunes_on_conversations_and_chats(tmp_path, hf_with_tokenizer,
                                                                capsys, monkeypatch):
    """The chat template's tokens join GPT-2's vocabulary (its own id order kept), the model
    grows to them, and the result chats; its HF export renders the template as we do."""
    import io
    import json

    from nanonlp.cli import main
    from nanonlp.gpt import chat as C

    folder, _ = hf_with_tokenizer
    import_hf(folder, tmp_path / "gpt2")
    talk = [{"role": "user", "content": "Who won?"}, {"role": "assistant", "content": "Sydney"}]
    (tmp_path / "chat.jsonl").write_text(json.dumps({"messages": talk}) + "\n")
    assert main(["gpt", "finetune", str(tmp_path / "gpt2"), "--chat", str(tmp_path / "chat.jsonl"),
                 "--dev", str(tmp_path / "chat.jsonl"), "--train.max_steps", "2",
                 "--train.batch_size", "2", "--train.eval_steps", "1", "--train.device", "cpu",
                 "--train.out", str(tmp_path / "run")]) == 0
    old = load_tokenizer(tmp_path / "gpt2")
    tok = load_tokenizer(tmp_path / "run" / "last")
    assert tok.encode("Who won? Sydney") == old.encode("Who won? Sydney")  # GPT-2's ids kept
    assert tok.special_tokens["<|system_start|>"] == old.vocab_size  # after its last id
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"messages": talk[:1]}) + "\n"))
    assert main(["gpt", "chat", str(tmp_path / "run" / "last"), "--jsonl",
                 "--max_new_tokens", "3"]) == 0
    assert "reply" in json.loads(capsys.readouterr().out)
    model, _ = C.load_chat(tmp_path / "run" / "last")
    assert model.config.vocab_size >= tok.vocab_size
