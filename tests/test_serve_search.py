"""The Search page's endpoint and the BERT page's similarity, through Starlette's TestClient:
a query equal to an indexed line finds it first at cosine 1.0, every answer is `bert search`'s,
k and query length are capped, and an index embedded by another checkpoint is refused at
start (the CLI exits 2 naming the file, writing nothing)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import numpy as np
import torch
from serve_models import BERT_SPECIALS, TEXT
from starlette.testclient import TestClient

from nanonlp.bert import embed as E
from nanonlp.cli import main
from nanonlp.errors import DataError
from nanonlp.serve import ServeConfig, create_app, load_all

BASE = "http://127.0.0.1"
LINES = [*dict.fromkeys(TEXT), "the queen met the king .", "a man and a woman",
         "that is the question"]


def tiny_bert(path: Path, seed: int, tok_path: Path | None = None) -> Path:
    """A random 1-layer BERT MLM checkpoint (its BPE tokenizer trained on TEXT when not
    given)."""
    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertForMaskedLM, save_bert
    from nanonlp.bpe import BPEConfig, Tokenizer

    if tok_path is None:
        tok = Tokenizer.train(TEXT, BPEConfig(vocab_size=290, special=BERT_SPECIALS, workers=1))
        tok_path = tok.save(path.parent / "tok")
    else:
        from nanonlp.gpt.data import load_tokenizer

        tok = load_tokenizer(tok_path)
    sp = tok.special_tokens
    cfg = BertConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=32,
                     cls_id=sp["[CLS]"], sep_id=sp["[SEP]"], mask_id=sp["[MASK]"],
                     pad_id=sp["[PAD]"])
    g = torch.Generator().manual_seed(seed)
    return save_bert(BertForMaskedLM(cfg, generator=g), path, tok_path)


def sentence_encoder(src: Path, dst: Path, mlm_head: bool = False) -> Path:
    """A copy of ``src`` with the embedding.json `bert import` writes for a
    sentence-transformers folder (lines cut to 8 tokens, as MiniLM's 256 of 512)."""
    shutil.copytree(src, dst)
    (dst / E.EMBEDDING_FILE).write_text(json.dumps(
        {"pooling": "mean", "normalize": True, "max_seq_length": 8, "mlm_head": mlm_head}))
    return dst


@pytest.fixture(scope="module")
def runs(tmp_path_factory, torch_one_thread_module):
    """runs/bert/best with its index runs/bert/lines.npy beside it, another BERT, and a
    sentence encoder without an MLM head (the same weights) with its own index."""
    root = tmp_path_factory.mktemp("runs")
    ckpt = tiny_bert(root / "bert" / "best", seed=0)
    other = tiny_bert(root / "other" / "best", seed=1, tok_path=root / "bert" / "tok.model")
    st = sentence_encoder(ckpt, root / "minilm" / "best")
    text = root / "lines.txt"
    text.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    index = root / "bert" / "lines.npy"
    E.embed_file(ckpt, text, index, progress=False)
    st_index = root / "minilm" / "lines.npy"
    E.embed_file(st, text, st_index, progress=False)
    text.unlink()  # a runs folder holds models, not inputs
    return {"root": root, "ckpt": ckpt, "other": other, "st": st, "index": index,
            "st_index": st_index}


@pytest.fixture(scope="module")
def torch_one_thread_module():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def models(runs):
    return load_all({}, runs["root"])


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app(models, ServeConfig(max_top_k=5)), base_url=BASE)


def test_a_runs_folders_index_is_served_with_its_checkpoint(client, models, runs):
    h = client.get("/api/health").json()
    index = [m for m in h["models"] if m["kind"] == "index"]
    assert index == [{"kind": "index", "name": "bert/lines.npy", "lines": len(LINES),
                      "dim": 32, "pooling": "mean", "checkpoint": "bert/best"},
                     {"kind": "index", "name": "minilm/lines.npy", "lines": len(LINES),
                      "dim": 32, "pooling": "mean", "checkpoint": "minilm/best"}]
    assert str(runs["root"]) not in json.dumps(h)
    # one encoder in memory: the index's queries go through the BERT page's model
    assert models.get("index").obj.encoder is models.get("bert", "bert/best")
    # the same weights, but the sentence encoder cuts lines at 8 tokens: each index is served
    # with the folder that embedded it
    assert models.get("index", "minilm/lines.npy").obj.max_seq_length == 8


