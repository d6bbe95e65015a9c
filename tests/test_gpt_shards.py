"""Streamed ``gpt prepare`` into token shards (issue #31): workers and batches change no byte,
the hash split depends on the document alone, a killed run resumes byte-identical, shards read
back as one memory-mapped sequence, and a nanoGPT folder trains with --vocab_size."""

import gzip
import json
import random

import numpy as np
import pytest
import torch

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.cli import main
from nanonlp.errors import DataError
from nanonlp.gpt import shards as S
from nanonlp.gpt.data import PrepareConfig, TokenData, prepare
from nanonlp.training.distributed import DistInfo, shard

pytestmark = pytest.mark.usefixtures("torch_one_thread")

WORDS = ["the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran", "far", "away", "from",
         "home", "<|endoftext|>", "café", "naïve", "über", "東京", "🙂"]


def _docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 60))) +
            rng.choice(["", "\n", ".\n\n"]) for _ in range(n)]


@pytest.fixture(scope="module")
def tok_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    tok = Tokenizer.train([" ".join(_docs(300, 9))], BPEConfig(vocab_size=300))
    tok.save(d / "bpe")
    return d / "bpe.model"


@pytest.fixture
def corpus(tmp_path):
    """400 documents: a folder of JSON lines (one gzipped) and text files, one per document."""
    src = tmp_path / "src"
    (src / "txt").mkdir(parents=True)
    docs = _docs(400)
    for k in range(3):
        lines = "".join(json.dumps({"text": d, "n": i}) + "\n" for i, d in enumerate(docs[k:300:3]))
        if k == 1:
            with gzip.open(src / f"part{k}.jsonl.gz", "wt", encoding="utf-8") as f:
                f.write(lines)
        else:
            (src / f"part{k}.jsonl").write_text(lines, encoding="utf-8")
    for i, d in enumerate(docs[300:]):
        (src / "txt" / f"{i:03d}.txt").write_text(d, encoding="utf-8")
    return src, docs


def _cfg(source, out, tok_path, **kw) -> PrepareConfig:
    return PrepareConfig(source=str(source), out=str(out), tokenizer=str(tok_path),
                         shard_tokens=kw.pop("shard_tokens", 1000), val_fraction=0.2, **kw)


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _split_docs(folder, split: str, tok: Tokenizer) -> list[str]:
    """The documents of a prepared split, decoded: the ids cut at each end-of-text."""
    ids = TokenData.load(folder, 1).splits[split][:].tolist()
    eot = tok.special_tokens["<|endoftext|>"]
    out, cur = [], []
    for i in ids:
        if i == eot:
            out.append(tok.decode(cur))
            cur = []
        else:
            cur.append(i)
    assert cur == []  # every document ends in end-of-text
    return out


def test_workers_and_batches_change_no_byte(tmp_path, corpus, tok_path, monkeypatch):
    src, docs = corpus
    one = prepare(_cfg(src, tmp_path / "w1", tok_path, workers=1))
    monkeypatch.setattr(S, "BATCH_BYTES", 700)  # many small batches over two processes
    two = prepare(_cfg(src, tmp_path / "w2", tok_path, workers=2))
    assert one == two and _files(tmp_path / "w1") == _files(tmp_path / "w2")
    assert len(one["shards"]["train"]) > 3 and one["documents"] == 400
    assert all(s["tokens"] == 1000 for s in one["shards"]["train"][:-1])
    # every document is in exactly one split, whole, special-token text kept as text
    tok = Tokenizer.load(tok_path)
    train, val = _split_docs(tmp_path / "w1", "train", tok), _split_docs(tmp_path / "w1", "val", tok)
    assert sorted(train + val) == sorted(docs)
    assert sorted(val) == sorted(d for d in docs if S.in_val(d.encode(), 0.2))
    assert 40 < len(val) < 120


