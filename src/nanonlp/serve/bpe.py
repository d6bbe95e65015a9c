"""Tokenizer endpoints: text -> tokens (ids, the bytes of each, special tokens marked), and
ids -> text, for every tokenizer the server holds
(see :meth:`~nanonlp.serve.models.Models.tokenizers`).

The ids are ``Tokenizer.encode``'s (``CharTokenizer.encode``'s for a character vocabulary);
the bytes of a token are ``decode_bytes([id])``, so a token that ends inside a UTF-8 character
shows its bytes, and its text carries U+FFFD, as tiktokenizer shows them.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from nanonlp.serve.api import ApiError, endpoint, run_limited, text_field
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models, NotLoaded


def token_bytes(tok, i: int) -> bytes:
    """The bytes token ``i`` stands for (a special token: its text)."""
    if hasattr(tok, "decode_bytes"):
        return tok.decode_bytes([i])
    return tok.decode([i]).encode("utf-8")


def describe(tok, ids: list[int]) -> list[dict[str, Any]]:
    """One record per id: the id, its text, its bytes in hex, whether it is special.

    >>> from nanonlp.bpe import CharTokenizer
    >>> describe(CharTokenizer.train("hé"), [0, 1])
    [{'id': 0, 'text': 'h', 'bytes': '68', 'special': False}, {'id': 1, 'text': 'é', \
'bytes': 'c3 a9', 'special': False}]
    """
    special = getattr(tok, "special_ids", {})
    out = []
    for i in ids:
        b = token_bytes(tok, i)
        out.append({"id": i, "text": b.decode("utf-8", errors="replace"),
                    "bytes": b.hex(" "), "special": i in special})
    return out


def tokenize(tok, text: str, allow_special: bool = True) -> dict[str, Any]:
    """What the tokenizer page shows for ``text``: ``Tokenizer.encode``'s ids, described."""
    ids = tok.encode(text, allowed_special="all" if allow_special else ())
    n_bytes = len(text.encode("utf-8"))
    return {"ids": ids, "tokens": describe(tok, ids), "n_chars": len(text),
            "n_bytes": n_bytes, "n_tokens": len(ids),
            "bytes_per_token": round(n_bytes / len(ids), 3) if ids else None}


def _tokenizer(models: Models, body: dict):
    name = body.get("model")
    held = models.tokenizers()
    if not held:
        raise NotLoaded("no tokenizer is loaded (start the server with --bpe FILE, or a GPT or "
                        "BERT checkpoint, which carries its tokenizer)")
    if name is None:
        return next(iter(held.items()))
    if not isinstance(name, str) or name not in held:
        raise NotLoaded(f"no tokenizer named {name!r}; loaded: {', '.join(held)}")
    return name, held[name]


def routes(models: Models, config: ServeConfig) -> list[Route]:
    @endpoint(config)
    async def api_tokenize(request, body):
        name, tok = _tokenizer(models, body)
        text = text_field(body, "text", config.max_text_chars, allow_empty=True)
        allow = body.get("allow_special", True)
        if not isinstance(allow, bool):
            raise ApiError(400, "'allow_special' must be true or false")
        out = await run_limited(lambda: tokenize(tok, text, allow), config.request_timeout_s)
        return {"model": name, **out}

    @endpoint(config)
    async def api_decode(request, body):
        name, tok = _tokenizer(models, body)
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                for i in ids):
            raise ApiError(400, "'ids' must be a list of integers")
        if len(ids) > config.max_text_chars:
            raise ApiError(413, f"{len(ids):,} ids, over the limit of {config.max_text_chars:,}")
        text = await run_limited(lambda: tok.decode(ids), config.request_timeout_s)
        return {"model": name, "text": text, "tokens": describe(tok, ids)}

    @endpoint(config, json_body=False)
    async def api_tokenizers(request, body):
        return {"tokenizers": [{"name": n, "vocab_size": t.vocab_size,
                                "special": sorted(getattr(t, "special_tokens", {}))}
                               for n, t in models.tokenizers().items()]}

    return [Route("/api/bpe/tokenize", api_tokenize, methods=["POST"]),
            Route("/api/bpe/decode", api_decode, methods=["POST"]),
            Route("/api/bpe/tokenizers", api_tokenizers, methods=["GET"])]
