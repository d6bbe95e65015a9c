"""nanonlp: deep learning for NLP, built from scratch and measured against the real thing.

One package per capability (``bpe``, ``word2vec``, ``ner``, ``seq2seq``, ``gpt``, ``bert``),
named data sets in ``datasets``, and one command-line tool (``nanonlp``, see ``cli``).
Importing ``nanonlp`` is cheap: torch, spaCy and gensim load only with the part that needs them.
"""

from nanonlp.errors import NanonlpError

__version__ = "0.1.0"
__all__ = ["NanonlpError", "__version__"]
