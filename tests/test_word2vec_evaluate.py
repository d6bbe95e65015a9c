"""Evaluation: our analogy and similarity numbers equal gensim's on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from nanonlp import datasets as D
from nanonlp.datasets.readers import read_analogies, read_scored_pairs
from nanonlp.errors import DataError
from nanonlp.word2vec import WordVectors, evaluate, evaluate_analogies, evaluate_similarity
from nanonlp.word2vec.evaluate import rankdata, spearman

gensim = pytest.importorskip("gensim")


@pytest.fixture(scope="module")
def analogy_file(tmp_path_factory):
    """Every 8th Google analogy question, with its section headers (about 2,400 questions)."""
    src = D.locate("word_analogy", "words")["questions-words.txt"]
    out, kept = [], 0
    for i, line in enumerate(src.read_text().splitlines()):
        if line.startswith(":") or i % 8 == 0:
            out.append(line)
            kept += not line.startswith(":")
    path = tmp_path_factory.mktemp("analogy") / "questions.txt"
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.fixture(scope="module")
def planted(analogy_file):
    """Vectors in which many analogies hold: in each section, b = a + offset (plus noise),
    for the questions met first; later questions partly conflict, so some fail. Includes
    case variants ('paris' after 'Paris') to exercise case-insensitive matching."""
    rng = np.random.default_rng(0)
    vec: dict[str, np.ndarray] = {}
    offsets: dict[str, np.ndarray] = {}
    for q in read_analogies(analogy_file):
        off = offsets.setdefault(q.section, rng.normal(size=32))
        for x, y in ((q.a, q.b), (q.c, q.d)):
            if x not in vec:
                vec[x] = rng.normal(size=32)
            if y not in vec:
                vec[y] = vec[x] + off + 0.3 * rng.normal(size=32)
    for w in D.load("word_similarity", "wordsim353"):
        for x in (w.word1, w.word2):
            vec.setdefault(x, rng.normal(size=32))
    words = list(vec)
    rng.shuffle(words)
    words += [w.lower() for w in words[:300] if w.lower() not in vec]
    vectors = np.array([vec[w] if w in vec else rng.normal(size=32) for w in words],
                       dtype=np.float32)
    return WordVectors(words, vectors)


@pytest.mark.parametrize("restrict", [300_000, 900])
def test_analogy_counts_equal_gensims(planted, analogy_file, restrict):
    kv = planted.to_gensim()
    _, sections = kv.evaluate_word_analogies(str(analogy_file), restrict_vocab=restrict)
    ours = evaluate_analogies(planted, read_analogies(analogy_file), restrict_vocab=restrict)
    theirs = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"]))
              for s in sections}
    total = theirs.pop("Total accuracy")
    assert {s["section"]: (s["correct"], s["attempted"]) for s in ours["sections"]} == theirs
    assert (ours["total"]["correct"], ours["total"]["attempted"]) == total
    assert 0 < ours["total"]["correct"] < ours["total"]["attempted"]  # a real mix
    assert ours["oov_questions"] == ours["questions"] - total[1]
    if restrict < len(planted):
        assert ours["oov_questions"] > 0
    sem, syn = ours["semantic"], ours["syntactic"]
    assert sem["attempted"] + syn["attempted"] == total[1]
    assert sem["correct"] + syn["correct"] == total[0]


@pytest.mark.parametrize("name,file", [("wordsim353", "wordsim353.tsv"),
                                       ("simlex999", "simlex999.txt")])
def test_similarity_equals_gensims(planted, name, file):
    from gensim.test.utils import datapath

    kv = planted.to_gensim()
    pearson, spear, oov_ratio = kv.evaluate_word_pairs(datapath(file), restrict_vocab=2000)
    ours = evaluate_similarity(planted, D.load("word_similarity", name), restrict_vocab=2000)
    assert ours["spearman"] == pytest.approx(spear.statistic, abs=1e-9)
    assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours["oov_ratio"] == pytest.approx(oov_ratio)


def test_spearman_equals_scipy_with_ties():
    from scipy import stats

    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 5, size=40), rng.normal(size=40)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    np.testing.assert_array_equal(rankdata(x), stats.rankdata(x))


def test_one_report_with_unavailable_sets_listed(planted, monkeypatch):
    monkeypatch.delenv("NANONLP_DATA", raising=False)
    report = evaluate(planted, similarity=("wordsim353", "men"))
    assert set(report["analogy"]) >= {"semantic", "syntactic", "total", "oov_ratio"}
    assert report["similarity"]["wordsim353"]["pairs"] > 300
    if not D.available("word_similarity", "men"):
        assert report["unavailable"] == ["word_similarity/men"]


def test_no_known_pair_is_an_error():
    wv = WordVectors(["a", "b"], np.eye(2))
    pairs = list(read_scored_pairs(D.locate("word_similarity", "wordsim353")
                                   ["gensim/wordsim353.tsv"]))
    with pytest.raises(DataError, match=r"no similarity pair has both words in the vocabulary "
                                        r"\(353 pairs\)"):
        evaluate_similarity(wv, pairs)