def test_split_does_not_depend_on_file_order(tmp_path, tok_path):
    docs = _docs(200, 3)
    rng = random.Random(1)
    for name, order in (("a", docs), ("b", rng.sample(docs, len(docs)))):
        (tmp_path / name).mkdir()
        for k in range(4):
            (tmp_path / name / f"{k}.jsonl").write_text(
                "".join(json.dumps({"text": d}) + "\n" for d in order[k::4]), encoding="utf-8")
    tok = Tokenizer.load(tok_path)
    a = prepare(_cfg(tmp_path / "a", tmp_path / "oa", tok_path))
    b = prepare(_cfg(tmp_path / "b", tmp_path / "ob", tok_path, workers=2))
    assert a["tokens"] == b["tokens"]
    for split in ("train", "val"):
        assert sorted(_split_docs(tmp_path / "oa", split, tok)) == \
            sorted(_split_docs(tmp_path / "ob", split, tok))


def test_ids_equal_encode_ordinary_plus_end_of_text(tmp_path, corpus, tok_path):
    src, docs = corpus
    meta = prepare(_cfg(src / "txt", tmp_path / "o", tok_path))
    tok = Tokenizer.load(tok_path)
    eot = tok.special_tokens["<|endoftext|>"]
    files = sorted((src / "txt").iterdir())
    want = [i for f in files if not S.in_val(f.read_bytes(), 0.2)
            for i in [*tok.encode_ordinary(f.read_text(encoding="utf-8")), eot]]
    got = np.concatenate([np.fromfile(tmp_path / "o" / s["file"], "<u2")
                          for s in meta["shards"]["train"]])
    assert got.tolist() == want and meta["dtype"] == "uint16"


@pytest.mark.parametrize("kill_after", [2, 30])
def test_killed_run_resumes_byte_identical(tmp_path, corpus, tok_path, monkeypatch, kill_after):
    src, _ = corpus
    prepare(_cfg(src, tmp_path / "whole", tok_path))
    monkeypatch.setattr(S, "BATCH_BYTES", 500)
    monkeypatch.setattr(S, "CHECKPOINT_SECONDS", -1)  # a resume file after every batch
    real_save, real_append = S._save_resume, S.ShardWriter.append
    calls = {"save": 0, "append": 0}

    def save(*args):  # the last resume file a hard kill would leave is the kill_after-th
        calls["save"] += 1
        if calls["save"] <= kill_after:
            real_save(*args)

    def append(self, ids):  # die later: shards renamed, partials grown past the resume file
        calls["append"] += 1
        if calls["append"] == 2 * kill_after + 30:
            raise KeyboardInterrupt
        real_append(self, ids)

    monkeypatch.setattr(S, "_save_resume", save)
    monkeypatch.setattr(S.ShardWriter, "append", append)
    with pytest.raises(KeyboardInterrupt):
        prepare(_cfg(src, tmp_path / "cut", tok_path))
    assert (tmp_path / "cut" / S.RESUME).exists() and not (tmp_path / "cut" / "meta.json").exists()
    assert any(p.name.endswith(".partial") for p in (tmp_path / "cut").iterdir())
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cut").glob("train_*.bin")}
    monkeypatch.setattr(S, "_save_resume", real_save)
    monkeypatch.setattr(S.ShardWriter, "append", real_append)
    prepare(_cfg(src, tmp_path / "cut", tok_path))
    assert _files(tmp_path / "cut") == _files(tmp_path / "whole")
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cut").glob("train_*.bin")}
    if kill_after == 30:  # the shards complete at the last resume file were kept
        assert kept and any(after[k] == t for k, t in kept.items())


def test_ctrl_c_halfway_through_a_batch_resumes_byte_identical(tmp_path, corpus, tok_path,
                                                                  monkeypatch):
    """Ctrl-C after a batch's train ids were appended and before its val ids were: the
    resume file counts the batch out, so it is written once, not twice."""
    src, _ = corpus
    prepare(_cfg(src, tmp_path / "whole", tok_path))
    monkeypatch.setattr(S, "BATCH_BYTES", 500)
    real = S.ShardWriter.append
    n = {"k": 0}

    def append(self, ids):
        n["k"] += 1
        if n["k"] >= 41 and self.split == "val":
            raise KeyboardInterrupt
        real(self, ids)

    monkeypatch.setattr(S.ShardWriter, "append", append)
    with pytest.raises(KeyboardInterrupt):
        prepare(_cfg(src, tmp_path / "cut", tok_path))
    monkeypatch.setattr(S.ShardWriter, "append", real)
    prepare(_cfg(src, tmp_path / "cut", tok_path))
    assert _files(tmp_path / "cut") == _files(tmp_path / "whole")


