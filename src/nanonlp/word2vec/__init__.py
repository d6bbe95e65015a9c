"""Word vectors: word2vec (skip-gram and CBOW with negative sampling) from scratch, and gensim.

>>> from nanonlp.word2vec import Corpus, Word2VecConfig, fit, evaluate
>>> wv = fit(Corpus.from_datasets(["lee_corpus"]), Word2VecConfig(epochs=2))  # doctest: +SKIP
>>> wv.most_similar("police", topn=3)                                         # doctest: +SKIP
>>> evaluate(wv)["similarity"]["wordsim353"]["spearman"]                       # doctest: +SKIP

Modules: ``config`` (the one config), ``vocab`` (counts, subsampling, noise table),
``reference`` (the numpy updates that read like the paper), ``fast`` (the numba kernel making
the same updates on all cores), ``train`` (schedule and epochs; yields ``progress`` records),
``gensim_backend`` (the same config through gensim), ``vectors`` (``WordVectors``: queries and
files), ``evaluate`` (analogies and similarity, counted as gensim counts), ``plot`` (PCA/t-SNE),
``corpus`` (token lists from data sets and files), ``tour`` (the ``nanonlp tour`` step).
"""

from nanonlp.word2vec.config import Word2VecConfig
from nanonlp.word2vec.corpus import Corpus, tokenize
from nanonlp.word2vec.evaluate import evaluate, evaluate_analogies, evaluate_similarity, spearman
from nanonlp.word2vec.train import Progress, Word2Vec, fit, make_trainer
from nanonlp.word2vec.vectors import UnknownWordError, WordVectors
from nanonlp.word2vec.vocab import Vocab, build_vocab

__all__ = [
    "Corpus", "Progress", "UnknownWordError", "Vocab", "Word2Vec", "Word2VecConfig",
    "WordVectors", "build_vocab", "evaluate", "evaluate_analogies", "evaluate_similarity",
    "fit", "make_trainer", "spearman", "tokenize",
]