@pytest.mark.parametrize("row", [0, 4, len(LINES) - 1])
def test_a_query_equal_to_a_line_finds_it_first_at_cosine_one(client, runs, row):
    r = client.post("/api/search", json={"query": LINES[row], "top_k": 3})
    assert r.status_code == 200, r.text
    first = r.json()["results"][0]
    assert first == {"line": row + 1, "text": LINES[row], "cosine": 1.0}


@pytest.mark.parametrize("index", ["index", "st_index"])
def test_results_are_bert_searchs(client, runs, index):
    name = runs[index].relative_to(runs["root"]).as_posix()
    ckpt = runs["ckpt"] if index == "index" else runs["st"]
    for q in ("the king and the woman", "nobler arrows", "x", LINES[1]):
        got = client.post("/api/search", json={"model": name, "query": q, "top_k": 5}).json()
        want = E.search(ckpt, runs[index], [q], k=5)[0]
        assert [(x["line"], x["text"], x["cosine"]) for x in got["results"]] == \
            [(i + 1, t, round(c, 5)) for c, i, t in want]


def test_k_and_query_length_are_capped(client):
    r = client.post("/api/search", json={"query": "king", "top_k": 6})
    assert r.status_code == 400 and r.json()["error"] == "'top_k' must be in 1..5, got 6"
    r = client.post("/api/search", json={"query": "king", "top_k": 0})
    assert r.status_code == 400
    assert len(client.post("/api/search", json={"query": "king"}).json()["results"]) == 5
    r = client.post("/api/search", json={"query": "k" * 4001})
    assert r.status_code == 413 and "over the limit of 4,000" in r.json()["error"]


@pytest.mark.parametrize("query", ["", "   \n"])
def test_an_empty_query_is_refused(client, query):
    r = client.post("/api/search", json={"query": query})
    assert r.status_code == 400 and r.json() == {"error": "'query' is empty", "status": 400}


def test_an_unknown_index_is_404(client):
    r = client.post("/api/search", json={"model": "nope.npy", "query": "king"})
    assert r.status_code == 404 and "no index model named 'nope.npy'" in r.json()["error"]


def test_no_index_or_encoder_loaded_is_404():
    from nanonlp.serve import Models

    client = TestClient(create_app(Models()), base_url=BASE)
    r = client.post("/api/search", json={"query": "king"})
    assert r.status_code == 404 and r.json()["error"].startswith(
        "no index model is loaded (start the server with --index PATH")
    r = client.post("/api/bert/similarity", json={"a": "x", "b": "y"})
    assert r.status_code == 404 and r.json()["error"].startswith("no bert model is loaded")


def test_index_flag_with_and_without_its_checkpoint(runs, tmp_path):
    idx = str(runs["index"])
    alone = load_all({"index": [idx]})  # the sidecar names the checkpoint
    assert alone.get("index").info["checkpoint"] == str(runs["ckpt"])
    paired = load_all({"bert": [str(runs["ckpt"])], "index": [f"{runs['ckpt']}::{idx}"]})
    assert paired.get("index").obj.encoder is paired.get("bert")
    # the sidecar's folder is gone, but the server holds a checkpoint with those weights
    moved = shutil.copytree(runs["ckpt"], tmp_path / "moved")
    meta = json.loads(E.sidecar(runs["index"]).read_text())
    shutil.copy(runs["index"], tmp_path / "v.npy")
    E.sidecar(tmp_path / "v.npy").write_text(json.dumps({**meta, "checkpoint": "gone/best"}))
    found = load_all({"bert": [str(moved)], "index": [str(tmp_path / "v.npy")]})
    assert found.get("index").info["checkpoint"] == str(moved)
    with pytest.raises(DataError, match=r"v\.npy: no checkpoint here has the weights it was "
                                         r"embedded with \(gone/best\); name it as --index "):
        load_all({"index": [str(tmp_path / "v.npy")]})


