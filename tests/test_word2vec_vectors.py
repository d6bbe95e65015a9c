"""WordVectors: queries, the word2vec C text/binary formats and .npz, interop with gensim,
and malformed files / unknown words."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nanonlp.errors import DataError
from nanonlp.word2vec import UnknownWordError, WordVectors


def _wv(seed: int = 0, n: int = 40, dim: int = 6) -> WordVectors:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n - 3)] + ["Été", "naïve", "東京"]
    return WordVectors(words, rng.normal(size=(n, dim)).astype(np.float32),
                       np.arange(n, 0, -1))


@pytest.mark.parametrize("suffix", [".txt", ".bin", ".npz", ".txt.gz"])
def test_round_trip_is_exact(tmp_path, suffix):
    wv = _wv()
    path = wv.save(tmp_path / f"v{suffix}")
    back = WordVectors.load(path)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)


def test_gensim_reads_ours_and_we_read_gensims(tmp_path):
    from gensim.models import KeyedVectors

    wv = _wv(1)
    for binary, name in ((False, "ours.txt"), (True, "ours.bin")):
        wv.save(tmp_path / name)
        kv = KeyedVectors.load_word2vec_format(str(tmp_path / name), binary=binary)
        assert kv.index_to_key == wv.words
        np.testing.assert_array_equal(kv.vectors, wv.vectors)
    kv = wv.to_gensim()
    for binary, name in ((False, "gensim.txt"), (True, "gensim.bin")):
        kv.save_word2vec_format(str(tmp_path / name), binary=binary)
        back = WordVectors.load(tmp_path / name)
        assert back.words == wv.words
        # gensim's text writer uses repr() of float32: exact
        np.testing.assert_array_equal(back.vectors, wv.vectors)


def test_to_gensim_and_back_is_exact_and_a_copy():
    wv = _wv(3)
    kv = wv.to_gensim()
    back = WordVectors.from_gensim(kv)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    np.testing.assert_array_equal(back.counts, wv.counts)
    kv.vectors[0] += 1.0
    kv.expandos["count"][0] += 1
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    np.testing.assert_array_equal(back.counts, wv.counts)


def test_queries_agree_with_gensim():
    wv = _wv(2)
    kv = wv.to_gensim()
    assert wv.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-6)
    ours = wv.most_similar(["w3", "w5"], ["w7"], topn=5)
    theirs = kv.most_similar(positive=["w3", "w5"], negative=["w7"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    ours = wv.analogy("w7", "w3", "w5", topn=5, method="mul")
    theirs = kv.most_similar_cosmul(positive=["w3", "w5"], negative=["w7"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    ours = wv.most_similar("w4", topn=3, restrict_vocab=10)
    theirs = kv.most_similar("w4", topn=3, restrict_vocab=10)
    assert [w for w, _ in ours] == [w for w, _ in theirs]


def test_analogy_answers_a_planted_offset():
    rng = np.random.default_rng(3)
    base = {w: rng.normal(size=20) for w in ("man", "paris", "berlin", "cat", "dog")}
    offset = rng.normal(size=20)
    base["king"] = base["man"] + offset
    base["woman"] = rng.normal(size=20)
    base["queen"] = base["woman"] + offset
    wv = WordVectors(list(base), np.array(list(base.values())))
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    assert wv.analogy("man", "king", "woman", method="mul")[0][0] == "queen"


def test_unknown_word_is_named():
    wv = _wv()
    with pytest.raises(UnknownWordError, match=r"word 'kingz' is not in the vocabulary "
                                               r"\(40 words\)"):
        wv.most_similar("kingz")
    with pytest.raises(UnknownWordError, match=r"word 'W1' .*; did you mean 'w1'\?"):
        wv.similarity("w0", "W1")
    assert "kingz" not in wv and "w0" in wv


@pytest.mark.parametrize("content,message", [
    ("", r"v.txt: empty file, expected a header 'COUNT DIM'"),
    ("2 three\n", r"v.txt:1: expected a header 'COUNT DIM', got '2 three'"),
    ("2 3\na 1 2 3\nb 1 2\n", r"v.txt:3: expected a word and 3 numbers, got 2 numbers"),
    ("2 3\na 1 2 3\nb 1 x 3\n", r"v.txt:3: 'x' is not a number"),
    ("3 3\na 1 2 3\nb 1 2 3\n", r"v.txt: the header announces 3 vectors but the file holds 2"),
    ("1 3\na 1 2 3\nb 1 2 3\n", r"v.txt:3: more vectors than the 1 the header announces"),
])
def test_malformed_text_file_names_file_and_line(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content)
    with pytest.raises(DataError, match=message):
        WordVectors.load(tmp_path / "v.txt")


def test_malformed_binary_file_names_the_entry(tmp_path):
    good = tmp_path / "v.bin"
    _wv().save(good)
    data = good.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-30])
    with pytest.raises(DataError, match=r"cut.bin: entry 40 \(byte \d+\): the file ends early"):
        WordVectors.load(tmp_path / "cut.bin")
    (tmp_path / "bad.bin").write_bytes(b"x y\n" + data[data.find(b"\n") + 1:])
    with pytest.raises(DataError, match=r"bad.bin:1: expected a header 'COUNT DIM', got 'x y'"):
        WordVectors.load(tmp_path / "bad.bin")


def test_invalid_utf8_and_bad_npz_are_data_errors(tmp_path):
    with gzip.open(tmp_path / "v.txt.gz", "wb") as f:
        f.write(b"1 2\n\xff 1 2\n")
    with pytest.raises(DataError, match=r"v.txt.gz:2: not valid UTF-8"):
        WordVectors.load(tmp_path / "v.txt.gz")
    (tmp_path / "v.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"v.npz: not a nanonlp vectors .npz"):
        WordVectors.load(tmp_path / "v.npz")


def test_words_with_spaces_cannot_be_saved_in_c_format(tmp_path):
    wv = WordVectors(["new york", "b"], np.ones((2, 2)))
    with pytest.raises(DataError, match="word 'new york' is empty or holds whitespace"):
        wv.save(tmp_path / "v.txt")
    assert not (tmp_path / "v.txt").exists()


def test_pca_projection_and_png(tmp_path):
    from nanonlp.word2vec.plot import pca_2d, plot_words

    square = np.array([[0.0, 0, 0], [2, 0, 0], [0, 1, 0], [2, 1, 0]])
    np.testing.assert_allclose(pca_2d(square), [[-1, -0.5], [1, -0.5], [-1, 0.5], [1, 0.5]],
                               atol=1e-12)
    wv = _wv(4)
    coords = plot_words(wv, ["w0", "w1", "w2", "w3"], tmp_path / "p.png")
    assert set(coords) == {"w0", "w1", "w2", "w3"}
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    pytest.importorskip("sklearn")
    coords = plot_words(wv, [f"w{i}" for i in range(8)], tmp_path / "t.png", method="tsne")
    assert len(coords) == 8 and (tmp_path / "t.png").exists()
