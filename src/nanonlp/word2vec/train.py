"""Training word2vec: vocabulary, initial vectors, linear learning-rate decay, epochs.

The trainer yields a :class:`Progress` record every ``report_every`` words; the caller prints,
plots or stops (spaCy's ``train_while_improving`` pattern). ``Word2Vec`` is our backend (numba
kernel or numpy reference, ``config.kernel``); :class:`~nanonlp.word2vec.gensim_backend.
GensimWord2Vec` has the same interface. :func:`fit` runs either one to the end.

Schedule, as in the C tool: the learning rate falls linearly from ``alpha`` to ``min_alpha``
over all epochs, as a function of the in-vocabulary words seen so far; each sentence is trained
at the rate of its first word. Initial input vectors are uniform in [-1/D, 1/D) and output
vectors zero, as in gensim 4 (Mikolov's C tool draws from half that range). The wider range
matters for CBOW: output vectors start at zero, so their first updates are proportional to the
averaged input vectors; over six seeds on the text8 prefix, the C tool's range cost CBOW about
0.02 Spearman on SimLex-999 and WS-353 against gensim, and gensim's range removed the gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from nanonlp.errors import DataError
from nanonlp.word2vec.config import Word2VecConfig
from nanonlp.word2vec.progress import Progress
from nanonlp.word2vec.vectors import WordVectors
from nanonlp.word2vec.vocab import Vocab, build_vocab


@dataclass
class Encoded:
    """A corpus as word ids: sentence ``s`` is ``ids[starts[s]:starts[s + 1]]``."""

    ids: np.ndarray  # (N,) int32, unknown words already dropped
    starts: np.ndarray  # (S + 1,) int64

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)


def encode_corpus(sentences: Iterable[list[str]], vocab: Vocab, max_sentence: int) -> Encoded:
    """Word ids of every sentence, unknown words dropped, long sentences cut into pieces.

    >>> v = build_vocab([["a", "b", "a"]], min_count=1)
    >>> e = encode_corpus([["a", "x", "b"], ["b", "a", "a"]], v, max_sentence=2)
    >>> e.ids.tolist(), e.starts.tolist()
    ([0, 1, 1, 0, 0], [0, 2, 4, 5])
    """
    pieces, starts, n = [], [0], 0
    for sent in sentences:
        ids = vocab.encode(sent)
        for lo in range(0, len(ids), max_sentence):
            piece = ids[lo:lo + max_sentence]
            pieces.append(piece)
            n += len(piece)
            starts.append(n)
    ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    return Encoded(ids.astype(np.int32), np.array(starts, dtype=np.int64))


def sentence_alphas(lengths: np.ndarray, epoch: int, config: Word2VecConfig) -> np.ndarray:
    """Learning rate of each sentence in one epoch (linear decay over all epochs).

    >>> cfg = Word2VecConfig(alpha=1.0, min_alpha=0.0, epochs=2)
    >>> sentence_alphas(np.array([1, 1]), 1, cfg).tolist()    # words 2 and 3 of 4
    [0.5, 0.25]
    """
    total = lengths.sum() * config.epochs
    seen = epoch * lengths.sum() + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    alphas = config.alpha - (config.alpha - config.min_alpha) * seen / max(total, 1)
    return np.maximum(alphas, config.min_alpha)


def shard_bounds(lengths: np.ndarray, lo: int, hi: int, workers: int) -> np.ndarray:
    """Cut sentences lo..hi-1 into ``workers`` contiguous shards of about equal word counts.

    >>> shard_bounds(np.array([5, 5, 5, 5]), 0, 4, 2).tolist()
    [0, 2, 4]
    """
    cum = np.cumsum(lengths[lo:hi])
    targets = cum[-1] * np.arange(1, workers) / workers if len(cum) else np.zeros(workers - 1)
    cuts = lo + np.searchsorted(cum, targets, side="left") + 1
    return np.concatenate([[lo], np.minimum(cuts, hi), [hi]]).astype(np.int64)


class Word2Vec:
    """Our word2vec trainer: ``for p in Word2Vec(cfg).train(corpus): ...`` then ``.vectors()``."""

    def __init__(self, config: Word2VecConfig | None = None):
        self.config = config or Word2VecConfig()
        self.vocab: Vocab | None = None
        self.W_in: np.ndarray | None = None  # (V, D) input (word) vectors: the result
        self.W_out: np.ndarray | None = None  # (V, D) output (context) vectors

    def build_vocab(self, sentences: Iterable[list[str]]) -> Vocab:
        """Count the corpus, then draw the initial vectors and the threads' random states."""
        cfg = self.config
        self.vocab = build_vocab(sentences, cfg.min_count, cfg.max_vocab, cfg.sample,
                                 cfg.ns_exponent)
        rng = np.random.default_rng(cfg.seed)
        V, D = len(self.vocab), cfg.dim
        self.W_in = (2 * rng.random((V, D), dtype=np.float32) - 1) / np.float32(D)
        self.W_out = np.zeros((V, D), dtype=np.float32)
        # one LCG state per worker thread, each seeded from the run's seed
        self._states = rng.integers(1, 2**48, size=cfg.workers, dtype=np.uint64)
        return self.vocab

    def train(self, sentences: Iterable[list[str]]) -> Iterator[Progress]:
        """Build the vocabulary (if not yet built), then train; yields progress records."""
        cfg = self.config
        if iter(sentences) is sentences:
            raise DataError("sentences must be re-iterable (a list or a Corpus), "
                            "not a one-shot iterator: training reads them more than once")
        if self.vocab is None:
            self.build_vocab(sentences)
        corpus = encode_corpus(sentences, self.vocab, cfg.max_sentence)
        lengths = corpus.lengths
        if corpus.ids.size == 0:
            raise DataError("the corpus has no in-vocabulary words to train on")
        total = int(lengths.sum()) * cfg.epochs
        start = time.perf_counter()
        done = 0
        for epoch in range(cfg.epochs):
            alphas = sentence_alphas(lengths, epoch, cfg)
            for lo, hi in _blocks(lengths, cfg.report_every):
                loss, examples = self._train_block(corpus, alphas, lo, hi)
                done += int(lengths[lo:hi].sum())
                elapsed = time.perf_counter() - start
                yield Progress(epoch + 1, done, total, loss / max(examples, 1),
                               done / max(elapsed, 1e-9), float(alphas[hi - 1]), elapsed)

    def _train_block(self, corpus: Encoded, alphas: np.ndarray, lo: int, hi: int):
        cfg, vocab = self.config, self.vocab
        if cfg.kernel == "reference":
            from nanonlp.word2vec.reference import train_sentence

            state, loss, examples = int(self._states[0]), 0.0, 0
            for s in range(lo, hi):
                state, l_s, n_s = train_sentence(
                    self.W_in, self.W_out, corpus.ids[corpus.starts[s]:corpus.starts[s + 1]],
                    float(alphas[s]), sg=cfg.model == "sg", window=cfg.window,
                    negative=cfg.negative, keep=vocab.keep, cum_table=vocab.cum_table,
                    state=state)
                loss += l_s
                examples += n_s
            self._states[0] = state
            return loss, examples
        import numba

        from nanonlp.word2vec.fast import train_block

        numba.set_num_threads(min(cfg.workers, numba.config.NUMBA_NUM_THREADS))
        buckets, shift = vocab.noise_buckets  # computed once per vocabulary
        losses = np.zeros(cfg.workers, dtype=np.float64)
        examples = np.zeros(cfg.workers, dtype=np.int64)
        bounds = shard_bounds(corpus.lengths, lo, hi, cfg.workers)
        train_block(self.W_in, self.W_out, corpus.ids, corpus.starts, bounds,
                    alphas.astype(np.float64), vocab.keep, vocab.cum_table, buckets, shift,
                    cfg.window, cfg.negative, cfg.model == "sg", self._states, losses, examples,
                    int(corpus.lengths[lo:hi].max()))
        return float(losses.sum()), int(examples.sum())

    def vectors(self) -> WordVectors:
        """The trained input vectors as a :class:`WordVectors` (a copy)."""
        if self.vocab is None:
            raise DataError("nothing trained yet: call train() first")
        return WordVectors(self.vocab.words, self.W_in.copy(), self.vocab.counts)


