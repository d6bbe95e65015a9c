"""The playground on a real socket (uvicorn on 127.0.0.1): concurrent streams that share no
state, URLs no client library would normalise, the stream cap, and `nanonlp serve` itself."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import torch
from serve_models import build, parse_sse, running

from nanonlp.gpt.sample import generate, stop_ids_for
from nanonlp.serve import ServeConfig, create_app, load_all

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    build(root, ner=False)
    return root


@pytest.fixture(scope="module")
def models(runs):
    return load_all({}, runs)


def post(url: str, path: str, body: dict, timeout: float = 60) -> tuple[int, str]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read().decode("utf-8")
    conn.close()
    return r.status, text


def raw(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client normalises the path) and read the whole answer."""
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_concurrent_streams_equal_sequential_generation(models):
    entry = models.get("gpt", "gpt/best")
    tok = entry.tokenizer
    seeds = list(range(8))
    prompt_ids = tok.encode("To be", allowed_special="all")
    want = {s: list(generate(entry.obj, prompt_ids, 48, temperature=1.0, top_k=None,
                             generator=torch.Generator().manual_seed(s),
                             stop_ids=stop_ids_for(tok, "<|endoftext|>"))) for s in seeds}
    got, errors = {}, []
    with running(create_app(models, ServeConfig(max_new_tokens=48))) as url:
        def one(seed):
            try:
                status, text = post(url, "/api/gpt/generate", {
                    "model": "gpt/best", "prompt": "To be", "max_new_tokens": 48,
                    "temperature": 1.0, "top_k": None, "seed": seed})
                assert status == 200, text
                got[seed] = [d["id"] for e, d in parse_sse(text) if e == "token"]
                status, text = post(url, "/api/bpe/tokenize", {"text": f"seed {seed}"})
                assert status == 200
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)

        threads = [threading.Thread(target=one, args=(s,)) for s in seeds]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, errors
    assert got == want  # no cache or generator state leaked between the streams


def test_urls_that_no_client_would_send(models):
    with running(create_app(models)) as url:
        for path in ("/static/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
                     "/static/%2e%2e/%2e%2e/etc/passwd", "/static//etc/passwd",
                     "/static/..\\..\\etc\\passwd", "/../../etc/passwd"):
            answer = raw(url, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Connection: close\r\n\r\n".encode())
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] in (b"400", b"404"), (path, head)
            if head.split(b" ")[1] == b"404":
                assert json.loads(body)["status"] == 404
            assert b"root:" not in body
        # a body that claims to be bigger than the cap is refused before it is read
        answer = raw(url, b"POST /api/bpe/tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 999999999\r\n"
                          b"Connection: close\r\n\r\n{")
        assert answer.startswith(b"HTTP/1.1 413")


def test_the_stream_cap_and_a_client_that_leaves(models, monkeypatch):
    import nanonlp.serve.gpt as serve_gpt

    real = serve_gpt.token_event

    def slow(*args):
        time.sleep(0.05)
        return real(*args)

    monkeypatch.setattr(serve_gpt, "token_event", slow)
    body = {"prompt": "To be", "max_new_tokens": 60, "temperature": 0}
    with running(create_app(models, ServeConfig(max_streams=1))) as url:
        u = urlsplit(url)
        first = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        first.request("POST", "/api/gpt/generate", json.dumps(body))
        r = first.getresponse()
        assert r.status == 200 and r.read1(100).startswith(b"event: prompt")
        status, text = post(url, "/api/gpt/generate", body)
        assert status == 503 and "the most this server runs at once" in json.loads(text)["error"]
        first.close()  # the client goes away mid-stream: its slot is given back
        for _ in range(100):
            status, text = post(url, "/api/gpt/generate", {**body, "max_new_tokens": 2})
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200 and parse_sse(text)[-1][1]["n_tokens"] == 2


def test_nanonlp_serve_prints_the_url_and_serves(runs, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "nanonlp", "serve", str(runs), "--port", "0",
                             "--bpe", str(runs / "bpe" / "chars.model")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("nanonlp playground: "):
                break
        url = lines[-1].split()[2]
        assert url.startswith("http://127.0.0.1:"), lines
        assert any("gpt" in line and "gpt/best" in line for line in lines)
        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", "/api/health")
        health = json.loads(conn.getresponse().read())
        names = {m["name"] for m in health["models"]}
        assert {"gpt/best", "bpe/chars.model", str(runs / "bpe" / "chars.model")} <= names
        conn.request("POST", "/api/gpt/generate", '{"prompt": "a", "max_new_tokens": -3}')
        r = conn.getresponse()
        assert r.status == 400 and b"max_new_tokens" in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    # the refusal is logged on the server with the request
    assert "POST /api/gpt/generate -> 400: 'max_new_tokens' must be in 0..512, got -3" in err


def test_nanonlp_serve_with_nothing_to_serve(tmp_path, capsys):
    from nanonlp.cli import main

    assert main(["serve", str(tmp_path)]) == 2
    assert "no models to serve" in capsys.readouterr().err
    assert main(["serve", "--gpt", str(tmp_path / "missing")]) == 2
    assert "missing: no such checkpoint folder" in capsys.readouterr().err
