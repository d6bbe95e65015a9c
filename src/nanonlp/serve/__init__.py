"""The playground: ``nanonlp serve``, a local web app over your own models, one page per part.

:mod:`~nanonlp.serve.models` (find and load the models: a runs folder, or paths per kind),
:mod:`~nanonlp.serve.app` (the Starlette app: pages, static files, the guard),
:mod:`~nanonlp.serve.api` (capped JSON bodies, field checks, time limits, JSON errors),
one module of endpoints per part (:mod:`~nanonlp.serve.bpe`, :mod:`~nanonlp.serve.word2vec`,
:mod:`~nanonlp.serve.ner`, :mod:`~nanonlp.serve.translate`, :mod:`~nanonlp.serve.gpt`,
:mod:`~nanonlp.serve.chat`, :mod:`~nanonlp.serve.bert`, :mod:`~nanonlp.serve.search` over the
indexes and sentence encoders of :mod:`~nanonlp.serve.encoders`), and ``static/``: plain HTML,
JS and CSS, no build step.

Every answer is the library's own (``Tokenizer.encode``, ``WordVectors.most_similar``,
``ner.tag``, ``Translator``, ``gpt.sample.generate``, ``gpt.chat.Chat``,
``bert.predict.fill_mask``, ``bert.embed.nearest``); the server adds only the views of them
that the pages draw.

    >>> from starlette.testclient import TestClient
    >>> from nanonlp.bpe import CharTokenizer
    >>> from nanonlp.serve import Loaded, Models, create_app
    >>> models = Models([Loaded("bpe", "chars", CharTokenizer.train("abc"))])
    >>> client = TestClient(create_app(models), base_url="http://127.0.0.1")
    >>> client.post("/api/bpe/tokenize", json={"text": "cab"}).json()["ids"]
    [2, 0, 1]
    >>> client.post("/api/gpt/generate", json={"prompt": "a"}).json()["status"]
    404
"""

from nanonlp.serve.config import ServeConfig
from nanonlp.serve.loader import load_all
from nanonlp.serve.models import KINDS, Loaded, Models, discover, load

__all__ = ["KINDS", "Loaded", "Models", "ServeConfig", "create_app", "discover", "load",
           "load_all"]


def __getattr__(name: str):
    # the app needs starlette (the `serve` extra); the config and the model registry do not,
    # so `nanonlp --help` and the CLI's flags work without it
    if name == "create_app":
        from nanonlp.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'nanonlp.serve' has no attribute {name!r}")
