"""Word vectors: word2vec (skip-gram and CBOW with negative sampling) from scratch, and gensim.

>>> from nanonlp.word2vec import Corpus, Word2VecConfig, evaluate, fit
>>> corpus = Corpus.from_datasets(["lee_corpus"])    # 300 news stories; ships inside gensim
>>> wv = fit(corpus, Word2VecConfig(epochs=2))
>>> len(wv), wv.dim                                  # the words seen at least min_count=5 times
(1799, 100)
>>> neighbours = wv.most_similar("police", topn=3)   # [(word, cosine), ...], best first
>>> len(neighbours), "police" in dict(neighbours)
(3, False)
>>> report = evaluate(wv)   # Google analogies; WS-353, SimLex-999, MEN, RW where available
>>> report["similarity"]["wordsim353"]["pairs"]      # the pairs with both words in the vocabulary
59

A corpus this small gives poor vectors (``nanonlp word2vec train --data text8/head`` is the
real run); the neighbours and scores vary with the threads' timing, so they are not shown.

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
