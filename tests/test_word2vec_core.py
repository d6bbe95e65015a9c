"""word2vec core: gradients, the sampling tables against gensim's, fast path == reference,
planted co-occurrence groups recovered, and bad corpora."""

from __future__ import annotations

import numpy as np
import pytest

from nanonlp.errors import ConfigError, DataError
from nanonlp.word2vec import Corpus, Word2Vec, Word2VecConfig, build_vocab, fit
from nanonlp.word2vec.reference import (
    cbow_loss,
    cbow_step,
    lcg_next,
    sgns_grads,
    sgns_loss,
    sgns_step,
)
from nanonlp.word2vec.vocab import noise_buckets, noise_table


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of scalar f at x (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def test_sgns_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    v, u_pos, u_neg = rng.normal(size=6), rng.normal(size=6), rng.normal(size=(4, 6))
    g_v, g_pos, g_neg = sgns_grads(v, u_pos, u_neg)
    f = lambda: sgns_loss(v, u_pos, u_neg)  # noqa: E731
    np.testing.assert_allclose(g_v, numeric_grad(f, v), atol=1e-7)
    np.testing.assert_allclose(g_pos, numeric_grad(f, u_pos), atol=1e-7)
    np.testing.assert_allclose(g_neg, numeric_grad(f, u_neg), atol=1e-7)


def test_sgns_step_is_sgd_on_the_loss():
    """With distinct noise words, one step equals params -= lr * gradient (old values)."""
    rng = np.random.default_rng(1)
    W_in = rng.normal(size=(6, 5)).astype(np.float32)
    W_out = rng.normal(size=(6, 5)).astype(np.float32)
    before_in, before_out = W_in.copy().astype(np.float64), W_out.copy().astype(np.float64)
    lr, context, word, negs = 0.1, 2, 0, [3, 5]
    loss = sgns_step(W_in, W_out, context, word, negs, lr)
    v, u_pos, u_neg = before_in[context], before_out[word], before_out[negs]
    g_v, g_pos, g_neg = sgns_grads(v, u_pos, u_neg)
    assert loss == pytest.approx(sgns_loss(v, u_pos, u_neg), rel=1e-5)
    np.testing.assert_allclose(W_in[context], v - lr * g_v, atol=1e-5)
    np.testing.assert_allclose(W_out[word], u_pos - lr * g_pos, atol=1e-5)
    np.testing.assert_allclose(W_out[negs], u_neg - lr * g_neg, atol=1e-5)
    untouched = [1, 4]
    np.testing.assert_array_equal(W_out[untouched], before_out[untouched])


def test_cbow_step_moves_each_context_by_the_gradient_of_the_mean():
    rng = np.random.default_rng(2)
    W_in = rng.normal(size=(7, 4)).astype(np.float32)
    W_out = rng.normal(size=(7, 4)).astype(np.float32)
    W0 = W_in.astype(np.float64)
    contexts, word, negs, lr = [1, 2, 3], 0, [4, 6], 0.05
    h = W0[contexts].mean(axis=0)
    f_ctx = W0[contexts].copy()
    f = lambda: cbow_loss(f_ctx, W_out[word].astype(np.float64),  # noqa: E731
                          W_out[negs].astype(np.float64))
    g_ctx = numeric_grad(f, f_ctx)  # (3, D): each context gets 1/C of dL/dh
    g_h, _, _ = sgns_grads(h, W_out[word].astype(np.float64), W_out[negs].astype(np.float64))
    np.testing.assert_allclose(g_ctx, np.tile(g_h / 3, (3, 1)), atol=1e-6)
    cbow_step(W_in, W_out, contexts, word, negs, lr)
    # word2vec.c and gensim (cbow_mean=1) give every context the full step of the mean
    np.testing.assert_allclose(W_in[contexts], W0[contexts] - lr * g_h, atol=1e-5)


def test_lcg_is_the_c_tools_generator():
    state = 1
    for _ in range(3):
        state = lcg_next(state)
    expected = 1
    for _ in range(3):
        expected = (expected * 25214903917 + 11) % 2**48
    assert state == expected


def test_sampling_tables_equal_gensims():
    gensim = pytest.importorskip("gensim")
    rng = np.random.default_rng(3)
    sents = [[f"w{int(x)}" for x in rng.zipf(1.3, size=200) % 300] for _ in range(50)]
    model = gensim.models.Word2Vec(min_count=2, sample=1e-2, negative=5)
    model.build_vocab(sents)
    vocab = build_vocab(sents, min_count=2, sample=1e-2)
    assert vocab.words == model.wv.index_to_key
    np.testing.assert_array_equal(
        vocab.keep, [model.wv.get_vecattr(w, "sample_int") for w in vocab.words])
    np.testing.assert_array_equal(vocab.cum_table, model.cum_table)


def test_noise_distribution_is_unigram_to_three_quarters():
    table = noise_table(np.array([81, 16, 1]), 0.75)  # weights 27, 8, 1 of 36
    np.testing.assert_allclose(np.diff(table, prepend=0) / table[-1], [27 / 36, 8 / 36, 1 / 36],
                               atol=1e-9)


@pytest.mark.parametrize("vocab", [3, 300_000])  # one bucket per x; up to 17 words a bucket
def test_fast_noise_draw_is_the_reference_search(vocab):
    """The kernel searches only the bucket of its draw x; the word must be the one that a
    search of the whole table (the reference's searchsorted) finds, edges included."""
    from nanonlp.word2vec.fast import _noise

    rng = np.random.default_rng(8)
    counts = 5 + 10_000_000 // np.arange(1, vocab + 1)  # Zipf's law, min_count 5
    table = noise_table(counts) if vocab > 3 else np.array([6, 8, 16])
    buckets, shift = noise_buckets(table)
    top = int(table[-1])
    edges = (np.arange(len(buckets) - 1, dtype=np.int64) << shift)[:5000]
    xs = np.concatenate([rng.integers(0, top, 20_000), table[:-1], table[:-1] - 1, edges,
                         [0, top - 1]])
    xs = xs[(xs >= 0) & (xs < top)]
    got = [_noise(table, buckets, shift, np.uint64(int(x) << 16)) for x in xs]
    np.testing.assert_array_equal(got, np.searchsorted(table, xs, side="right"))


def _zipf_corpus(seed: int, n: int = 30, length: int = 40, vocab: int = 50):
    rng = np.random.default_rng(seed)
    return [[f"w{int(x)}" for x in rng.zipf(1.4, size=length) % vocab] for _ in range(n)]


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_fast_kernel_makes_the_reference_updates(model):
    """Same seed, one worker: the numba kernel and the numpy loop draw the same windows,
    noise words and subsampling, and make the same updates (up to float32 rounding)."""
    sents = _zipf_corpus(4)
    out = {}
    for kernel in ("reference", "fast"):
        cfg = Word2VecConfig(model=model, dim=8, window=3, negative=3, min_count=1, epochs=2,
                             workers=1, kernel=kernel, sample=0.05, report_every=400)
        trainer = Word2Vec(cfg)
        losses = [p.loss for p in trainer.train(sents)]
        out[kernel] = trainer.W_in, trainer.W_out, losses
    ref, fast = out["reference"], out["fast"]
    assert np.abs(ref[0]).max() > 0.1  # the vectors did move away from their tiny init
    np.testing.assert_allclose(fast[0], ref[0], atol=2e-6)
    np.testing.assert_allclose(fast[1], ref[1], atol=2e-6)
    np.testing.assert_allclose(fast[2], ref[2], rtol=1e-5)
    assert len(ref[2]) >= 4


def _planted_groups(seed: int, groups: int = 6, size: int = 5, sentences: int = 600):
    """Sentences of 8 words, each drawn from one group only: members share every context."""
    rng = np.random.default_rng(seed)
    names = [[f"g{g}w{i}" for i in range(size)] for g in range(groups)]
    sents = []
    for _ in range(sentences):
        g = rng.integers(groups)
        sents.append([names[g][i] for i in rng.integers(size, size=8)])
    return names, sents


@pytest.mark.parametrize("model,workers", [("sg", 1), ("cbow", 2)])
def test_planted_groups_are_each_others_nearest_neighbours(model, workers):
    names, sents = _planted_groups(5)
    cfg = Word2VecConfig(model=model, dim=16, window=3, negative=5, min_count=1, epochs=5,
                         sample=0, workers=workers, seed=7,
                         alpha=0.025 if model == "sg" else 0.05)
    wv = fit(sents, cfg)
    hits = total = 0
    for group in names:
        for w in group:
            top = [x for x, _ in wv.most_similar(w, topn=len(group) - 1)]
            hits += sum(x in group for x in top)
            total += len(top)
    # A random ranking puts 4 of 29 other words in a group's top 4 (14%); the groups share
    # no context at all, so a working trainer separates them almost perfectly. 95% leaves
    # room for one or two near-ties among 120 neighbour slots.
    assert hits / total >= 0.95


def test_training_loss_falls_with_two_workers():
    names, sents = _planted_groups(6, sentences=400)
    cfg = Word2VecConfig(dim=16, window=3, min_count=1, epochs=4, sample=0, workers=2,
                         report_every=800)
    losses = [p.loss for p in Word2Vec(cfg).train(sents)]
    assert losses[-1] < 0.8 * losses[0]


def test_empty_corpus_is_a_clear_error():
    with pytest.raises(DataError, match="the corpus is empty"):
        fit([], Word2VecConfig(min_count=1))
    with pytest.raises(DataError, match="the corpus is empty"):
        fit(Corpus.from_sentences([[], []]), Word2VecConfig(min_count=1))


def test_min_count_leaving_no_words_names_the_count():
    sents = [["a", "b", "a"], ["c"]]
    with pytest.raises(DataError, match=r"min_count=5 leaves no words: the most frequent word "
                                        r"occurs 2 time\(s\) in 4 tokens"):
        fit(sents, Word2VecConfig(min_count=5))


def test_one_shot_iterator_is_refused():
    with pytest.raises(DataError, match="re-iterable"):
        fit(iter([["a", "b"]]), Word2VecConfig(min_count=1))


@pytest.mark.parametrize("field,value,message", [
    ("model", "skipgram", "model must be 'sg' or 'cbow', got 'skipgram'"),
    ("dim", 0, "dim must be a positive integer, got 0"),
    ("sample", 1.5, r"sample must be in \[0, 1\), got 1.5"),
    ("min_alpha", 0.5, r"min_alpha must be in \[0, alpha=0.025\], got 0.5"),
])
def test_bad_config_values_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        Word2VecConfig(**{field: value})


def test_corpus_from_files_reads_lines_and_one_line_text8_style(tmp_path):
    import gzip

    from nanonlp.word2vec import tokenize

    (tmp_path / "a.txt").write_text("The Cat sat.\n\nOn @,@ the mat\n")
    with gzip.open(tmp_path / "b.txt.gz", "wt") as f:
        f.write(" anarchism originated as a term" * 3)
    corpus = Corpus.from_files([tmp_path / "a.txt", tmp_path / "b.txt.gz"])
    sents = list(corpus)
    assert sents[:2] == [["the", "cat", "sat"], ["on", "the", "mat"]]
    # a file without newlines is cut at spaces into chunks: no word is split
    assert [w for s in sents[2:] for w in s] == ["anarchism", "originated", "as", "a",
                                                  "term"] * 3
    assert list(corpus) == sents  # re-iterable
    assert tokenize("Don't stop", how="split", lowercase=False) == ["Don't", "stop"]
    with pytest.raises(DataError, match=r"missing\.txt: no such file"):
        Corpus.from_files([tmp_path / "missing.txt"])


def test_gensim_backend_gives_the_same_vocabulary_and_result_type():
    pytest.importorskip("gensim")
    sents = _zipf_corpus(8, n=40)
    cfg = dict(dim=8, min_count=2, epochs=1, workers=1)
    ours = fit(sents, Word2VecConfig(**cfg))
    theirs = fit(sents, Word2VecConfig(backend="gensim", **cfg))
    assert type(ours) is type(theirs)
    assert ours.words == theirs.words  # same counts, same tie order
    np.testing.assert_array_equal(ours.counts, theirs.counts)


def test_initial_vectors_span_gensims_range():
    """Input vectors start uniform in [-1/D, 1/D) as gensim 4's (the C tool uses half that
    range, which measurably weakened CBOW); output vectors start at zero."""
    dim = 50
    trainer = Word2Vec(Word2VecConfig(dim=dim, min_count=1))
    trainer.build_vocab(_zipf_corpus(1, n=200, vocab=400))
    W = trainer.W_in
    assert W.shape[0] > 300
    assert np.abs(W).max() < 1 / dim
    # with ~20,000 uniform draws the extremes come within 1% of the bounds; the C tool's
    # range would stop at 0.5 / dim
    assert W.max() > 0.99 / dim and W.min() < -0.99 / dim
    assert abs(float(W.mean())) < 0.02 / dim
    assert not trainer.W_out.any()
