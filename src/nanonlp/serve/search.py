"""Search endpoint: the nearest lines of an index to a query, by cosine.

``POST /api/search {"model", "query", "top_k"}``: ``model`` names an index the server holds
(the first one when absent); the answer is ``nanonlp bert search``'s for the same query (see
:mod:`nanonlp.serve.encoders`): each result's 1-based line number, its text and its cosine.
"""

from __future__ import annotations

from starlette.routing import Route

from nanonlp.serve.api import endpoint, int_field, model_of, run_limited, text_field
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models


def routes(models: Models, config: ServeConfig) -> list[Route]:
    @endpoint(config)
    async def api_search(request, body):
        entry = model_of(models, "index", body)
        query = text_field(body, "query", config.max_text_chars)
        k = int_field(body, "top_k", min(10, config.max_top_k), 1, config.max_top_k)
        hits = await run_limited(lambda: entry.obj.search(query, k), config.request_timeout_s)
        return {"model": entry.name, "checkpoint": entry.info["checkpoint"],
                "results": [{"line": i + 1, "text": t, "cosine": round(c, 5)}
                            for c, i, t in hits]}

    return [Route("/api/search", api_search, methods=["POST"])]
