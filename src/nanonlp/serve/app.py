"""The playground's ASGI app: one page per part, the JSON endpoints behind them, and the guard
every request passes.

:func:`create_app` takes the loaded :class:`~nanonlp.serve.models.Models` and a
:class:`~nanonlp.serve.config.ServeConfig` and returns a Starlette app (uvicorn serves it; the
tests drive it through Starlette's ``TestClient``). Safety, in the order a request meets it:

* a server on loopback answers only requests whose ``Host`` is loopback too (a web page
  elsewhere cannot reach it through DNS rebinding);
* pages and their scripts are the files shipped in ``static/``, read once at start and served
  from memory by name: no request is ever mapped onto the filesystem, so ``..`` in any
  encoding finds nothing (404);
* request bodies, texts, ``max_new_tokens``, ``top_k`` and beams are capped, each model call
  has a time limit, and generation streams are counted (see :mod:`nanonlp.serve.api`);
* every error is ``{"error", "status"}`` JSON with a 4xx/5xx status, logged on the server.
"""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nanonlp import __version__
from nanonlp.serve import bert, bpe, chat, gpt, ner, search, translate, word2vec
from nanonlp.serve.api import Streams, endpoint, error_response, log, log_error
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Models

#: page path -> its HTML file in static/
PAGES = {"/": "index.html", "/bpe": "bpe.html", "/vectors": "vectors.html", "/ner": "ner.html",
         "/translate": "translate.html", "/gpt": "gpt.html", "/chat": "chat.html",
         "/bert": "bert.html", "/search": "search.html"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png",
                 ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
HEADERS = [  # sent with every response
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every file shipped in the package's ``static/`` folder: name -> (bytes, content type)."""
    out = {}
    for item in resources.files("nanonlp.serve").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
        if item.is_file() and suffix in CONTENT_TYPES:
            out[item.name] = (item.read_bytes(), CONTENT_TYPES[suffix])
    return out


class Guard:
    """ASGI middleware: refuse a foreign ``Host`` on a loopback server; add the security
    headers to every response."""

    def __init__(self, app, config: ServeConfig, extra_hosts: tuple[str, ...] = ()):
        self.app = app
        self.hosts = (LOOPBACK_HOSTS | set(extra_hosts)) if config.loopback else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.hosts is not None:
            host = _host(scope)
            if host not in self.hosts:
                log.warning(f"{scope.get('method')} {scope.get('path')} -> 400: refused Host "
                            f"{host!r}")
                response = error_response(400, f"Host {host!r} is not this machine: the "
                                               "server listens on loopback only")
                return await response(scope, receive, _with_headers(send))
        return await self.app(scope, receive, _with_headers(send))


def _host(scope) -> str:
    for k, v in scope.get("headers", ()):
        if k == b"host":
            host = v.decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8765
                return host[:host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *HEADERS]}
        await send(message)
    return wrapped


def create_app(models: Models, config: ServeConfig | None = None,
               extra_hosts: tuple[str, ...] = ()) -> Starlette:
    """The playground app over ``models`` (``extra_hosts``: more Host names to accept on a
    loopback server, e.g. ``testserver`` for Starlette's test client)."""
    config = config or ServeConfig()
    files = static_files()

    @endpoint(config, json_body=False)
    async def health(request, body):
        return {"status": "ok", "version": __version__, "models": models.health(),
                "tokenizers": list(models.tokenizers()), "limits": config.limits()}

    async def page(request: Request) -> Response:
        return _file(files, PAGES[request.url.path])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            log_error(request, 404, f"no static file {name!r}")
            return error_response(404, "no such file")
        return _file(files, name)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: "no such page or endpoint", 405: "method not allowed here"}.get(
            exc.status_code, str(exc.detail))
        log_error(request, exc.status_code, message)
        return error_response(exc.status_code, message)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log_error(request, 500, f"{type(exc).__name__}: {exc}", exc)
        return error_response(500, "internal server error (logged on the server)")

    routes = [Route("/api/health", health, methods=["GET"]),
              *[Route(p, page, methods=["GET"]) for p in PAGES],
              Route("/static/{name:path}", static, methods=["GET"])]
    streams = Streams(config.max_streams)  # the GPT and Chat pages' generations, counted once
    for part in (bpe, word2vec, ner, translate, bert, search):
        routes += part.routes(models, config)
    routes += gpt.routes(models, config, streams) + chat.routes(models, config, streams)
    app = Starlette(routes=routes,
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.add_middleware(Guard, config=config, extra_hosts=extra_hosts)
    app.state.models, app.state.config = models, config
    return app


def _file(files: dict[str, tuple[bytes, str]], name: str) -> Response:
    data, kind = files[name]
    return Response(data, media_type=kind, headers={"Cache-Control": "no-cache"})
