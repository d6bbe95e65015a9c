"""The progress record that both word2vec trainers yield: ours (:mod:`nanonlp.word2vec.train`)
and gensim's (:mod:`nanonlp.word2vec.gensim_backend`).

It lives apart from either trainer so that each can import it without importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """One progress record of a training run."""

    epoch: int  # 1-based epoch this record falls in
    words: int  # in-vocabulary words processed so far, over all epochs
    total_words: int  # epochs * in-vocabulary words in the corpus
    loss: float  # mean loss per example (pair) since the last record; gensim: per word
    words_per_s: float  # words processed per second since training started
    alpha: float  # learning rate at the end of this stretch
    seconds: float  # since training (not vocabulary building) started

    def __str__(self) -> str:
        pct = 100.0 * self.words / max(self.total_words, 1)
        return (f"epoch {self.epoch} {pct:5.1f}%  loss {self.loss:.4f}  alpha {self.alpha:.5f}"
                f"  {self.words_per_s:,.0f} words/s")
