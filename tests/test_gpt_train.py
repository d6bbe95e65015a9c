"""GPT end to end: prepare -> train (overfit) -> checkpoint -> reload -> sample, and the CLI."""

import json

import numpy as np
import pytest

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.cli import main
from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.data import PrepareConfig, TokenData, load_tokenizer, prepare
from nanonlp.gpt.model import load_gpt
from nanonlp.gpt.sample import generate
from nanonlp.gpt.train import evaluate, make_trainer

TEXT = "the quick brown fox jumps over the lazy dog. "


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT * 60, encoding="utf-8")
    return path


def test_prepare_char(tmp_path, corpus):
    meta = prepare(PrepareConfig(source=str(corpus), out=str(tmp_path / "d")))
    n = len(TEXT * 60)
    assert meta["vocab_size"] == len(set(TEXT)) and meta["dtype"] == "uint16"
    assert meta["tokens"] == {"train": int(n * 0.9), "val": n - int(n * 0.9)}
    raw = np.fromfile(tmp_path / "d" / "train.bin", dtype="<u2")
    tok = load_tokenizer(tmp_path / "d" / "tokenizer.model")
    assert tok.decode(raw.tolist()) == (TEXT * 60)[: int(n * 0.9)]


def test_prepare_bpe(tmp_path, corpus):
    tok = Tokenizer.train([TEXT * 5], BPEConfig(vocab_size=270, special=("<|endoftext|>",)))
    tok.save(tmp_path / "bpe")
    meta = prepare(PrepareConfig(source=str(corpus), out=str(tmp_path / "d"),
                                 tokenizer=str(tmp_path / "bpe.model")))
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 270
    data = TokenData.load(tmp_path / "d", block_size=8)
    assert load_tokenizer(tmp_path / "d" / "tokenizer.model").decode(
        data.splits["val"].tolist()) == (TEXT * 60)[int(len(TEXT * 60) * 0.9):]


def test_overfit_checkpoint_reload_reproduces(tmp_path, corpus):
    prepare(PrepareConfig(source=str(corpus), out=str(tmp_path / "d")))
    trainer = make_trainer(tmp_path / "d", "tiny",
                           model=dict(block_size=len(TEXT), n_embd=48, n_head=4),
                           train=dict(max_steps=120, batch_size=8, lr=1e-2, min_lr=1e-3,
                                      warmup_steps=10, eval_interval=120, eval_steps=2,
                                      device="cpu", out=str(tmp_path / "run")))
    recs = list(trainer.run())
    assert recs[-1].eval["val"] < 0.1
    model = load_gpt(tmp_path / "run" / "last")
    tok = load_tokenizer(tmp_path / "run" / "last" / "tokenizer.model")
    prompt = tok.encode("the q")  # "the" alone could continue as "the lazy"
    out = generate(model, prompt, len(TEXT) - len(prompt), temperature=0)
    assert tok.decode(prompt + list(out)) == TEXT
    report = evaluate(tmp_path / "run" / "last", tmp_path / "d", device="cpu")
    assert report.loss < 0.1 and report.windows == (len(TEXT * 6) - 1) // len(TEXT)


def test_bad_data(tmp_path, corpus):
    prepare(PrepareConfig(source=str(corpus), out=str(tmp_path / "d")))
    with pytest.raises(DataError, match=r"val.bin: 270 tokens, fewer than block_size \+ 1 = 513"):
        make_trainer(tmp_path / "d", "tiny", model=dict(block_size=512),
                     train=dict(device="cpu", out=str(tmp_path / "run")))
    (tmp_path / "d" / "val.bin").write_bytes(np.full(300, 40, dtype="<u2").tobytes())
    with pytest.raises(DataError, match=r"val.bin: token id 40 is outside the vocabulary"):
        make_trainer(tmp_path / "d", "tiny", train=dict(device="cpu"))
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'"):
        make_trainer(tmp_path / "d", "huge")
    with pytest.raises(DataError, match=r"meta.json: missing; run `nanonlp gpt prepare"):
        make_trainer(tmp_path / "nothing", "tiny")
    with pytest.raises(DataError, match=r"nope: neither a file nor a data set name"):
        prepare(PrepareConfig(source="nope", out=str(tmp_path / "e")))


