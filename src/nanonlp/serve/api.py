"""What every endpoint shares: reading a capped JSON body, checking its fields, running the
model call off the event loop under the time limit, and turning failures into JSON errors.

An endpoint is ``async def handler(request, body) -> dict`` wrapped by :func:`endpoint`; the
wrapper reads the body, maps :class:`ApiError` to its status, a
:class:`~nanonlp.errors.NanonlpError` (the library's one-line user errors) to 400 and
:class:`~nanonlp.serve.models.NotLoaded` to 404, logs every error with the request, and never
lets a traceback reach the client (an unexpected exception is a bare 500).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from nanonlp.errors import NanonlpError
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models, NotLoaded

log = logging.getLogger("nanonlp.serve")


class ApiError(Exception):
    """A request the server refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error_response(status: int, message: str) -> JSONResponse:
    """The one shape of every error: ``{"error": message, "status": status}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status)


def log_error(request: Request, status: int, message: str, exc: BaseException | None = None):
    """One log line per refused or failed request (with the traceback for a 500)."""
    line = f"{request.method} {request.url.path} -> {status}: {message}"
    if exc is not None:
        log.error(line, exc_info=exc)
    else:
        log.warning(line)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object; at most ``limit`` bytes are read (413 past it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad Content-Length header")
        if int(declared) > limit:
            raise ApiError(413, f"request body of {int(declared):,} bytes is over the limit "
                                f"of {limit:,}")
    data = bytearray()
    async for chunk in request.stream():  # a chunked body has no length up front: count it
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"request body is over the limit of {limit:,} bytes")
    if not data:
        return {}
    try:
        body = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ApiError(400, f"request body is not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ApiError(400, f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}"
                       ) from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the JSON body must be an object, got {type(body).__name__}")
    return body


def text_field(body: dict, name: str, limit: int, *, default: str | None = None,
               allow_empty: bool = False) -> str:
    """A string field of at most ``limit`` characters.

    >>> text_field({"text": "hi"}, "text", 10)
    'hi'
    >>> text_field({"text": 3}, "text", 10)
    Traceback (most recent call last):
    nanonlp.serve.api.ApiError: 'text' must be a string, got int
    """
    value = body.get(name, default)
    if value is None:
        raise ApiError(400, f"missing field {name!r}")
    if not isinstance(value, str):
        raise ApiError(400, f"{name!r} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ApiError(413, f"{name!r} is {len(value):,} characters, over the limit of "
                            f"{limit:,}")
    if not value.strip() and not allow_empty:
        raise ApiError(400, f"{name!r} is empty")
    return value


def int_field(body: dict, name: str, default: int | None, lo: int, hi: int,
              *, optional: bool = False) -> int | None:
    """An integer field in ``lo..hi`` (``None`` allowed when ``optional``).

    >>> int_field({"k": 3}, "k", 5, 1, 10), int_field({}, "k", 5, 1, 10)
    (3, 5)
    >>> int_field({"k": 11}, "k", 5, 1, 10)
    Traceback (most recent call last):
    nanonlp.serve.api.ApiError: 'k' must be in 1..10, got 11
    """
    value = body.get(name, default)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name!r} must be an integer, got {json.dumps(value)[:40]}")
    if not lo <= value <= hi:
        raise ApiError(400, f"{name!r} must be in {lo}..{hi}, got {value}")
    return value


def float_field(body: dict, name: str, default: float | None, lo: float, hi: float,
                *, optional: bool = False, open_low: bool = False) -> float | None:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``open_low``).

    >>> float_field({"t": 0.5}, "t", 1.0, 0.0, 2.0)
    0.5
    >>> float_field({"t": 0}, "t", 1.0, 0.0, 1.0, open_low=True)
    Traceback (most recent call last):
    nanonlp.serve.api.ApiError: 't' must be in (0.0, 1.0], got 0
    """
    value = body.get(name, default)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value):
        raise ApiError(400, f"{name!r} must be a number, got {json.dumps(value)[:40]}")
    if value > hi or value < lo or (open_low and value == lo):
        bounds = f"({lo}, {hi}]" if open_low else f"{lo}..{hi}"
        raise ApiError(400, f"{name!r} must be in {bounds}, got {value}")
    return float(value)


