"""`nanonlp word2vec ...` end to end on a tiny corpus, its error messages, and the tour step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nanonlp.cli import main
from nanonlp.word2vec import WordVectors


@pytest.fixture
def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    groups = [[f"a{i}" for i in range(4)], [f"b{i}" for i in range(4)]]
    lines = [" ".join(groups[i % 2][j] for j in rng.integers(4, size=6)) for i in range(300)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_similar_eval_plot(tmp_path, corpus_file, capsys):
    out = tmp_path / "v.txt"
    assert main(["word2vec", "train", str(corpus_file), "--out", str(out), "--min_count", "1",
                 "--dim", "8", "--epochs", "3", "--sample", "0", "--report_every", "500"]) == 0
    printed = capsys.readouterr().out
    assert "training sg (numpy) on" in printed and "words/s" in printed and "loss" in printed
    assert "saved 8 vectors of size 8" in printed
    assert len(WordVectors.load(out)) == 8

    assert main(["word2vec", "similar", "a0", "--vectors", str(out), "--topn", "3"]) == 0
    neighbours = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert set(neighbours) == {"a1", "a2", "a3"}

    report_path = tmp_path / "r.json"
    assert main(["word2vec", "eval", str(out), "--similarity", "wordsim353",
                 "--json", str(report_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["analogy"]["oov_ratio"] == 100.0 and "sections" not in shown["analogy"]
    assert shown["similarity"]["wordsim353"]["spearman"] is None
    assert "sections" in json.loads(report_path.read_text())["analogy"]

    png = tmp_path / "p.png"
    assert main(["word2vec", "plot", str(out), "--words", "a0", "a1", "b0", "b1",
                 "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gensim_backend_through_the_same_flags(tmp_path, corpus_file, capsys):
    out = tmp_path / "g.bin"
    assert main(["word2vec", "train", str(corpus_file), "--backend", "gensim", "--out",
                 str(out), "--min_count", "1", "--dim", "8", "--epochs", "2"]) == 0
    assert "training sg (gensim)" in capsys.readouterr().out
    assert sorted(WordVectors.load(out).words) == sorted([f"a{i}" for i in range(4)] +
                                                         [f"b{i}" for i in range(4)])


@pytest.mark.parametrize("argv,message", [
    (["similar", "zzz", "--vectors", "{v}"], "word 'zzz' is not in the vocabulary (3 words)"),
    (["similar", "a", "--vectors", "{bad}"], "bad.txt:3: expected a word and 2 numbers, "
                                             "got 1 numbers"),
    (["train", "{empty}", "--out", "{tmp}/x.bin"], "the corpus is empty"),
    (["train", "{v}", "--min_count", "50", "--out", "{tmp}/x.bin"],
     "min_count=50 leaves no words"),
    (["train", "--out", "{tmp}/x.bin"], "nothing to train on"),
    (["train", "{tmp}/missing.txt"], "missing.txt: no such file"),
    (["train", "{v}", "--window", "0"], "window must be a positive integer, got 0"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    v = tmp_path / "v.txt"
    v.write_text("3 2\na 1 0\nb 0 1\nc 1 1\n")
    (tmp_path / "bad.txt").write_text("2 2\na 1 0\nb 0\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    fill = {"v": v, "bad": tmp_path / "bad.txt", "empty": tmp_path / "empty.txt",
            "tmp": tmp_path}
    assert main(["word2vec"] + [a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_tour_step_quick(tmp_path):
    from nanonlp.tour import TourContext
    from nanonlp.word2vec.tour import run

    report = run(TourContext(out=tmp_path, quick=True, seed=0))
    assert report.metrics["vocabulary"] > 1000
    assert "Lee" in report.data
    assert all((tmp_path / f.file).exists() for f in report.figures)
    assert -1 <= report.metrics["WS-353 Spearman"] <= 1