def test_cli_end_to_end(tmp_path, corpus, capsys):
    d, run, hf = tmp_path / "d", tmp_path / "run", tmp_path / "hf"
    assert main(["gpt", "prepare", "--source", str(corpus), "--out", str(d)]) == 0
    assert "char vocabulary of 28" in capsys.readouterr().out
    assert main(["gpt", "train", str(d), "--preset", "tiny", "--train.max_steps", "4",
                 "--train.eval_interval", "2", "--train.eval_steps", "1", "--train.device",
                 "cpu", "--train.out", str(run), "--train.log_interval", "1"]) == 0
    out = capsys.readouterr().out
    assert "best val loss" in out
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4]
    assert (run / "loss.png").exists()
    # resume and extend the run to 6 steps
    assert main(["gpt", "train", str(d), "--resume", str(run / "last"), "--train.max_steps",
                 "6"]) == 0
    capsys.readouterr()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4, 5, 6]
    assert main(["gpt", "sample", str(run / "last"), "--prompt", "the", "--max_new_tokens",
                 "10", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.startswith("the")
    assert main(["gpt", "evaluate", str(run / "best"), str(d), "--device", "cpu"]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert main(["gpt", "export", str(run / "best"), str(hf)]) == 0
    assert (hf / "tokenizer.json").exists() and (hf / "model.safetensors").exists()
    capsys.readouterr()
    assert main(["gpt", "train", str(d), "--preset", "gpt5"]) == 2
    assert "nanonlp: error: unknown preset 'gpt5'" in capsys.readouterr().err
    assert main(["gpt", "sample", str(tmp_path / "nowhere")]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err


def test_tour_step_quick_offline(tmp_path, no_real_data):
    from nanonlp.gpt.tour import run
    from nanonlp.tour import TourContext

    report = run(TourContext(out=tmp_path, quick=True, seed=0))
    assert report.data.startswith("enwiki_sample")
    assert report.metrics["val loss"] < report.metrics["steps"] and report.metrics["steps"] == 30
    assert (tmp_path / "gpt_loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "Sample:" in report.summary


def test_prepare_replaces_the_folder_whole(tmp_path, corpus, monkeypatch):
    import nanonlp.bpe.tokenfile as tokenfile

    d = tmp_path / "d"
    prepare(PrepareConfig(source=str(corpus), out=str(d)))
    (d / "notes.txt").write_text("mine")  # the user's own file in the folder
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    tok = Tokenizer.train([TEXT * 5], BPEConfig(vocab_size=270, special=("<|endoftext|>",)))
    tok.save(tmp_path / "bpe")
    real = tokenfile.write_tokens

    def interrupted(path, ids, vocab_size):
        if path.name == "val.bin":  # after tokenizer.model and train.bin were written
            raise KeyboardInterrupt
        return real(path, ids, vocab_size)

    monkeypatch.setattr(tokenfile, "write_tokens", interrupted)
    bpe = PrepareConfig(source=str(corpus), out=str(d), tokenizer=str(tmp_path / "bpe.model"))
    with pytest.raises(KeyboardInterrupt):
        prepare(bpe)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(tokenfile, "write_tokens", real)
    assert prepare(bpe)["tokenizer"] == "bpe"
    assert TokenData.load(d, 8).vocab_size == 270 and (d / "notes.txt").read_text() == "mine"


def test_cli_user_errors_are_one_line(tmp_path, corpus, capsys):
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt

    d, ck = tmp_path / "d", tmp_path / "ck"
    prepare(PrepareConfig(source=str(corpus), out=str(d)))
    vocab = TokenData.load(d, 8).vocab_size
    save_gpt(GPT(GPTConfig(vocab_size=vocab, block_size=8, n_layer=1, n_head=1, n_embd=8)), ck,
             d / "tokenizer.model")
    cases = [
        (["gpt", "sample", str(ck), "--device", "foo"], "unknown device 'foo'"),
        (["gpt", "evaluate", str(ck), str(d), "--device", "foo"], "unknown device 'foo'"),
        (["gpt", "train", str(d), "--train.device", "foo"], "unknown device 'foo'"),
        (["gpt", "evaluate", str(ck), str(d), "--max_windows", "0", "--device", "cpu"],
         "argument --max_windows: must be an integer >= 1, got '0'"),
    ]
    for argv, message in cases:
        try:
            code = main(argv)
        except SystemExit as e:  # refused by the parser: the same one line, status 2
            code = e.code
        assert code == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, argv