def test_changed_source_starts_afresh(tmp_path, corpus, tok_path, monkeypatch):
    src, _ = corpus
    monkeypatch.setattr(S, "CHECKPOINT_SECONDS", -1)
    real = S.ShardWriter.append
    n = {"k": 0}

    def append(self, ids):
        n["k"] += 1
        if n["k"] == 5:
            raise KeyboardInterrupt
        real(self, ids)

    monkeypatch.setattr(S, "BATCH_BYTES", 500)
    monkeypatch.setattr(S.ShardWriter, "append", append)
    with pytest.raises(KeyboardInterrupt):
        prepare(_cfg(src, tmp_path / "o", tok_path))
    monkeypatch.setattr(S.ShardWriter, "append", real)
    (src / "txt" / "000.txt").write_text("another document", encoding="utf-8")
    prepare(_cfg(src, tmp_path / "o", tok_path))
    prepare(_cfg(src, tmp_path / "fresh", tok_path))
    assert _files(tmp_path / "o") == _files(tmp_path / "fresh")


def test_parquet_equals_jsonl(tmp_path, tok_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    docs = _docs(150, 5)
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.jsonl").write_text(
        "".join(json.dumps({"content": d}) + "\n" for d in docs), encoding="utf-8")
    pq.write_table(pa.table({"id": list(range(150)), "content": docs}), tmp_path / "a.parquet",
                   row_group_size=40)
    a = prepare(_cfg(tmp_path / "j", tmp_path / "oj", tok_path, text_field="content"))
    b = prepare(_cfg(tmp_path / "a.parquet", tmp_path / "op", tok_path, text_field="content"))
    assert a["shards"] == b["shards"] and a["documents"] == 150


def test_zstd_file(tmp_path, tok_path):
    zstandard = pytest.importorskip("zstandard")
    docs = _docs(80, 6)
    raw = "".join(json.dumps({"text": d}) + "\n" for d in docs).encode()
    (tmp_path / "a.jsonl").write_bytes(raw)
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    a = prepare(_cfg(tmp_path / "a.jsonl", tmp_path / "o1", tok_path))
    b = prepare(_cfg(tmp_path / "z", tmp_path / "o2", tok_path))
    assert a["shards"] == b["shards"]


def test_single_text_in_pieces_equals_one_encode(tmp_path, tok_path, monkeypatch):
    """The positional split of one text, streamed in small pieces over two workers, is the
    encoding of the whole text cut at the same character (today's train.bin/val.bin)."""
    import nanonlp.bpe.stream as stream

    text = "\n".join(_docs(300, 7))
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    monkeypatch.setattr(stream, "PIECE_CHARS", 300)
    meta = prepare(PrepareConfig(source=str(tmp_path / "t.txt"), out=str(tmp_path / "o"),
                                 tokenizer=str(tok_path), workers=2))
    tok = Tokenizer.load(tok_path)
    cut = int(len(text) * 0.9)
    data = TokenData.load(tmp_path / "o", 4)
    assert data.splits["train"].tolist() == tok.encode(text[:cut], allowed_special="all")
    assert data.splits["val"].tolist() == tok.encode(text[cut:], allowed_special="all")
    assert meta["characters"] == len(text) and "shards" not in meta


