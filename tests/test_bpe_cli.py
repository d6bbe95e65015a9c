"""`nanonlp bpe train/encode/decode/inspect`: exit status, outputs, one-line errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from nanonlp.bpe import Tokenizer
from nanonlp.cli import main

TEXT = "the cat sat on the mat.<|endoftext|>the dog sat on the log.\n" * 30


@pytest.fixture
def trained(tmp_path, capsys):
    src = tmp_path / "corpus.txt"
    src.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "tok"
    assert main(["bpe", "train", str(src), "--vocab-size", "300", "--pattern", "gpt2",
                 "--out", str(out), "--name", "t"]) == 0
    stdout = capsys.readouterr().out
    assert "wrote" in stdout and "t.model" in stdout
    return out / "t.model", src


def test_train_writes_all_formats(trained):
    model, _ = trained
    folder = model.parent
    for name in ("t.model", "t.vocab", "tokenizer.json", "t.tiktoken"):
        assert (folder / name).is_file()
    tok = Tokenizer.load(model)
    assert tok.vocab_size == 256 + len(tok.merges) + 1 <= 300  # the corpus ran out of pairs
    assert "<|endoftext|>" in tok.special_tokens


def test_encode_decode_stdin_stdout(trained, monkeypatch, capsys):
    model, _ = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("the cat<|endoftext|>\n"))
    assert main(["bpe", "encode", str(model)]) == 0
    ids = capsys.readouterr().out.split()
    tok = Tokenizer.load(model)
    assert [int(i) for i in ids] == tok.encode("the cat<|endoftext|>\n", allowed_special="all")
    monkeypatch.setattr("sys.stdin", io.StringIO(" ".join(ids)))
    assert main(["bpe", "decode", str(model)]) == 0
    assert capsys.readouterr().out == "the cat<|endoftext|>\n"


def test_encode_file_to_npy_and_back(trained, tmp_path, capsys):
    model, src = trained
    npy = tmp_path / "ids.npy"
    assert main(["bpe", "encode", str(model), "-i", str(src), "-o", str(npy)]) == 0
    assert "tokens to" in capsys.readouterr().out
    assert np.load(npy).dtype == np.uint16
    out = tmp_path / "back.txt"
    assert main(["bpe", "decode", str(model), "-i", str(npy), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == TEXT


def test_encode_special_error(trained, monkeypatch, capsys):
    model, _ = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("a<|endoftext|>"))
    assert main(["bpe", "encode", str(model), "--special", "error"]) == 2
    assert "contains special token '<|endoftext|>'" in capsys.readouterr().err


def test_inspect(trained, capsys):
    model, src = trained
    assert main(["bpe", "inspect", str(model), "--text", str(src), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "bytes/token" in out and "first 3 merges" in out and "longest 3 tokens" in out


@pytest.mark.parametrize("argv, message", [
    (["bpe", "train", "no-such-dataset"], "no-such-dataset"),
    (["bpe", "train", "{src}", "--vocab_size", "100"], "vocab_size 100 is below 257"),
    (["bpe", "train", "{src}", "--pattern", "gpt5"], "unknown split pattern 'gpt5'"),
    (["bpe", "encode", "{tmp}/missing.model"], "no such tokenizer file"),
    (["bpe", "decode", "{model}", "-i", "{src}"], "expected token ids"),
])
def test_cli_errors(trained, tmp_path, capsys, argv, message):
    model, src = trained
    argv = [a.format(src=src, tmp=tmp_path, model=model) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nanonlp: error:") and message in err and err.count("\n") == 1
