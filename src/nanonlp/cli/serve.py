"""``nanonlp serve``: the playground, a local web app over your own models."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import socket
import threading
import webbrowser

from nanonlp.cli.common import Command, say, warn
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.errors import ConfigError, DataError

FLAGS = (  # flag, metavar, what it loads
    ("bpe", "MODEL", "a tokenizer .model file (nanonlp bpe train)"),
    ("vectors", "FILE", "word vectors: .bin, .npz or word2vec text (nanonlp word2vec train)"),
    ("ner", "DIR", "a spaCy pipeline folder or a nanonlp ner train folder"),
    ("translate", "CKPT", "a translation checkpoint folder (nanonlp translate train)"),
    ("gpt", "CKPT", "a GPT checkpoint folder (nanonlp gpt train)"),
    ("bert", "CKPT", "a BERT checkpoint folder: pretrained MLM or fine-tuned classifier"),
    ("index", "[CKPT::]VECS.npy", "a search index (nanonlp bert embed --out VECS.npy, its lines "
     "in VECS.npy.json) for the Search page, with the checkpoint that embedded it: CKPT, else "
     "a --bert or runs-folder checkpoint with the same weights, else the folder its "
     "VECS.npy.json names (another checkpoint is refused, as bert search refuses it)"),
)


def _serve_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.serve.config import ServeConfig  # no starlette needed for the flags

    p.add_argument("runs", nargs="?", metavar="RUNS_DIR",
                   help="serve every model found below this folder (what nanonlp tour and the "
                        "train commands wrote, e.g. runs/)")
    models = p.add_argument_group("models (each flag may be given more than once)")
    for flag, metavar, what in FLAGS:
        models.add_argument(f"--{flag}", action="append", metavar=metavar, help=what)
    p.add_argument("--open", action="store_true", help="open the playground in a web browser")
    add_config_args(p, ServeConfig, skip=("open",))


def _serve(args: argparse.Namespace) -> None:
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"nanonlp serve needs {' and '.join(missing)}: "
                          "pip install 'nanonlp[serve]'")
    import uvicorn

    from nanonlp.serve import ServeConfig, create_app, load_all

    config = config_from_args(args, ServeConfig, open=args.open)
    check_listen(config.host, config.port)  # before the models load, and before uvicorn logs
    # the process is the server's: each request's model calls run on torch_threads threads, as
    # requests run at once (two intra-op threads per call on a busy 2-core machine measured
    # 5-50x slower per generation than one, with other jobs running)
    import torch

    torch.set_num_threads(config.torch_threads)
    paths = {flag: getattr(args, flag) or [] for flag, _, _ in FLAGS}
    models = load_all(paths, args.runs, warn=warn)
    if not len(models):
        raise DataError("no models to serve: give a runs folder that holds some (e.g. runs/ "
                        "after make tour) or --bpe/--vectors/--ner/--translate/--gpt/--bert/"
                        "--index")
    for m in models:
        say(f"  {m.kind:<10} {m.name}")
    if not config.loopback:
        warn(f"listening on {config.host}: other machines can reach the playground")
    server = uvicorn.Server(uvicorn.Config(create_app(models, config), host=config.host,
                                           port=config.port, log_level="info",
                                           timeout_graceful_shutdown=2))
    _log_like_uvicorn(logging.getLogger("nanonlp.serve"))
    _announce(server, config)
    server.run()


def check_listen(host: str, port: int) -> None:
    """Refuse, in one line, a host that does not resolve or a port that is taken: bind a
    socket as uvicorn will (IPv6 for a host with a colon, SO_REUSEADDR) and let it go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except socket.gaierror as e:
            raise ConfigError(f"--host {host}: does not resolve ({e.strerror})") from None
        except OSError as e:
            where = f"[{host}]" if ":" in host else host
            raise ConfigError(f"{where}:{port}: cannot listen ({e.strerror}); give another "
                              "--port or --host") from None


def _log_like_uvicorn(log: logging.Logger) -> None:
    """The server's refusals and errors on stderr, in uvicorn's format beside its own lines."""
    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _announce(server, config) -> None:
    """Print the address once uvicorn is listening (port 0 is known only then); --open."""
    def wait():
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else config.port
        host = f"[{config.host}]" if ":" in config.host else config.host
        url = f"http://{host}:{port}/"
        say(f"nanonlp playground: {url}  (Ctrl-C stops it)")
        if config.open:
            webbrowser.open(url)

    threading.Thread(target=wait, daemon=True).start()


COMMANDS: list[Command] = [
    Command(("serve",), "the playground: a local web app over your own models, a page per part",
            _serve, _serve_args,
            "Serves one page per part (tokenizer, word vectors, NER, translation, GPT, BERT, "
            "search) over the models found in RUNS_DIR (search indexes: a VECS.npy with its "
            "VECS.npy.json) and those named by the flags, on a Starlette "
            "app under uvicorn. It listens on 127.0.0.1 unless --host says otherwise; requests "
            "never name files; bodies, texts and generation lengths are capped and every "
            "request has a time limit. GET /api/health lists the loaded models."),
]