def test_stream_windows_equal_one_array(tmp_path, corpus, tok_path):
    src, _ = corpus
    meta = prepare(_cfg(src, tmp_path / "o", tok_path, shard_tokens=337))
    ref = np.concatenate([np.fromfile(tmp_path / "o" / s["file"], "<u2")
                          for s in meta["shards"]["train"]])
    data = TokenData.load(tmp_path / "o", block_size=50)
    stream = data.splits["train"]
    assert all(isinstance(a, np.memmap) for a in stream.arrays)
    assert len(stream) == len(ref) == meta["tokens"]["train"]
    for lo, hi in ((0, 5), (330, 340), (336, 337), (0, len(ref)), (600, 2000), (len(ref) - 3,
                                                                             len(ref) + 9)):
        assert stream[lo:hi].tolist() == ref[lo:hi].tolist()
    # the same generator draws the same windows from the shards as from one .bin
    (tmp_path / "one").mkdir()
    ref.tofile(tmp_path / "one" / "train.bin")
    np.concatenate([np.fromfile(tmp_path / "o" / s["file"], "<u2")
                    for s in meta["shards"]["val"]]).tofile(tmp_path / "one" / "val.bin")
    one = TokenData.load(tmp_path / "one", 50, vocab_size=300)
    (x1,), y1 = data.batch("train", 16, torch.Generator().manual_seed(3))
    (x2,), y2 = one.batch("train", 16, torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    starts = torch.randint(len(ref) - 50, (16,), generator=torch.Generator().manual_seed(3))
    assert x1.tolist() == [ref[s:s + 50].tolist() for s in starts.tolist()]


def test_ranks_draw_different_windows(tmp_path, corpus, tok_path):
    """Under torchrun every rank draws the global batch from the run's seed (so a resumed or
    1-process run draws the same windows) and keeps its own rows: the ranks' windows differ."""
    src, _ = corpus
    prepare(_cfg(src, tmp_path / "o", tok_path))
    data = TokenData.load(tmp_path / "o", 16)
    rows = []
    for rank in range(2):
        (x,), _ = data.batch("train", 8, torch.Generator().manual_seed(0))
        rows.append({tuple(r) for r in x[shard(8, DistInfo(rank, 2))].tolist()})
    assert len(rows[0]) == len(rows[1]) == 4 and not rows[0] & rows[1]


def test_nanogpt_folder_trains_with_vocab_size(tmp_path, capsys):
    from nanonlp.gpt.train import make_trainer

    d = tmp_path / "owt"
    d.mkdir()
    rng = np.random.default_rng(0)
    rng.integers(0, 50257, 5000, dtype=np.uint16).tofile(d / "train.bin")
    rng.integers(0, 50257, 600, dtype=np.uint16).tofile(d / "val.bin")
    with pytest.raises(DataError, match="give its --vocab_size"):
        make_trainer(d, "tiny", train=dict(device="cpu", out=str(tmp_path / "r")))
    trainer = make_trainer(d, "tiny", model=dict(block_size=16, n_embd=16, n_head=2, n_layer=1),
                           train=dict(max_steps=2, batch_size=2, device="cpu", eval_interval=2,
                                      eval_steps=1, out=str(tmp_path / "r")), vocab_size=50304)
    assert trainer.model.config.vocab_size == 50304
    assert len(list(trainer.run())) == 2
    assert main(["gpt", "evaluate", str(tmp_path / "r" / "last"), str(d), "--vocab_size",
                 "50304", "--device", "cpu", "--max_windows", "3"]) == 0
    assert "48 tokens (3 windows)" in capsys.readouterr().out


def test_cli_prepare_then_train_on_shards(tmp_path, corpus, tok_path, capsys):
    src, _ = corpus
    assert main(["gpt", "prepare", "--source", f"{src}/*.jsonl*,{src}/txt", "--out",
                 str(tmp_path / "d"), "--tokenizer", str(tok_path), "--shard_tokens", "2000",
                 "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "400 documents in" in out and "shards" in out
    assert main(["gpt", "train", str(tmp_path / "d"), "--preset", "tiny", "--model.block_size",
                 "16", "--train.max_steps", "2", "--train.eval_interval", "2",
                 "--train.eval_steps", "1", "--train.device", "cpu", "--train.out",
                 str(tmp_path / "run")]) == 0
    assert main(["gpt", "evaluate", str(tmp_path / "run" / "last"), str(tmp_path / "d"),
                 "--device", "cpu"]) == 0
    assert "perplexity" in capsys.readouterr().out


# --- bad inputs: one line naming the file, nothing of the run left behind


def _bad(tmp_path, tok_path, files: dict[str, bytes], **kw) -> str:
    src = tmp_path / "bad"
    src.mkdir(exist_ok=True)
    for name, data in files.items():
        (src / name).write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(DataError) as e:
        prepare(_cfg(src, out, tok_path, **kw))
    assert not out.exists()
    return str(e.value)


def test_invalid_utf8_names_file_and_byte_offset(tmp_path, tok_path):
    good = b'{"text": "fine words"}\n'  # 23 bytes: the bad byte is at 3 * 23 + 13
    msg = _bad(tmp_path, tok_path, {"a.jsonl": good * 3 + b'{"text": "caf\xe9"}\n'})
    assert msg.endswith("a.jsonl:4: not valid UTF-8 (byte 0xe9 at byte offset 82); convert "
                        "it, or pass --errors skip to leave such documents out")


def test_errors_skip_counts_documents(tmp_path, tok_path):
    (tmp_path / "s").mkdir()
    docs = _docs(50, 8)
    lines = [json.dumps({"text": d}).encode() + b"\n" for d in docs]
    lines[7] = b'{"text": "bad \xff byte"}\n'
    (tmp_path / "s" / "a.jsonl").write_bytes(b"".join(lines))
    meta = prepare(_cfg(tmp_path / "s", tmp_path / "o", tok_path, errors="skip"))
    assert meta["skipped_documents"] == 1 and meta["documents"] == 49


def test_errors_skip_counts_the_bytes_of_one_text(tmp_path, tok_path, capsys):
    from nanonlp.cli import main

    good = " ".join(_docs(40, 3)).encode()
    cut = good.index(b" ", 500)  # (between two characters)
    (tmp_path / "t.txt").write_bytes(good[:cut] + b"\xff\xfe" + good[cut:] + b"\xe9")
    meta = prepare(_cfg(tmp_path / "t.txt", tmp_path / "o", tok_path, errors="skip"))
    assert meta["skipped_bytes"] == 3 and meta["characters"] == len(good.decode())
    assert main(["gpt", "prepare", "--source", str(tmp_path / "t.txt"), "--tokenizer",
                 str(tok_path), "--errors", "skip", "--out", str(tmp_path / "o2")]) == 0
    assert "3 bytes that are not UTF-8 left out" in capsys.readouterr().out


def test_jsonl_without_the_field(tmp_path, tok_path):
    msg = _bad(tmp_path, tok_path, {"a.jsonl": b'{"text": "x"}\n{"body": "y"}\n'})
    assert msg.endswith("a.jsonl:2: no 'text' text field; name the field with --text_field")


def test_parquet_without_the_column(tmp_path, tok_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "bad").mkdir()
    pq.write_table(pa.table({"body": ["a b c"]}), tmp_path / "bad" / "x.parquet")
    msg = _bad(tmp_path, tok_path, {})
    assert "x.parquet: no column 'text' (it has body)" in msg


def test_empty_source(tmp_path, tok_path):
    assert "the train split holds 0 tokens (0 documents in all)" in \
        _bad(tmp_path, tok_path, {"a.jsonl": b"\n\n"})
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="nothing: a folder with no files in it"):
        prepare(_cfg(tmp_path / "nothing", tmp_path / "out", tok_path))


def test_damaged_shard_and_odd_bin(tmp_path, corpus, tok_path):
    src, _ = corpus
    meta = prepare(_cfg(src, tmp_path / "o", tok_path))
    shard_file = tmp_path / "o" / meta["shards"]["train"][1]["file"]
    data = bytearray(shard_file.read_bytes())
    data[10] ^= 1
    shard_file.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"train_000001.bin: sha256 differs from meta.json's"):
        TokenData.load(tmp_path / "o", 8)
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "train.bin").write_bytes(b"\x01\x00" * 50 + b"\x01")
    (tmp_path / "n" / "val.bin").write_bytes(b"\x01\x00" * 50)
    with pytest.raises(DataError, match=r"train.bin: 101 bytes is not a whole number of uint16"):
        TokenData.load(tmp_path / "n", 8, vocab_size=300)
