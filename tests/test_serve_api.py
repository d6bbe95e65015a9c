"""The playground's API through Starlette's TestClient, each answer checked against the
library's own on the same model: tokenize == Tokenizer.encode, the streamed tokens ==
gpt.sample.generate (and `nanonlp gpt sample`) with the same seed, fill-mask == fill_mask,
neighbours == most_similar, spans == ner.tag, the best hypothesis == Translator.translate."""

from __future__ import annotations

import json
import logging
import math

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import torch
from serve_models import TEXT, build, parse_sse
from starlette.testclient import TestClient

from nanonlp.gpt.data import load_tokenizer
from nanonlp.gpt.model import load_gpt
from nanonlp.gpt.sample import generate, stop_ids_for
from nanonlp.serve import ServeConfig, create_app, discover, load_all
from nanonlp.serve.gpt import attention_maps

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    pytest.importorskip("spacy")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    paths = build(root)
    yield root, paths
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(runs):
    return load_all({}, runs[0])


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app(models, ServeConfig(max_new_tokens=64)), base_url=BASE)


def stream(client, **body):
    r = client.post("/api/gpt/generate", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


# ----------------------------------------------------------------------------------------------
# health, discovery, pages


def test_health_names_every_model_and_its_kind(client, runs):
    h = client.get("/api/health").json()
    assert h["status"] == "ok"
    got = {(m["kind"], m["name"]) for m in h["models"]}
    assert got == {("bpe", "bert-data/tok.model"), ("bpe", "bpe/chars.model"),
                   ("bpe", "bpe/shakespeare.model"), ("vectors", "w2v/vectors.bin"),
                   ("ner", "ner/run/model-best"), ("translate", "translate/best"),
                   ("gpt", "gpt/best"), ("gpt", "gpt-rope/best"), ("bert", "bert/best"),
                   ("bert", "bert-sst2/best"), ("bert", "bert-ner/best")}
    tasks = {m["name"]: m["task"] for m in h["models"] if m["kind"] == "bert"}
    assert tasks == {"bert/best": "mlm", "bert-sst2/best": "sequence", "bert-ner/best": "token"}
    assert "gpt:gpt/best" in h["tokenizers"] and "bpe/chars.model" in h["tokenizers"]
    assert h["limits"]["max_new_tokens"] == 64
    assert str(runs[0]) not in json.dumps(h)  # names, not the machine's paths


def test_discovery_prefers_best_and_skips_data_folders(tmp_path):
    from nanonlp.bpe import CharTokenizer
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt

    tok = CharTokenizer.train("abc").save(tmp_path / "tok")
    for sub in ("run/best", "run/last", "solo/last", ".hidden/best"):
        save_gpt(GPT(GPTConfig(vocab_size=3, block_size=4, n_layer=1, n_head=1, n_embd=4)),
                 tmp_path / sub, tok)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.json").write_text("{}")
    CharTokenizer.train("xyz").save(tmp_path / "data" / "tokenizer")  # gpt prepare's
    (tmp_path / "data" / "train.bin").write_bytes(b"\x01\x02" * 50)  # not word vectors
    (tmp_path / "notes.txt").write_text("2 lines of notes\n")
    (tmp_path / "vecs.txt").write_text("2 2\na 1 0\nb 0 1\n")
    found = [(k, p.relative_to(tmp_path).as_posix()) for k, p in discover(tmp_path)]
    assert found == [("gpt", "run/best"), ("gpt", "solo/last"), ("bpe", "tok.model"),
                     ("vectors", "vecs.txt")]
    for i in range(9):  # more than a runs folder gives of one kind
        (tmp_path / "many" / f"v{i}.vec").parent.mkdir(exist_ok=True)
        (tmp_path / "many" / f"v{i}.vec").write_text("1 2\na 1 0\n")
    warnings = []
    models = load_all({}, tmp_path, warn=warnings.append)
    assert len(models.by_kind["vectors"]) == 8
    assert warnings == [f"2 more model(s) below {tmp_path} not loaded (vectors: at most 8 of a "
                        "kind from a runs folder); name them with --vectors to serve them"]


def test_pages_and_static_files(client):
    from nanonlp.serve.app import PAGES, static_files

    files = static_files()
    for path, name in PAGES.items():
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in r.headers["content-security-policy"]
        # every script and stylesheet a page names is shipped
        for ref in ("/static/common.js", "/static/style.css", f"/static/{name[:-5]}.js"):
            assert ref in r.text and ref.rsplit("/", 1)[1] in files
    assert client.get("/static/gpt.js").headers["content-type"].startswith("text/javascript")


# ----------------------------------------------------------------------------------------------
# tokenizer


@pytest.mark.parametrize("text", ["", "To be, or not to be", "naïve café 🙂\n\ttabs",
                                  "the end<|endoftext|>next", "  "])
def test_tokenize_equals_encode_for_every_tokenizer(client, models, text):
    for name, tok in models.tokenizers().items():
        if type(tok).__name__ == "CharTokenizer" and any(c not in tok.stoi for c in text):
            continue
        r = client.post("/api/bpe/tokenize", json={"model": name, "text": text})
        assert r.status_code == 200, (name, r.text)
        out = r.json()
        assert out["ids"] == tok.encode(text, allowed_special="all")
        assert [t["id"] for t in out["tokens"]] == out["ids"]
        assert b"".join(bytes.fromhex(t["bytes"]) for t in out["tokens"]) == text.encode()
        assert [t["special"] for t in out["tokens"]] == \
            [i in getattr(tok, "special_ids", {}) for i in out["ids"]]
        assert out["n_bytes"] == len(text.encode()) and out["n_tokens"] == len(out["ids"])
        back = client.post("/api/bpe/decode", json={"model": name, "ids": out["ids"]}).json()
        assert back["text"] == text


def test_tokenize_refusals(client):
    r = client.post("/api/bpe/tokenize", json={"model": "bpe/shakespeare.model",
                                               "text": "a<|endoftext|>", "allow_special": False})
    assert r.status_code == 400 and "<|endoftext|>" in r.json()["error"]
    r = client.post("/api/bpe/tokenize", json={"model": "bpe/chars.model", "text": "Ω"})
    assert r.status_code == 400 and "'Ω' (U+03A9) is not in the vocabulary" in r.json()["error"]
    r = client.post("/api/bpe/decode", json={"model": "bpe/chars.model", "ids": [10 ** 30]})
    assert r.status_code == 400 and "not in the vocabulary" in r.json()["error"]
    r = client.post("/api/bpe/tokenize", json={"model": "../../etc/passwd", "text": "a"})
    assert r.status_code == 404 and "no tokenizer named" in r.json()["error"]


# ----------------------------------------------------------------------------------------------
# GPT


@pytest.mark.parametrize("settings", [
    dict(temperature=0.8, top_k=40, top_p=None, seed=7),
    dict(temperature=1.3, top_k=None, top_p=0.9, seed=123),
    dict(temperature=0.0, top_k=None, top_p=None, seed=0),
])
@pytest.mark.parametrize("name", ["gpt/best", "gpt-rope/best"])
def test_stream_equals_generate_with_the_same_seed(client, runs, name, settings):
    root = runs[0]
    model, tok = load_gpt(root / name), load_tokenizer(root / name / "tokenizer.model")
    prompt = "To be, or"
    events = stream(client, model=name, prompt=prompt, max_new_tokens=40, **settings)
    kinds = [e for e, _ in events]
    assert kinds[0] == "prompt" and kinds[-1] == "done" and set(kinds[1:-1]) <= {"token"}
    prompt_ids = tok.encode(prompt, allowed_special="all")
    assert [t["id"] for t in events[0][1]["tokens"]] == prompt_ids
    got = [d["id"] for e, d in events if e == "token"]
    want = list(generate(model, prompt_ids, 40, temperature=settings["temperature"],
                         top_k=settings["top_k"], top_p=settings["top_p"],
                         generator=torch.Generator().manual_seed(settings["seed"]),
                         stop_ids=stop_ids_for(tok, "<|endoftext|>")))
    assert got == want and events[-1][1]["n_tokens"] == len(want)
    text = "".join(d["text"] for e, d in events if e == "token") + events[-1][1]["tail"]
    assert text == tok.decode(want)
    # each token's probability is the model's: a forward pass without the cache over the
    # same window (the context slides past block_size) agrees
    ids, block = prompt_ids + want, model.config.block_size
    for k, (_, d) in enumerate(e for e in events if e[0] == "token"):
        context = ids[:len(prompt_ids) + k][-block:]
        with torch.no_grad():
            p = model(torch.tensor([context]))[0][0, -1].softmax(-1)[d["id"]]
        assert d["p"] == pytest.approx(float(p), abs=2e-5)
        ps = [a["p"] for a in d["alternatives"]]
        assert ps == sorted(ps, reverse=True) and ps[0] >= d["p"] - 1e-5
        if settings["temperature"] == 0:
            assert d["p_sampled"] == 1.0 and d["id"] == d["alternatives"][0]["id"]


def test_stream_text_equals_gpt_sample_cli(client, runs, capsys):
    from nanonlp.cli import main

    ckpt = runs[0] / "gpt" / "best"
    assert main(["gpt", "sample", str(ckpt), "--prompt", "the king", "--max_new_tokens", "30",
                 "--temperature", "0.9", "--top_k", "50", "--seed", "42"]) == 0
    cli = capsys.readouterr().out
    events = stream(client, model="gpt/best", prompt="the king", max_new_tokens=30,
                    temperature=0.9, top_k=50, seed=42)
    text = "".join(d["text"] for e, d in events if e == "token") + events[-1][1]["tail"]
    assert cli == "the king" + text + "\n"


def test_stream_stops_at_the_time_limit(models, monkeypatch):
    import time

    import nanonlp.serve.gpt as serve_gpt

    entry = models.get("gpt", "gpt/best")
    events = list(serve_gpt.stream_events(entry.obj, entry.tokenizer, "To be", 30,
                                          temperature=0, top_k=None, top_p=None, seed=0,
                                          deadline=time.monotonic()))
    assert [e["event"] for e in events] == ["prompt", "token", "done"]
    assert events[-1]["reason"] == "time" and events[-1]["n_tokens"] == 1
    real = serve_gpt.token_event
    monkeypatch.setattr(serve_gpt, "token_event", lambda *a: (time.sleep(0.05), real(*a))[1])
    client = TestClient(create_app(models, ServeConfig(request_timeout_s=0.3)), base_url=BASE)
    done = stream(client, prompt="To be", max_new_tokens=60, temperature=0)[-1][1]
    assert done["reason"] == "time" and 1 <= done["n_tokens"] < 60


def test_attention_weights_give_the_layers_output(runs, client):
    for name in ("gpt/best", "gpt-rope/best"):
        model = load_gpt(runs[0] / name)
        ids = list(range(20, 40))
        for layer in range(model.config.n_layer):
            w = attention_maps(model, ids, layer)  # (nh, T, T)
            T, nh = len(ids), model.config.n_head
            assert w.shape == (nh, T, T)
            torch.testing.assert_close(w.sum(-1), torch.ones(nh, T))
            assert float(w.triu(1).abs().max()) == 0.0  # causal
            # weights @ v, heads joined, c_proj == the attention block's own output
            with torch.no_grad():
                x, rotary = model._embed(torch.tensor([ids]), 0)
                for block in model.transformer.h[:layer]:
                    x, _ = block(x, rotary=rotary)
                block = model.transformer.h[layer]
                h = block.ln_1(x)
                want, _ = block.attn(h, rotary=rotary)
                C = h.shape[-1]
                _, _, v = block.attn.c_attn(h).split(C, dim=2)
                v = v.view(1, T, nh, C // nh).transpose(1, 2)  # (1, nh, T, hs)
                y = (w[None] @ v).transpose(1, 2).reshape(1, T, C)
                torch.testing.assert_close(block.attn.c_proj(y), want, atol=1e-5, rtol=1e-4)
        r = client.post("/api/gpt/attention", json={"model": name, "ids": ids, "layer": 1,
                                                    "head": 1}).json()
        assert r["weights"] == [[round(float(v), 4) for v in row] for row in w[1]]
        mean = client.post("/api/gpt/attention", json={"model": name, "ids": ids,
                                                       "layer": 1}).json()
        assert mean["weights"][5][:6] == [round(float(v), 4) for v in w.mean(0)[5, :6]]
    bad = client.post("/api/gpt/attention", json={"ids": [1, 2], "layer": 9}).json()
    assert bad == {"error": "'layer' must be in 0..1, got 9", "status": 400}
    bad = client.post("/api/gpt/attention", json={"ids": [1, 999], "layer": 0}).json()
    assert "token id 999 is outside the model's vocabulary (0..299)" in bad["error"]


# ----------------------------------------------------------------------------------------------
# BERT, word vectors, NER, translation


def test_bert_answers_are_the_librarys(client, models):
    from nanonlp.bert.predict import fill_mask, predict_labels, predict_tags

    mlm = models.get("bert", "bert/best")
    text = "the king [MASK] the [MASK] ."
    r = client.post("/api/bert/fill", json={"text": text, "top_k": 4}).json()
    want = fill_mask(mlm.obj, mlm.tokenizer, text, 4)
    assert [[(f["token"], f["p"]) for f in m] for m in r["masks"]] == \
        [[(t, round(p, 5)) for t, p in m] for m in want]
    clf = models.get("bert", "bert-sst2/best")
    for s in ("a fine film .", "the worst thing", "x"):
        r = client.post("/api/bert/classify", json={"text": s}).json()
        assert r["label"] == predict_labels(clf.obj, clf.tokenizer, [s])[0]
        assert math.isclose(sum(p["p"] for p in r["probabilities"]), 1.0, abs_tol=1e-4)
    tagger = models.get("bert", "bert-ner/best")
    r = client.post("/api/bert/tag", json={"text": "the king met the queen"}).json()
    assert [w["tag"] for w in r["words"]] == \
        predict_tags(tagger.obj, tagger.tokenizer, [["the", "king", "met", "the", "queen"]])[0]
    r = client.post("/api/bert/fill", json={"model": "bert-sst2/best", "text": "[MASK]"})
    assert r.status_code == 404 and "is a sequence model, not a mlm one" in r.json()["error"]
    r = client.post("/api/bert/fill", json={"text": "no mask here"})
    assert r.status_code == 400 and "no [MASK] in 'no mask here'" in r.json()["error"]


def test_vectors_answers_are_the_librarys(client, models, tmp_path):
    from nanonlp.word2vec.plot import plot_words

    wv = models.get("vectors").obj
    r = client.post("/api/vectors/similar", json={"positive": "king", "topn": 5}).json()
    assert [(x["word"], x["score"]) for x in r["results"]] == \
        [(w, round(s, 5)) for w, s in wv.most_similar("king", topn=5)]
    r = client.post("/api/vectors/similar", json={"positive": ["king", "woman"],
                                                  "negative": ["man"]}).json()
    assert [x["word"] for x in r["results"]] == \
        [w for w, _ in wv.most_similar(["king", "woman"], ["man"])]
    for method in ("add", "mul"):
        r = client.post("/api/vectors/analogy", json={"a": "man", "b": "king", "c": "woman",
                                                      "method": method, "topn": 3}).json()
        assert [x["word"] for x in r["results"]] == \
            [w for w, _ in wv.analogy("man", "king", "woman", topn=3, method=method)]
    words = ["king", "queen", "man", "woman", "paris", "france"]
    r = client.post("/api/vectors/project", json={"words": ", ".join(words)}).json()
    drawn = plot_words(wv, words, tmp_path / "p.png")
    assert [p["word"] for p in r["points"]] == list(drawn)
    for p in r["points"]:
        assert [p["x"], p["y"]] == pytest.approx(drawn[p["word"]], abs=1e-4)
    r = client.post("/api/vectors/similar", json={"positive": "King"})
    assert r.status_code == 400
    assert r.json()["error"] == "word 'King' is not in the vocabulary (15 words); did you " \
                                "mean 'king'?"
    r = client.post("/api/vectors/words", json={"n": 3}).json()
    assert r["words"] == wv.words[:3] and "king" in r["showcase"]


def test_ner_spans_are_tags(client, models):
    from nanonlp.ner.tag import tag

    text = "Angela Merkel met Emmanuel Macron in Paris, and the European Union welcomed it."
    r = client.post("/api/ner/tag", json={"text": text}).json()
    (_, want), = tag(models.get("ner").obj, [text])
    assert [(e["start"], e["end"], e["label"], e["text"]) for e in r["entities"]] == want
    assert r["labels"] == ["LOC", "ORG", "PER"] and len(want) == 4


def test_translation_hypotheses_and_the_best_is_translate(client, models):
    tr = models.get("translate").obj
    for text, beam in (("je suis content .", 4), ("il est grand .", 2), ("elle est .", 1)):
        r = client.post("/api/translate", json={"text": text, "beam": beam}).json()
        hyps = r["hypotheses"]
        best = tr.translate([text], beam=beam)[0]
        assert hyps[0]["text"] == best.text and hyps[0]["score"] == round(best.score, 5)
        assert hyps[0]["attention"] == [[round(float(v), 4) for v in row]
                                        for row in best.attention]
        assert 1 <= len(hyps) <= beam
        if beam > 1:
            norms = [h["norm_score"] for h in hyps]
            assert norms == sorted(norms, reverse=True)
        for h in hyps:
            assert len(h["attention"]) == len(h["target_pieces"])
            assert all(len(row) == len(h["source_pieces"]) for row in h["attention"])
    r = client.post("/api/translate", json={"text": "zzz qqq"})
    assert r.status_code == 400 and "every word is unknown" in r.json()["error"]


def test_nbest_first_is_beam_search(models):
    from nanonlp.seq2seq.translate import beam_search, beam_search_nbest

    tr = models.get("translate").obj
    src = torch.tensor([tr.encode_source("je suis content ."),
                        [*tr.encode_source("il est ."), 0]])
    for b, ranked in zip(beam_search(tr.model, src, beam=3),
                         beam_search_nbest(tr.model, src, beam=3)):
        assert ranked[0][1].tokens == b.tokens and ranked[0][1].score == b.score
        assert [s for s, _ in ranked] == sorted((s for s, _ in ranked), reverse=True)


# ----------------------------------------------------------------------------------------------
# refusals: 4xx with a message, logged, never a traceback

BIG = "x" * 70_000

BAD = [  # (method, path, body or raw bytes, status, words of the message)
    ("post", "/api/bpe/tokenize", BIG.encode(), 413, "over the limit of 65,536"),
    ("post", "/api/bpe/tokenize", b'{"text": "a"', 400, "malformed JSON"),
    ("post", "/api/bpe/tokenize", b"\xff\xfe", 400, "not UTF-8"),
    ("post", "/api/bpe/tokenize", b"[1, 2]", 400, "must be an object, got list"),
    ("post", "/api/bpe/tokenize", {"text": 5}, 400, "'text' must be a string, got int"),
    ("post", "/api/bpe/tokenize", {"text": "a" * 5000}, 413, "over the limit of 4,000"),
    ("post", "/api/gpt/generate", {"prompt": "a", "max_new_tokens": -1}, 400,
     "'max_new_tokens' must be in 0..64, got -1"),
    ("post", "/api/gpt/generate", {"prompt": "a", "max_new_tokens": 10 ** 9}, 400,
     "'max_new_tokens' must be in 0..64"),
    ("post", "/api/gpt/generate", {"prompt": "a", "max_new_tokens": "5"}, 400,
     "'max_new_tokens' must be an integer"),
    ("post", "/api/gpt/generate", {"prompt": "a", "max_new_tokens": True}, 400,
     "must be an integer, got true"),
    ("post", "/api/gpt/generate", b'{"prompt": "a", "temperature": NaN}', 400,
     "'temperature' must be a number, got NaN"),
    ("post", "/api/gpt/generate", {"prompt": "a", "top_p": 0}, 400, "'top_p' must be in (0.0"),
    ("post", "/api/gpt/generate", {"prompt": ""}, 400, "'prompt' is empty"),
    ("post", "/api/gpt/generate", {"prompt": "a", "model": "runs/gpt"}, 404,
     "no gpt model named 'runs/gpt'; loaded: gpt-rope/best, gpt/best"),
    ("post", "/api/translate", {"text": "il est .", "beam": 100}, 400, "'beam' must be in 1..16"),
    ("post", "/api/bert/fill", {"text": "[MASK]", "top_k": 0}, 400, "'top_k' must be in 1..50"),
    ("post", "/api/vectors/project", {"words": "king queen"}, 400, "at least 3 distinct"),
    ("get", "/static/..%2f..%2fetc%2fpasswd", None, 404, "no such file"),
    ("get", "/static/%2e%2e/%2e%2e/etc/passwd", None, 404, "no such file"),
    ("get", "/static/%252e%252e/%252e%252e/etc/passwd", None, 404, "no such file"),
    ("get", "/static/../../etc/passwd", None, 404, "no such"),
    ("get", "/static/", None, 404, "no such file"),
    ("get", "/api/nothing", None, 404, "no such page or endpoint"),
    ("get", "/api/gpt/generate", None, 405, "method not allowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), BAD,
                         ids=[f"{m}-{p}-{s}" for m, p, _, s, _ in BAD])
def test_bad_requests_get_4xx_json(client, caplog, method, path, body, status, words):
    kwargs = {} if body is None else {"content": body} if isinstance(body, bytes) else \
        {"json": body}
    with caplog.at_level(logging.WARNING, logger="nanonlp.serve"):
        r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    out = r.json()
    assert out["status"] == status and words in out["error"], out
    assert "Traceback" not in r.text
    assert any(f"-> {status}" in rec.getMessage() for rec in caplog.records)  # logged


def test_a_chunked_body_over_the_limit_is_cut_off(client):
    def chunks():
        for _ in range(100):
            yield b" " * 1000

    r = client.post("/api/bpe/tokenize", content=chunks())
    assert r.status_code == 413 and "over the limit" in r.json()["error"]


def test_a_kind_not_loaded_is_404_on_every_endpoint(tmp_path):
    from nanonlp.bpe import CharTokenizer
    from nanonlp.serve import Loaded, Models

    only = Models([Loaded("bpe", "chars", CharTokenizer.train("ab"))])
    client = TestClient(create_app(only), base_url=BASE)
    for path, kind in (("/api/gpt/generate", "gpt"), ("/api/gpt/attention", "gpt"),
                       ("/api/bert/fill", "bert"), ("/api/bert/classify", "bert"),
                       ("/api/vectors/similar", "vectors"), ("/api/ner/tag", "ner"),
                       ("/api/translate", "translate")):
        r = client.post(path, json={"text": "a", "prompt": "a", "positive": "a"})
        assert r.status_code == 404 and r.json()["error"].startswith(f"no {kind} model is "
                                                                     "loaded"), (path, r.text)
    empty = TestClient(create_app(Models()), base_url=BASE)
    assert empty.post("/api/bpe/tokenize", json={"text": "a"}).status_code == 404


def test_a_foreign_host_is_refused_on_loopback(models):
    app = create_app(models)
    r = TestClient(app, base_url="http://evil.example").get("/api/health")
    assert r.status_code == 400 and "not this machine" in r.json()["error"]
    assert TestClient(app, base_url="http://localhost:8765").get("/api/health").status_code == 200
    open_app = create_app(models, ServeConfig(host="0.0.0.0"))
    assert TestClient(open_app, base_url="http://lan-name").get("/api/health").status_code == 200


def test_a_bug_is_a_bare_500_logged_with_its_traceback(client, caplog, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("secret internals /home/me/x.py")

    monkeypatch.setattr("nanonlp.serve.bpe.tokenize", broken)
    with caplog.at_level(logging.ERROR, logger="nanonlp.serve"):
        r = client.post("/api/bpe/tokenize", json={"text": "a"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error (logged on the server)", "status": 500}
    rec = [x for x in caplog.records if "-> 500" in x.getMessage()]
    assert rec and rec[0].exc_info and "secret internals" in rec[0].getMessage()


def test_a_slow_request_hits_the_time_limit(models, monkeypatch):
    import time

    monkeypatch.setattr("nanonlp.serve.bpe.tokenize", lambda *a: time.sleep(1.0))
    client = TestClient(create_app(models, ServeConfig(request_timeout_s=0.1)), base_url=BASE)
    r = client.post("/api/bpe/tokenize", json={"text": "a"})
    assert r.status_code == 503 and "longer than its limit of 0.1 s" in r.json()["error"]


def test_bad_config_values():
    from nanonlp.errors import ConfigError

    for bad in (dict(port=70000), dict(max_new_tokens=0), dict(request_timeout_s=math.inf),
                dict(host="")):
        with pytest.raises(ConfigError):
            ServeConfig(**bad)
    assert TEXT  # the shared corpus is what the models were built from
