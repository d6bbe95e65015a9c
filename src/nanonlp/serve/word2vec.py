"""Word-vector endpoints: nearest neighbours, analogies, and a 2-D projection of chosen words.

Neighbours are :meth:`~nanonlp.word2vec.vectors.WordVectors.most_similar` (positive and
negative words: 3CosAdd), analogies :meth:`~nanonlp.word2vec.vectors.WordVectors.analogy`
(3CosAdd or 3CosMul), and the projection is :func:`nanonlp.word2vec.plot.pca_2d` of the
words' unit vectors, the numbers ``word2vec plot`` draws. A word the vectors lack is a 400
whose message names it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.routing import Route

from nanonlp.serve.api import (
    ApiError,
    endpoint,
    int_field,
    model_of,
    run_limited,
    text_field,
    words_field,
)
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models
from nanonlp.word2vec.plot import pca_2d

MAX_WORDS = 200  # words one projection may draw
#: words the page starts from when the vectors have them (the tour draws these too)
SHOWCASE = ("king", "queen", "man", "woman", "prince", "princess", "paris", "france", "berlin",
            "germany", "rome", "italy", "london", "england", "one", "two", "three", "four",
            "red", "blue", "green", "war", "army", "soldiers")


def project(wv, words: list[str]) -> dict[str, Any]:
    """``{"points": [{"word", "x", "y"}, ...]}``: PCA of the unit vectors of ``words``."""
    words = list(dict.fromkeys(words))
    if len(words) < 3:
        raise ApiError(400, f"a projection needs at least 3 distinct words, got {len(words)}")
    X = np.stack([wv.unit(w) for w in words])  # (N, D); an unknown word raises, naming it
    xy = pca_2d(X)
    return {"points": [{"word": w, "x": round(float(x), 5), "y": round(float(y), 5)}
                       for w, (x, y) in zip(words, xy, strict=True)]}


def _pairs(pairs) -> list[dict[str, Any]]:
    return [{"word": w, "score": round(s, 5)} for w, s in pairs]


def routes(models: Models, config: ServeConfig) -> list[Route]:
    limit = 100  # characters in one word

    @endpoint(config)
    async def api_similar(request, body):
        entry = model_of(models, "vectors", body)
        pos = words_field(body, "positive", limit, 20)
        neg = words_field(body, "negative", limit, 20)
        if not pos and not neg:
            raise ApiError(400, "give at least one word in 'positive' or 'negative'")
        k = int_field(body, "topn", 10, 1, config.max_top_k)
        out = await run_limited(lambda: entry.obj.most_similar(pos, neg, topn=k),
                                config.request_timeout_s)
        return {"model": entry.name, "results": _pairs(out)}

    @endpoint(config)
    async def api_analogy(request, body):
        entry = model_of(models, "vectors", body)
        a, b, c = (text_field(body, x, limit).strip() for x in ("a", "b", "c"))
        k = int_field(body, "topn", 5, 1, config.max_top_k)
        method = body.get("method", "add")
        if method not in ("add", "mul"):
            raise ApiError(400, f"'method' must be 'add' (3CosAdd) or 'mul' (3CosMul), got "
                                f"{str(method)[:20]!r}")
        out = await run_limited(lambda: entry.obj.analogy(a, b, c, topn=k, method=method),
                                config.request_timeout_s)
        return {"model": entry.name, "results": _pairs(out)}

    @endpoint(config)
    async def api_project(request, body):
        entry = model_of(models, "vectors", body)
        words = words_field(body, "words", limit, MAX_WORDS)
        out = await run_limited(lambda: project(entry.obj, words), config.request_timeout_s)
        return {"model": entry.name, **out}

    @endpoint(config)
    async def api_words(request, body):
        entry = model_of(models, "vectors", body)
        n = int_field(body, "n", 100, 1, MAX_WORDS)
        wv = entry.obj
        return {"model": entry.name, "words": wv.words[:n],
                "showcase": [w for w in SHOWCASE if w in wv]}

    return [Route("/api/vectors/words", api_words, methods=["POST"]),
            Route("/api/vectors/similar", api_similar, methods=["POST"]),
            Route("/api/vectors/analogy", api_analogy, methods=["POST"]),
            Route("/api/vectors/project", api_project, methods=["POST"])]