def test_an_index_of_another_checkpoint_is_refused_at_start(runs, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    spec = f"{runs['other']}::{runs['index']}"
    assert main(["serve", "--index", spec, "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nanonlp: error: {runs['index']}: was embedded by another model "
                   f"({runs['ckpt']}), not {runs['other']}; serve it with that one, or embed "
                   "the lines again"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_a_runs_folder_index_without_its_checkpoint_is_skipped(runs, tmp_path):
    shutil.copytree(runs["other"], tmp_path / "other" / "best")
    for f in (runs["index"], E.sidecar(runs["index"])):
        shutil.copy(f, tmp_path / "other" / f.name)
    meta = json.loads(E.sidecar(runs["index"]).read_text())
    E.sidecar(tmp_path / "other" / "lines.npy").write_text(
        json.dumps({**meta, "checkpoint": str(tmp_path / "nowhere")}))
    warnings = []
    models = load_all({}, tmp_path, warn=warnings.append)
    assert not models.by_kind["index"] and len(models.by_kind["bert"]) == 1
    assert len(warnings) == 1 and warnings[0].startswith(
        f"skipped {tmp_path / 'other' / 'lines.npy'}: ")
    assert "no checkpoint here has the weights" in warnings[0]


# ----------------------------------------------------------------------------------------------
# the BERT page: a sentence encoder's similarity; no fill-mask without an MLM head


def test_similarity_of_identical_texts_is_one(client, models):
    r = client.post("/api/bert/similarity", json={"a": "the king", "b": "the king"})
    assert r.status_code == 200, r.text
    assert r.json() == {"model": "minilm/best", "pooling": "mean", "cosine": 1.0}
    a, b = "the king and the queen", "a man and a woman"
    got = client.post("/api/bert/similarity", json={"a": a, "b": b}).json()["cosine"]
    st = models.get("bert", "minilm/best")
    va, vb = E.embed(st.obj, st.tokenizer, [a, b], max_seq_length=8)  # embedding.json's cut
    assert got == round(float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb)), 5)
    assert got < 1.0
    # past the cut, the rest of a text does not count
    long = "the king and the queen , the man and the woman ."
    tokens = len(st.tokenizer.encode(long))
    assert tokens > 8
    r = client.post("/api/bert/similarity", json={"a": long, "b": long + " to be or not"})
    assert r.json()["cosine"] == 1.0


def test_similarity_and_fill_go_to_models_that_can_answer(client):
    h = client.get("/api/health").json()
    info = {m["name"]: m.get("embedding") for m in h["models"] if m["kind"] == "bert"}
    assert info == {"bert/best": None, "other/best": None,
                    "minilm/best": {"pooling": "mean", "max_seq_length": 8, "mlm_head": False}}
    r = client.post("/api/bert/similarity", json={"model": "bert/best", "a": "x", "b": "y"})
    assert r.status_code == 404 and "'bert/best' is not a sentence encoder" in r.json()["error"]
    r = client.post("/api/bert/fill", json={"model": "minilm/best", "text": "the [MASK]"})
    assert r.status_code == 404
    assert r.json()["error"] == ("BERT 'minilm/best' has no MLM head (a sentence-transformers "
                                 "folder has none): fill-mask needs one")
    r = client.post("/api/bert/fill", json={"text": "the [MASK]"})  # the first with a head
    assert r.status_code == 200 and r.json()["model"] == "bert/best"
    r = client.post("/api/bert/similarity", json={"a": "", "b": "y"})
    assert r.status_code == 400 and r.json()["error"] == "'a' is empty"


def test_the_pages_are_served(client):
    r = client.get("/search")
    assert r.status_code == 200 and "/static/search.js" in r.text
    assert client.get("/static/search.js").status_code == 200


def test_discovery_finds_indexes_beside_and_inside_checkpoints(runs, tmp_path):
    from nanonlp.serve import discover

    shutil.copytree(runs["ckpt"], tmp_path / "run" / "best")
    for where in (tmp_path / "run", tmp_path / "run" / "best"):
        for f in (runs["index"], E.sidecar(runs["index"])):
            shutil.copy(f, where / f.name)
    np.save(tmp_path / "run" / "stray.npy", np.zeros((2, 2), np.float32))  # no sidecar
    found = [(k, p.relative_to(tmp_path).as_posix()) for k, p in discover(tmp_path)]
    assert found == [("bert", "run/best"), ("index", "run/best/lines.npy"),
                     ("index", "run/lines.npy")]
    models = load_all({}, tmp_path)
    assert [e.info["checkpoint"] for e in models.by_kind["index"].values()] == ["run/best"] * 2