def _blocks(lengths: np.ndarray, words: int) -> Iterator[tuple[int, int]]:
    """Consecutive sentence ranges of about ``words`` words each."""
    lo, acc = 0, 0
    for s, n in enumerate(lengths.tolist()):
        acc += n
        if acc >= words:
            yield lo, s + 1
            lo, acc = s + 1, 0
    if lo < len(lengths):
        yield lo, len(lengths)


def make_trainer(config: Word2VecConfig):
    """The trainer for ``config.backend``: :class:`Word2Vec` or the gensim one."""
    if config.backend == "gensim":
        from nanonlp.word2vec.gensim_backend import GensimWord2Vec

        return GensimWord2Vec(config)
    return Word2Vec(config)


def fit(sentences: Iterable[list[str]], config: Word2VecConfig | None = None,
        on_progress: Callable[[Progress], None] | None = None) -> WordVectors:
    """Train to the end with either backend and return the vectors.

    >>> sentences = [["the", "cat", "sat"], ["the", "cat"], ["the"]] * 10
    >>> wv = fit(sentences, Word2VecConfig(dim=8, min_count=1, epochs=2),
    ...          on_progress=lambda p: print(p.epoch, p.words, p.total_words))
    1 60 120
    2 120 120
    >>> wv.words, wv.vectors.shape
    (['the', 'cat', 'sat'], (3, 8))
    """
    trainer = make_trainer(config or Word2VecConfig())
    for record in trainer.train(sentences):
        if on_progress is not None:
            on_progress(record)
    return trainer.vectors()