def words_field(body: dict, name: str, limit: int, max_words: int) -> list[str]:
    """A list of words, given as a JSON list or a comma/space-separated string.

    >>> words_field({"w": "king, queen man"}, "w", 100, 5)
    ['king', 'queen', 'man']
    """
    value = body.get(name, [])
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ApiError(400, f"{name!r} must be a list of words or a string")
    value = [w.strip() for w in value if w.strip()]
    if len(value) > max_words:
        raise ApiError(413, f"{name!r} holds {len(value)} words, over the limit of {max_words}")
    if any(len(w) > limit for w in value):
        raise ApiError(413, f"a word in {name!r} is over {limit} characters")
    return value


async def run_limited(fn: Callable[[], Any], timeout_s: float) -> Any:
    """Run the blocking ``fn`` in a worker thread; past ``timeout_s`` the request gets a 503
    (the thread cannot be killed: inputs are capped so that it finishes soon after)."""
    try:
        with anyio.fail_after(timeout_s):
            return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
    except TimeoutError:
        raise ApiError(503, f"the request took longer than its limit of {timeout_s:g} s"
                       ) from None


Handler = Callable[[Request, dict[str, Any]], Awaitable[Any]]


def endpoint(config: ServeConfig, *, json_body: bool = True
             ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap ``handler(request, body)``: read the body, answer JSON, map errors to statuses."""
    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                body = await read_json(request, config.max_body_bytes) if json_body else {}
                result = await handler(request, body)
            except ApiError as e:
                return _refused(request, e.status, e.message)
            except NotLoaded as e:
                return _refused(request, 404, str(e))
            except NanonlpError as e:  # the library's user errors: bad text, unknown word
                return _refused(request, 400, str(e))
            except Exception as e:  # a bug: logged in full, the client learns nothing of it
                log_error(request, 500, f"{type(e).__name__}: {e}", e)
                return error_response(500, "internal server error (logged on the server)")
            return result if isinstance(result, Response) else JSONResponse(result)
        return run
    return wrap


def sse(record: dict[str, Any]) -> str:
    """One server-sent event: ``event: NAME`` and the record as JSON data.

    >>> sse({"event": "done", "n_tokens": 3})
    'event: done\\ndata: {"n_tokens": 3}\\n\\n'
    """
    record = dict(record)
    name = record.pop("event")
    return f"event: {name}\ndata: {json.dumps(record, ensure_ascii=False)}\n\n"


def _refused(request: Request, status: int, message: str) -> JSONResponse:
    log_error(request, status, message)
    return error_response(status, message)


def model_of(models: Models, kind: str, body: dict) -> Any:
    """The model the body's ``model`` field names (the first of its kind when absent)."""
    name = body.get("model")
    if name is not None and not isinstance(name, str):
        raise ApiError(400, f"'model' must be a string, got {type(name).__name__}")
    return models.get(kind, name)


class Streams:
    """The generation streams a server runs at once (the GPT and Chat pages draw on one
    count): :meth:`check` refuses one past ``limit`` (503) before its status is sent, and
    :meth:`response` counts a stream while it runs, in the worker threads that run it."""

    def __init__(self, limit: int):
        self.limit, self.open = limit, 0
        self.lock = threading.Lock()

    def check(self) -> None:
        if self.open >= self.limit:
            raise ApiError(503, f"{self.open} generations are running, the most this server "
                                "runs at once; try again shortly")

    def response(self, path: str, first: dict[str, Any],
                 records: Iterator[dict[str, Any]]) -> StreamingResponse:
        """Server-sent events of ``first``, then of each record (an error inside the stream,
        once the status is sent, is an ``error`` event, logged on the server)."""
        def body():  # a plain iterator: Starlette runs each step in a worker thread
            with self.lock:
                full = self.open >= self.limit  # others started since the check
                self.open += not full
            if full:
                yield sse({"event": "error", "error": "too many generations at once"})
                return
            try:
                yield sse(first)
                for record in records:
                    yield sse(record)
            except Exception as e:
                log.error(f"POST {path}: stream failed: {e}", exc_info=e)
                yield sse({"event": "error", "error": "generation failed (logged on the server)"})
            finally:
                with self.lock:
                    self.open -= 1

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
