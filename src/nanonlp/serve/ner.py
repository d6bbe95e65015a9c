"""NER endpoint: typed text in, its entity spans out (character offsets, label, text), as
:func:`nanonlp.ner.tag.tag` gives them; the page colours them by label, as displaCy does.

A spaCy pipeline grows its string store as it meets new words, so it is not shared state a
request may touch while another does: each pipeline serves one request at a time, under the
lock it was loaded with.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from nanonlp.serve.api import endpoint, model_of, run_limited, text_field
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Loaded, Models


def entities(entry: Loaded, text: str) -> dict[str, Any]:
    """``{"text", "entities": [{"start", "end", "label", "text"}, ...]}`` for one text."""
    from nanonlp.ner.tag import tag

    with entry.lock:
        (_, ents), = tag(entry.obj, [text])
    return {"text": text, "entities": [{"start": s, "end": e, "label": lab, "text": t}
                                       for s, e, lab, t in ents]}


def routes(models: Models, config: ServeConfig) -> list[Route]:
    @endpoint(config)
    async def api_tag(request, body):
        entry = model_of(models, "ner", body)
        text = text_field(body, "text", config.max_text_chars)
        out = await run_limited(lambda: entities(entry, text), config.request_timeout_s)
        return {"model": entry.name, "labels": entry.info.get("labels", []), **out}

    return [Route("/api/ner/tag", api_tag, methods=["POST"])]
