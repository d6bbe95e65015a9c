"""Translation endpoint: the beam's hypotheses with their scores, best first, each with its
attention over the source (the page draws the chosen one as a heatmap).

The hypotheses are those of :meth:`~nanonlp.seq2seq.translate.Translator.translate_nbest`;
the first is what ``Translator.translate`` (and ``nanonlp translate run``) answers with the
same beam. ``beam`` 1 is greedy search: one hypothesis.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from nanonlp.serve.api import endpoint, float_field, int_field, model_of, run_limited, text_field
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models


def hypotheses(tr, text: str, beam: int, alpha: float) -> dict[str, Any]:
    """``{"hypotheses": [...]}``: text, log probability, length-normalised score, the source
    and target pieces, and the attention (one row per target piece)."""
    found = tr.translate([text], beam=1) if beam == 1 else tr.translate_nbest(text, beam, alpha)
    return {"hypotheses": [
        {"text": t.text, "score": round(t.score, 5),
         "norm_score": None if t.norm_score is None else round(t.norm_score, 5),
         "source_pieces": t.source_pieces, "target_pieces": t.target_pieces,
         "attention": [[round(float(v), 4) for v in row] for row in t.attention]}
        for t in found]}


def routes(models: Models, config: ServeConfig) -> list[Route]:
    @endpoint(config)
    async def api_translate(request, body):
        entry = model_of(models, "translate", body)
        text = text_field(body, "text", config.max_text_chars)
        beam = int_field(body, "beam", 5, 1, config.max_beam)
        alpha = float_field(body, "alpha", 1.0, 0.0, 5.0)
        out = await run_limited(lambda: hypotheses(entry.obj, text, beam, alpha),
                                config.request_timeout_s)
        return {"model": entry.name, **out}

    return [Route("/api/translate", api_translate, methods=["POST"])]
