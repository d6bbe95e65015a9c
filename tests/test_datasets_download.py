"""Downloads against a local HTTP server on 127.0.0.1: success, bad checksum, truncation."""

import hashlib
import http.server
import threading

import pytest

from nanonlp.datasets.registry import FileSpec
from nanonlp.datasets.store import fetch
from nanonlp.errors import DownloadError

PAYLOAD = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 200
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if self.path == "/truncated":
            # Promise the whole payload, send half, then drop the connection.
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_success(server, tmp_path):
    dest = tmp_path / "ds" / "input.txt"
    spec = FileSpec("input.txt", SHA, len(PAYLOAD), (f"{server}/input.txt",))
    assert fetch(spec, dest) == dest
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["input.txt"]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    dest = tmp_path / "input.txt"
    spec = FileSpec("input.txt", "0" * 64, None, (f"{server}/input.txt",))
    with pytest.raises(DownloadError, match=r"checksum mismatch \(sha256 "):
        fetch(spec, dest)
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_leaves_nothing(server, tmp_path):
    dest = tmp_path / "input.txt"
    spec = FileSpec("input.txt", SHA, len(PAYLOAD), (f"{server}/truncated",))
    with pytest.raises(DownloadError, match=r"truncated|IncompleteRead"):
        fetch(spec, dest)
    assert list(tmp_path.iterdir()) == []


def test_http_error_then_fallback_url(server, tmp_path):
    dest = tmp_path / "input.txt"
    bad = FileSpec("input.txt", SHA, None, (f"{server}/missing",))
    with pytest.raises(DownloadError, match=r"/missing: download failed \(HTTPError: HTTP Error 404"):
        fetch(bad, dest)
    assert list(tmp_path.iterdir()) == []
    good = FileSpec("input.txt", SHA, None, (f"{server}/missing", f"{server}/input.txt"))
    assert fetch(good, dest).read_bytes() == PAYLOAD


def test_existing_file_survives_failed_download(server, tmp_path):
    dest = tmp_path / "input.txt"
    dest.write_bytes(b"the old, good copy")
    spec = FileSpec("input.txt", SHA, len(PAYLOAD), (f"{server}/truncated",))
    with pytest.raises(DownloadError):
        fetch(spec, dest)
    assert dest.read_bytes() == b"the old, good copy"
    assert [p.name for p in tmp_path.iterdir()] == ["input.txt"]


def test_download_into_cache_through_the_registry(server, tmp_path, monkeypatch, no_real_data):
    from nanonlp import datasets as D
    from nanonlp.datasets import registry

    ds = D.get_dataset("tinyshakespeare")
    local = FileSpec("input.txt", SHA, len(PAYLOAD), (f"{server}/input.txt",))
    patched = registry.Dataset(**{**ds.__dict__, "files": (local,)})
    monkeypatch.setitem(registry._BY_NAME, "tinyshakespeare", patched)
    with pytest.raises(Exception, match="nanonlp data download tinyshakespeare"):
        D.locate("tinyshakespeare")
    paths = D.download("tinyshakespeare", progress=False)
    assert paths["input.txt"].read_bytes() == PAYLOAD
    assert paths["input.txt"].parent == D.cache_root() / "tinyshakespeare"
    assert next(D.load("tinyshakespeare")) == "First Citizen:"
