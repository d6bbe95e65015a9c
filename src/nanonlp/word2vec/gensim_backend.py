"""The same config, trained by gensim's ``Word2Vec`` (Řehůřek & Sojka 2010), returning our
:class:`~nanonlp.word2vec.vectors.WordVectors`.

One flag (``backend="gensim"``) switches implementation; everything else (corpus, evaluation,
plots, files) stays ours. gensim trains in its own threads; its per-epoch callback feeds a
queue that :meth:`GensimWord2Vec.train` turns into the same :class:`Progress` records ours
yields (one per epoch: gensim reports no finer). Differences that remain: gensim caps the
vocabulary with ``max_final_vocab`` by raising ``min_count`` (ours keeps the top words), and
truncates sentences over 10,000 words where ours cuts them into pieces.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator

from nanonlp.errors import DataError
from nanonlp.word2vec.config import Word2VecConfig
from nanonlp.word2vec.progress import Progress
from nanonlp.word2vec.vectors import WordVectors


def gensim_kwargs(config: Word2VecConfig) -> dict:
    """Our config as gensim ``Word2Vec`` keyword arguments (negative sampling, no h. softmax).

    >>> gensim_kwargs(Word2VecConfig(model="cbow"))["sg"]
    0
    """
    return dict(vector_size=config.dim, window=config.window, negative=config.negative, hs=0,
                sample=config.sample, min_count=config.min_count,
                max_final_vocab=config.max_vocab, epochs=config.epochs, alpha=config.alpha,
                min_alpha=config.min_alpha, seed=config.seed, workers=config.workers,
                sg=1 if config.model == "sg" else 0, cbow_mean=1,
                ns_exponent=config.ns_exponent, compute_loss=True)


class GensimWord2Vec:
    """gensim behind our trainer interface: ``train(sentences)`` yields, ``vectors()`` returns."""

    def __init__(self, config: Word2VecConfig | None = None):
        self.config = config or Word2VecConfig(backend="gensim")
        self.model = None

    def train(self, sentences: Iterable[list[str]]) -> Iterator[Progress]:
        from gensim.models import Word2Vec
        from gensim.models.callbacks import CallbackAny2Vec

        if iter(sentences) is sentences:
            raise DataError("sentences must be re-iterable (a list or a Corpus), "
                            "not a one-shot iterator: training reads them more than once")
        cfg = self.config
        model = Word2Vec(**gensim_kwargs(cfg))
        model.build_vocab(sentences)
        if not model.wv.index_to_key:
            raise DataError(f"min_count={cfg.min_count} leaves no words (or the corpus is empty)")
        self.model = model
        records: queue.Queue = queue.Queue()
        words = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
        start = time.perf_counter()

        class Report(CallbackAny2Vec):
            def __init__(self):
                self.epoch, self.last_loss = 0, 0.0

            def on_epoch_end(self, m):
                self.epoch += 1
                cum = m.get_latest_training_loss()  # cumulative over this train() call
                loss, self.last_loss = cum - self.last_loss, cum
                elapsed = time.perf_counter() - start
                done = self.epoch * words
                alpha = cfg.alpha - (cfg.alpha - cfg.min_alpha) * self.epoch / cfg.epochs
                records.put(Progress(self.epoch, done, words * cfg.epochs,
                                     loss / max(words, 1), done / max(elapsed, 1e-9),
                                     alpha, elapsed))

        failure: list[BaseException] = []

        def work():
            try:
                model.train(sentences, total_examples=model.corpus_count, epochs=cfg.epochs,
                            callbacks=[Report()], compute_loss=True)
            except BaseException as e:  # re-raised in the caller's thread
                failure.append(e)
            finally:
                records.put(None)

        thread = threading.Thread(target=work, name="gensim-word2vec", daemon=True)
        thread.start()
        while (record := records.get()) is not None:
            yield record
        thread.join()
        if failure:
            raise failure[0]

    def vectors(self) -> WordVectors:
        if self.model is None:
            raise DataError("nothing trained yet: call train() first")
        return WordVectors.from_gensim(self.model.wv)
