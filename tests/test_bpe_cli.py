"""`nanonlp bpe train/encode/decode/inspect`: exit status, outputs, one-line errors."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from nanonlp.bpe import Tokenizer, read_tokens
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
    err = capsys.readouterr().err
    assert "contains special token '<|endoftext|>'" in err
    # the hint names the CLI's options, not the Python keyword arguments
    assert "use --special allow" in err and "allowed_special" not in err


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


def _stdin(monkeypatch, data: bytes) -> None:
    """Replace stdin by one that has a binary ``buffer``, like the real one."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize("suffix", [".txt", ".npy", ".bin"])
def test_encode_special_modes_agree_across_outputs(trained, tmp_path, capsys, suffix):
    model, _ = trained
    tok = Tokenizer.load(model)
    src = tmp_path / "in.txt"
    src.write_text("the cat<|endoftext|>sat", encoding="utf-8")
    out = tmp_path / f"ids{suffix}"

    def ids_written():
        if suffix == ".txt":
            return [int(i) for i in out.read_text(encoding="utf-8").split()]
        return read_tokens(out, tok.vocab_size).tolist()

    assert main(["bpe", "encode", str(model), "-i", str(src), "-o", str(out),
                 "--special", "text"]) == 0
    assert ids_written() == tok.encode_ordinary("the cat<|endoftext|>sat")
    assert tok.special_tokens["<|endoftext|>"] not in ids_written()
    assert main(["bpe", "encode", str(model), "-i", str(src), "-o", str(out)]) == 0
    assert ids_written() == tok.encode("the cat<|endoftext|>sat", allowed_special="all")
    capsys.readouterr()
    out.unlink()
    assert main(["bpe", "encode", str(model), "-i", str(src), "-o", str(out),
                 "--special", "error"]) == 2
    err = capsys.readouterr().err
    assert "contains special token '<|endoftext|>'" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".npy", ".bin"])
def test_stdin_to_array_output(trained, tmp_path, monkeypatch, capsys, suffix):
    model, _ = trained
    tok = Tokenizer.load(model)
    _stdin(monkeypatch, b"the cat sat\n")
    out = tmp_path / f"ids{suffix}"
    assert main(["bpe", "encode", str(model), "-o", str(out)]) == 0
    assert read_tokens(out, tok.vocab_size).tolist() == tok.encode("the cat sat\n")
    capsys.readouterr()
    assert main(["bpe", "decode", str(model), "-i", str(out)]) == 0
    assert capsys.readouterr().out == "the cat sat\n"


def test_empty_bin_decodes_to_nothing(trained, tmp_path, capsys):
    model, _ = trained
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "ids.bin"
    assert main(["bpe", "encode", str(model), "-i", str(empty), "-o", str(out)]) == 0
    assert out.stat().st_size == 0
    capsys.readouterr()
    assert main(["bpe", "decode", str(model), "-i", str(out)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("verb", ["encode", "decode"])
def test_invalid_utf8_on_stdin(trained, monkeypatch, capsys, verb):
    model, _ = trained
    _stdin(monkeypatch, b"1 2\n3 caf\xe9\n")
    assert main(["bpe", verb, str(model)]) == 2
    err = capsys.readouterr().err
    assert "<stdin>:2: not valid UTF-8 (byte 0xe9)" in err and err.count("\n") == 1


@pytest.mark.parametrize("name, make, message", [
    ("odd.bin", lambda p: p.write_bytes(b"\x01\x00\x02"), "3 bytes is not a whole number"),
    ("empty.npy", lambda p: p.write_bytes(b""), "not a .npy token array"),
    ("junk.npy", lambda p: p.write_bytes(b"not numpy at all"), "not a .npy token array"),
    ("obj.npy", lambda p: np.save(p, np.array([1, "a"], dtype=object)),
     "not a .npy token array"),
    ("float.npy", lambda p: np.save(p, np.array([1.0, 2.0])), "expected a 1-D integer array"),
    ("grid.npy", lambda p: np.save(p, np.zeros((2, 2), dtype=np.uint16)),
     r"shape \(2, 2\)"),
])
def test_decode_bad_token_files(trained, tmp_path, capsys, name, make, message):
    model, _ = trained
    path = tmp_path / name
    make(path)
    assert main(["bpe", "decode", str(model), "-i", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nanonlp: error: {path}") and err.count("\n") == 1
    assert re.search(message, err)


@pytest.mark.parametrize("argv, message", [
    (["bpe", "encode", "{model}", "-i", "{src}", "--workers", "-1"],
     "argument --workers: must be an integer >= 0, got '-1'"),
    (["bpe", "encode", "{model}", "-i", "{src}", "-o", "{tmp}/x.npy", "--workers", "-1"],
     "argument --workers: must be an integer >= 0, got '-1'"),
    (["bpe", "train", "missing.txt"], "missing.txt: no such file"),
    (["bpe", "train", "{tmp}/nowhere"], "nowhere: no such file"),
    (["bpe", "train", "{tmp}/c.zip::a.txt"], "c.zip::a.txt: no such file"),
])
def test_cli_errors_more(trained, tmp_path, capsys, argv, message):
    model, src = trained
    argv = [a.format(src=src, tmp=tmp_path, model=model) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:  # a flag's value is refused by the parser, before any work
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("nanonlp: error:") and message in err and err.count("\n") == 1
    assert "unknown data set" not in err
