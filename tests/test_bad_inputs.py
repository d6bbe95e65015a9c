"""Hardening (issue #22): bad input is one clean error, a kill never loses a checkpoint.

* crash safety: a subprocess saves a checkpoint and is SIGKILLed at each rename of the save
  (and inside the deletion of the old folder); afterwards the checkpoint loads, and the next
  save leaves no hidden folder behind. The metrics log of a resumed run equals that of an
  uninterrupted one, a torn last line included;
* a table of bad inputs run through the CLI: each exits 2 with exactly one stderr line
  ``nanonlp: error: ...`` that names the file or value, no traceback, no file written or
  changed;
* library-level cases (sizes trusted before allocation, NaN vectors, bad query arguments,
  downloads, NER conversion and overrides);
* a hypothesis fuzz test: random bytes into every reader raise only nanonlp's own errors.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nanonlp.errors import ConfigError, DataError, NanonlpError
from nanonlp.fileio import atomic_dir, iter_lines, iter_text_chunks, read_text
from nanonlp.training.metrics import MetricsLog, read_records

SRC = Path(__file__).resolve().parents[1] / "src"

# a text that does not compress to nothing, so a cut-off stream is really cut off
_rng = random.Random(0)
_WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "and", "slept"]
TEXT = "".join(" ".join(_rng.choice(_WORDS) for _ in range(12)) + "\n" for _ in range(3000))


# ---------------------------------------------------------------------------------------------
# Crash safety: kill a checkpoint save at each step of its swap


KILL_SCRIPT = textwrap.dedent(r'''
    import os, shutil, signal, sys
    import torch
    from nanonlp.fileio import atomic_dir
    from nanonlp.training import checkpoint as ckpt

    root, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()

    def save(path, step):
        if mode == "checkpoint":
            ckpt.save_checkpoint(path, model, kind="toy", model_config={"n": 3},
                                 train_config={}, optimizer=opt,
                                 generator=torch.Generator().manual_seed(1),
                                 state={"step": step}, extra_files={"tokenizer.model": b"t"})
        else:  # a data folder: other files of the user's stay (gpt prepare's keep_others)
            with atomic_dir(path, keep_others=True) as d:
                for name in ("train.bin", "val.bin", "meta.json"):
                    (d / name).write_text(str(step))

    def fault(real, at, counter):
        def wrapped(*args, **kwargs):
            counter[0] += 1
            if counter[0] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapped

    # ("rename", k): die at the k-th os.rename/os.replace of the second save, until a save
    # finishes; ("unlink", 2): die while the old folder is being deleted
    def cases():
        for k in range(1, 30):
            yield "rename", k
            if finished:
                break
        yield "unlink", 2

    finished = False
    for what, k in cases():
        path = os.path.join(root, f"{what}{k}", "last")
        save(path, 1)
        if mode == "data":
            open(os.path.join(path, "notes.txt"), "w").write("mine")
        pid = os.fork()
        if pid == 0:
            counter = [0]
            if what == "rename":
                os.rename = fault(os.rename, k, counter)
                os.replace = fault(os.replace, k, counter)
            else:
                os.unlink = fault(os.unlink, k, counter)
            save(path, 2)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status)
        print(what, k, "killed" if killed else "finished", flush=True)
        finished = not killed
''')


def _kill_runs(tmp_path: Path, mode: str) -> list[tuple[str, int, bool]]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), mode], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = []
    for line in out.stdout.splitlines():
        what, k, how = line.split()
        runs.append((what, int(k), how == "killed"))
    return runs


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_checkpoint_survives_a_kill_at_every_step_of_the_save(tmp_path):
    import torch

    from nanonlp.training import checkpoint as ckpt

    runs = _kill_runs(tmp_path, "checkpoint")
    renames = [k for what, k, killed in runs if what == "rename"]
    final = renames[-1] - 1  # the number of renames in one save; the last swaps last/ in
    # 5 files written (each through a rename) + complete-mark + old aside + new in
    assert final == 8 and [killed for _, _, killed in runs] == [True] * final + [False, True]
    # the kill at the instant between the two renames of the swap: no last/ at all, and any
    # reader on its own (here load_weights, before read_meta) puts the newer copy back
    lost = tmp_path / f"rename{final}" / "last"
    assert not lost.exists()
    meta = json.loads(next(lost.parent.glob(".last.new-*/config.json")).read_text())
    ckpt.load_weights(lost, torch.nn.Linear(3, 2), meta)
    assert lost.is_dir() and len(_hidden(lost.parent)) == 1  # the .old- copy, until a save
    for what, k, _killed in runs:
        path = tmp_path / f"{what}{k}" / "last"
        meta = ckpt.read_meta(path, "toy")  # puts last/ back if the kill left it missing
        # a kill before the swap's last rename keeps the old step; at it or after, the new one
        want = 2 if what == "unlink" or k >= final else 1
        assert meta["state"]["step"] == want, (what, k)
        model = torch.nn.Linear(3, 2)
        opt = torch.optim.AdamW(model.parameters())
        ckpt.load_weights(path, model, meta)
        ckpt.load_training_state(path, meta, opt, torch.Generator())
        assert (path / "tokenizer.model").read_bytes() == b"t"
        # the next save removes what the kill left behind
        ckpt.save_checkpoint(path, model, kind="toy", model_config={"n": 3}, optimizer=opt,
                             state={"step": 3})
        assert _hidden(path.parent) == [], (what, k)
        assert ckpt.read_meta(path)["state"]["step"] == 3


def test_data_folder_survives_kills_and_keeps_the_users_files(tmp_path):
    runs = _kill_runs(tmp_path, "data")
    final = [k for what, k, _ in runs if what == "rename"][-1] - 1
    assert final == 4  # 3 files written directly, then complete-mark + old aside + new in
    for what, k, _killed in runs:
        path = tmp_path / f"{what}{k}" / "last"
        with atomic_dir(path, keep_others=True) as d:  # the next prepare
            for name in ("train.bin", "val.bin", "meta.json"):
                (d / name).write_text("3")
        assert _hidden(path.parent) == [], (what, k)
        assert sorted(p.name for p in path.iterdir()) == [
            "meta.json", "notes.txt", "train.bin", "val.bin"], (what, k)
        assert (path / "notes.txt").read_text() == "mine"


TRAIN_KILL_SCRIPT = textwrap.dedent(r'''
    import os, signal, sys
    from nanonlp.cli import main

    where, argv = sys.argv[1], sys.argv[2:]
    seen = set()

    def fault(real):
        def wrapped(src, dst, *args, **kwargs):
            s, d = os.path.basename(os.fspath(src)), os.path.dirname(os.fspath(dst))
            if where == "body" and os.path.basename(d).startswith(".last.tmp-"):
                seen.add(d)  # a file written into a new last/ folder
                if len(seen) == 2:  # the second save of last/ (step 4), half-written
                    os.kill(os.getpid(), signal.SIGKILL)
            if where == "swap" and s.startswith(".last.new-"):
                seen.add(s)
                if len(seen) == 2:  # the second save of last/, between its two renames
                    os.kill(os.getpid(), signal.SIGKILL)
            if where == "first" and os.path.basename(d).startswith(".last.tmp-"):
                os.kill(os.getpid(), signal.SIGKILL)  # the first save of last/, half-written
            if where == "plot" and s.startswith(".loss.png."):
                seen.add(s)
                if len(seen) == 2:  # the second loss.png (step 4), before its rename
                    os.kill(os.getpid(), signal.SIGKILL)
            if where == "corpus" and os.path.basename(d).startswith(".data.tmp-"):
                os.kill(os.getpid(), signal.SIGKILL)  # bert's first corpus build, half-written
            return real(src, dst, *args, **kwargs)
        return wrapped

    os.rename, os.replace = fault(os.rename), fault(os.replace)
    sys.exit(main(argv))
''')


@pytest.mark.parametrize("where", ["body", "swap", "plot", "first"])
def test_gpt_train_killed_mid_save_resumes(where, tmp_path, capsys, torch_one_thread):
    """`gpt train` SIGKILLed while saving last/ at step 4, while drawing loss.png at step 4, or
    in the first save of last/ (step 2): the next run resumes (or, with no last/, starts
    again in the same folder) and ends with a loadable checkpoint and no hidden file."""
    from nanonlp.cli import main
    from nanonlp.training import checkpoint as ckpt

    (tmp_path / "text.txt").write_text(TEXT[:20000])
    data, run = tmp_path / "d", tmp_path / "run"
    assert main(["gpt", "prepare", "--source", str(tmp_path / "text.txt"), "--out",
                 str(data)]) == 0
    train = ["gpt", "train", str(data), "--preset", "tiny", "--train.eval_interval", "2",
             "--train.eval_steps", "1", "--train.device", "cpu", "--train.out", str(run)]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", TRAIN_KILL_SCRIPT, where, *train,
                          "--train.max_steps", "6"], env=env, capture_output=True,
                         timeout=300)
    assert out.returncode == -9, out.stderr[-2000:]
    assert (run / "last").exists() == (where in ("body", "plot"))  # the swap kill lost last/
    assert _hidden(run), "the kill left nothing to clean"
    # no last/ to resume from: a new run in the same folder, of one save (its first save of
    # last/ must already remove what the kill left)
    again = ["--train.max_steps", "2"] if where == "first" else \
        ["--resume", str(run / "last"), "--train.max_steps", "6"]
    assert main([*train, *again]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    end = 2 if where == "first" else 6
    assert ckpt.read_meta(run / "last", "gpt")["state"]["step"] == end
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    # resumed from step 2 (body) or 4 (swap, plot), the log is the uninterrupted run's: logged
    # at step 1 and at every save. Step 4's record was saved in last/ but never logged (the
    # kill came first): the checkpoint carries it and the resumed run puts it back
    assert steps == ([1, 2] if where == "first" else [1, 2, 4, 6]), steps


def test_bert_pretrain_killed_in_its_first_corpus_build_leaves_nothing(tmp_path, capsys,
                                                                      torch_one_thread):
    """A kill while the first corpus folder is half-written leaves a hidden .data.tmp-
    folder; the rerun builds the corpus, trains, and removes it."""
    from nanonlp.bpe import BPEConfig, Tokenizer
    from nanonlp.cli import main

    lines = ["the cat sat on the mat .", "a dog ran in the park ."] * 6
    (tmp_path / "text.txt").write_text("\n".join(lines) + "\n")
    Tokenizer.train(lines, BPEConfig(vocab_size=280, special=("[CLS]", "[SEP]", "[MASK]",
                                                              "[PAD]"), workers=1)).save(
        tmp_path / "tok")
    argv = ["bert", "pretrain", "--preset", "tiny", "--sources", str(tmp_path / "text.txt"),
            "--data", str(tmp_path / "data"), "--tokenizer", str(tmp_path / "tok.model"),
            "--val_fraction", "0.3", "--model.n_layer", "1", "--model.n_embd", "32",
            "--model.block_size", "16", "--train.max_steps", "2", "--train.eval_interval",
            "2", "--train.eval_steps", "1", "--train.batch_size", "4", "--train.device", "cpu",
            "--train.out", str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", TRAIN_KILL_SCRIPT, "corpus", *argv], env=env,
                         capture_output=True, timeout=300)
    assert out.returncode == -9, out.stderr[-2000:]
    assert not (tmp_path / "data").exists() and _hidden(tmp_path)
    assert main(argv) == 0
    capsys.readouterr()
    assert _hidden(tmp_path) == [] and _hidden(tmp_path / "run") == []
    assert (tmp_path / "data" / "meta.json").is_file()


def test_atomic_dir_recovers_leftovers_of_older_versions(tmp_path):
    """An older nanonlp renamed last/ aside after the body finished: .tmp-X beside .old-X."""
    from nanonlp.fileio import recover_dir

    (tmp_path / ".last.old-ab12").mkdir()
    (tmp_path / ".last.old-ab12" / "config.json").write_text("old")
    (tmp_path / ".last.tmp-ab12").mkdir()
    (tmp_path / ".last.tmp-ab12" / "config.json").write_text("new")
    (tmp_path / ".last.tmp-zz99").mkdir()  # half-written by a kill during the body
    assert recover_dir(tmp_path / "last")
    assert (tmp_path / "last" / "config.json").read_text() == "new"
    with atomic_dir(tmp_path / "last") as d:
        (d / "config.json").write_text("newer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


# ---------------------------------------------------------------------------------------------
# metrics.jsonl: one line per record, truncated on resume


def test_metrics_are_appended_as_they_come_and_truncated_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    full = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    log = MetricsLog(path, resume_step=0)
    for r in full[:7]:
        log.add(r)
        # each record is on disk at once: a kill now loses nothing before it
        assert path.read_text().splitlines()[-1] == json.dumps(r)
    # killed at step 7 while writing step 8's line; the checkpoint is of step 5
    with open(path, "a") as f:
        f.write('{"step": 8, "lo')
    log = MetricsLog(path, resume_step=5)
    assert [r["step"] for r in log.records] == [1, 2, 3, 4, 5]
    for r in full[5:]:
        log.add(r)
    log.flush()
    assert [json.loads(x) for x in path.read_text().splitlines()] == full
    assert [r["step"] for r in log.records] == list(range(1, 11))
    # a fresh run (resume_step 0, or none) starts the file afresh
    assert MetricsLog(path, resume_step=0).records == [] and path.read_text() == ""


def test_metrics_bad_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(DataError, match=r"metrics.jsonl:2: not a metrics record"):
        MetricsLog(path, resume_step=5)
    assert path.read_text() == '{"step": 1}\nnot json\n{"step": 3}\n'  # untouched
    path.write_bytes(b'{"step": 1}\n{"step": "x"}\n')
    with pytest.raises(DataError, match=r"metrics.jsonl:2"):
        read_records(path)
    path.write_bytes(b'{"step": 1}\n{"st\xff')  # torn, even mid-character: dropped
    assert read_records(path) == [{"step": 1}]


def test_metrics_write_only_on_rank_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    log = MetricsLog(tmp_path / "m.jsonl", resume_step=0)
    log.add({"step": 1})
    assert log.records == [{"step": 1}] and not (tmp_path / "m.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# The bad-input table, through the CLI


def _damaged_files() -> dict[str, bytes]:
    data = TEXT.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m.txt", data)
    z = buf.getvalue()
    corrupt = bytearray(z)
    for i in range(200, 400):  # inside the compressed member; the directory stays readable
        corrupt[i] ^= 0x5A
    return {
        "trunc.txt.gz": gzip.compress(data)[:500],
        "trunc.txt.xz": lzma.compress(data)[:500],
        "trunc.txt.bz2": bz2.compress(data)[:500],
        "garbage.txt.gz": b"this is not gzip data\n" * 5,
        "garbage.txt.xz": b"this is not xz data\n" * 5,
        "garbage.txt.bz2": b"this is not bzip2 data\n" * 5,
        "garbage.zip": b"PK\x03\x04 this is not a zip archive" * 5,
        "trunc.zip": z[: len(z) // 2],
        "corrupt.zip": bytes(corrupt),
    }


def _member(name: str) -> str:
    return f"{name}::m.txt" if name.endswith(".zip") else name


def _vectors_text(rows: dict[str, list[float]]) -> str:
    d = len(next(iter(rows.values())))
    return f"{len(rows)} {d}\n" + "".join(
        w + " " + " ".join(repr(x) for x in v) + "\n" for w, v in rows.items())


def _vectors_binary(rows: dict[str, list[float]]) -> bytes:
    d = len(next(iter(rows.values())))
    return f"{len(rows)} {d}\n".encode() + b"".join(
        w.encode() + b" " + struct.pack(f"<{d}f", *v) + b"\n" for w, v in rows.items())


GOOD_ROWS = {"the": [1.0, 0.0, 0.5], "cat": [0.0, 1.0, 0.5], "sat": [1.0, 1.0, 0.0],
             "mat": [0.2, 0.1, 0.9]}
NAN_ROWS = {**GOOD_ROWS, "cat": [0.0, math.nan, 0.5]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Every input file the table uses, made once (outside each case's watched folder)."""
    from nanonlp.bpe import BPEConfig, Tokenizer

    d = tmp_path_factory.mktemp("inputs")
    for name, data in _damaged_files().items():
        (d / name).write_bytes(data)
    (d / "text.txt").write_text(TEXT)
    (d / "empty.conll").write_text("")
    tok = Tokenizer.train(TEXT[:3000], BPEConfig(vocab_size=270, special=("<|endoftext|>",)))
    tok.save(d / "tok")
    model = (d / "tok.model").read_text().splitlines()
    bad = [line.rsplit(" ", 1)[0] + " 4000000000" if line.startswith('"<|endoftext|>"')
           else line for line in model]
    (d / "bigid.model").write_text("\n".join(bad) + "\n")
    (d / "huge.txt").write_text("100000000000 100000\nthe 1 2 3\n")
    (d / "huge.bin").write_bytes(b"100000000000 100000\nthe " + b"\0" * 12)
    with gzip.open(d / "huge.txt.gz", "wt") as f:
        f.write("100000000000 100000\nthe 1 2 3\n")
    (d / "ok.txt").write_text(_vectors_text(GOOD_ROWS))
    (d / "nan.txt").write_text(_vectors_text(NAN_ROWS))
    (d / "nan.bin").write_bytes(_vectors_binary(NAN_ROWS))
    (d / "inf.bin").write_bytes(_vectors_binary({**GOOD_ROWS, "sat": [math.inf, 0.0, 0.0]}))
    np.savez(d / "nan.npz", words=np.array(list(NAN_ROWS)), vectors=np.array(
        list(NAN_ROWS.values()), dtype=np.float32), counts=np.zeros(0, int))
    return d


@pytest.fixture(scope="module")
def ner_inputs(inputs) -> Path:
    """A blank spaCy pipeline (for `ner tag`) and tiny train/dev DocBins (for `ner train`)."""
    pytest.importorskip("spacy")
    import spacy

    from nanonlp.ner.convert import ConvertConfig, convert

    spacy.blank("en").to_disk(inputs / "blank_pipeline")
    conll = "Ada B-PER\nLovelace I-PER\nwrote O\n.\tO\n\nParis B-LOC\nis O\nbig O\n"
    (inputs / "tiny.conll").write_text(conll.replace("\t", " "))
    for split in ("train", "dev"):
        convert(ConvertConfig(input=str(inputs / "tiny.conll"),
                              output=str(inputs / f"{split}.spacy")))
    return inputs


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns) if p.is_file() \
                else (-1, 0)
    return out


# (id, argv with {in} for the inputs folder and {out} for the watched folder, what the one
# error line must contain). {out} starts empty and must stay empty.
CLI_CASES = [
    # item 4: damaged compressed and archived input, in every verb that reads text
    *[(f"bpe-train-{n}", ["bpe", "train", "{in}/" + _member(n), "--out", "{out}/tok",
                          "--vocab_size", "300"], n)
      for n in ("trunc.txt.gz", "trunc.txt.xz", "garbage.txt.gz", "garbage.txt.bz2",
                "garbage.zip", "corrupt.zip")],
    *[(f"bpe-encode-{n}", ["bpe", "encode", "{in}/tok.model", "--input", "{in}/" + _member(n),
                           "--output", "{out}/ids.npy"], n)
      for n in ("trunc.txt.xz", "garbage.txt.xz", "trunc.zip", "trunc.txt.bz2")],
    *[(f"w2v-train-{n}", ["word2vec", "train", "{in}/" + _member(n), "--out", "{out}/v.bin",
                          "--min_count", "1", "--epochs", "1"], n)
      for n in ("trunc.txt.gz", "garbage.txt.xz", "garbage.txt.bz2", "corrupt.zip",
                "garbage.zip")],
    *[(f"gpt-prepare-{n}", ["gpt", "prepare", "--source", "{in}/" + _member(n), "--out",
                            "{out}/data"], n)
      for n in ("trunc.txt.xz", "garbage.txt.gz", "corrupt.zip", "trunc.txt.bz2")],
    # item 6: sizes in headers checked against the file before anything is allocated
    ("w2v-huge-text", ["word2vec", "similar", "the", "--vectors", "{in}/huge.txt"],
     "huge.txt:1: the header '100000000000 100000' announces"),
    ("w2v-huge-binary", ["word2vec", "similar", "the", "--vectors", "{in}/huge.bin"],
     "huge.bin:1: the header"),
    ("w2v-huge-gz", ["word2vec", "similar", "the", "--vectors", "{in}/huge.txt.gz"],
     "huge.txt.gz"),
    ("bpe-encode-special-id-4e9", ["bpe", "encode", "{in}/bigid.model", "--input",
                                   "{in}/text.txt", "--output", "{out}/ids.npy"],
     "bigid.model:4: special token '<|endoftext|>' has id 4,000,000,000"),
    ("gpt-prepare-special-id-4e9", ["gpt", "prepare", "--source", "{in}/text.txt",
                                    "--tokenizer", "{in}/bigid.model", "--out", "{out}/data"],
     "bigid.model:4"),
    # item 7: NaN vectors and out-of-range query arguments
    ("w2v-similar-nan-text", ["word2vec", "similar", "the", "--vectors", "{in}/nan.txt"],
     "nan.txt:3: the vector of 'cat' holds nan"),
    ("w2v-similar-nan-binary", ["word2vec", "similar", "the", "--vectors", "{in}/nan.bin"],
     "nan.bin: entry 2"),
    ("w2v-similar-inf-binary", ["word2vec", "similar", "the", "--vectors", "{in}/inf.bin",
                                "--method", "mul"], "the vector of 'sat' holds inf"),
    ("w2v-similar-nan-npz", ["word2vec", "similar", "the", "--vectors", "{in}/nan.npz"],
     "nan.npz: the vector of 'cat' (entry 2) holds nan"),
    ("w2v-plot-nan", ["word2vec", "plot", "{in}/nan.txt", "--words", "the", "cat", "sat",
                      "--out", "{out}/w.png"], "nan.txt:3"),
    ("w2v-topn-0", ["word2vec", "similar", "the", "--vectors", "{in}/ok.txt", "--topn", "0"],
     "argument --topn: must be an integer >= 1, got '0'"),
    ("w2v-topn-neg", ["word2vec", "similar", "the", "--vectors", "{in}/ok.txt", "--topn",
                      "-1", "--method", "mul"], "got '-1'"),
    ("w2v-eval-restrict-neg", ["word2vec", "eval", "{in}/ok.txt", "--restrict_vocab", "-1",
                               "--json", "{out}/r.json"], "argument --restrict_vocab: must be"),
    ("w2v-train-ns-nan", ["word2vec", "train", "{in}/text.txt", "--ns_exponent", "nan",
                          "--out", "{out}/v.bin"], "ns_exponent must be a finite number"),
    ("w2v-train-alpha-nan", ["word2vec", "train", "{in}/text.txt", "--alpha", "nan", "--out",
                             "{out}/v.bin"], "alpha"),
    ("gpt-sample-temperature-nan", ["gpt", "sample", "{out}/ckpt", "--temperature", "nan"],
     "temperature must be a finite number >= 0 (0: greedy), got nan"),
    ("gpt-sample-temperature-neg", ["gpt", "sample", "{out}/ckpt", "--temperature", "-1"],
     "got -1"),
    ("gpt-sample-top-p-nan", ["gpt", "sample", "{out}/ckpt", "--top_p", "nan"],
     "top_p must be in (0, 1], got nan"),
]

NER_CASES = [
    *[(f"ner-tag-{n}", ["ner", "tag", "{in}/blank_pipeline", "--input", "{in}/" + _member(n)],
       n) for n in ("trunc.txt.gz", "garbage.txt.xz", "corrupt.zip")],
    ("ner-convert-gz", ["ner", "convert", "{in}/trunc.txt.gz", "{out}/x.spacy"],
     "trunc.txt.gz"),
    # item 9
    ("ner-convert-empty", ["ner", "convert", "{in}/empty.conll", "{out}/x.spacy"],
     "empty.conll: no documents"),
    ("ner-train-unknown-section", ["ner", "train", "{in}/train.spacy", "{in}/dev.spacy",
                                   "--out", "{out}/run", "--overrides", "nosuch.key=1"],
     "override 'nosuch.key': no section 'nosuch'"),
    ("ner-train-unknown-key", ["ner", "train", "{in}/train.spacy", "{in}/dev.spacy", "--out",
                               "{out}/run", "--overrides", "training.dropot=0.2"],
     "no key 'dropot' in [training]"),
    ("ner-train-wrong-type", ["ner", "train", "{in}/train.spacy", "{in}/dev.spacy", "--out",
                              "{out}/run/nested", "--overrides", 'training.dropout="high"'],
     "spaCy refuses the config: dropout"),
]


# Cases whose error comes from inside spaCy's config resolution, after `nanonlp ner train`
# has drawn its (empty) progress bar: the bar's lines are tolerated until the CLI draws the
# bar only once the first step arrives.
BAR_BEFORE_ERROR: set[str] = set()  # the ner bar now starts with the first step


def _run_cli(argv: list[str], inputs: Path, out: Path, capsys, bar_ok: bool = False
             ) -> list[str]:
    import re

    from nanonlp.cli import main

    argv = [a.replace("{in}", str(inputs)).replace("{out}", str(out)) for a in argv]
    before_in = _snapshot(inputs)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:  # a flag's value refused by the parser: the same one line, exit 2
        rc = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    if bar_ok:
        lines = [line for line in lines if not re.match(r"[\w ]+: +0%\|", line)]
    assert rc == 2, (rc, err[-2000:])
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("nanonlp: error: "), err[-2000:]
    assert list(out.iterdir()) == [], "files left behind"
    assert _snapshot(inputs) == before_in, "an input was changed"
    return lines


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_clean_line(case, inputs, tmp_path, capsys, torch_one_thread):
    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    (line,) = _run_cli(argv, inputs, out, capsys)
    assert want in line, line


@pytest.mark.parametrize("case", NER_CASES, ids=[c[0] for c in NER_CASES])
def test_cli_ner_bad_input_is_one_clean_line(case, ner_inputs, tmp_path, capsys):
    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    (line,) = _run_cli(argv, ner_inputs, out, capsys, bar_ok=case[0] in BAR_BEFORE_ERROR)
    assert want in line, line


# ---------------------------------------------------------------------------------------------
# Round two (issue #30): the verbs added since, tried as a new user would


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _hand_edited_index(folder: Path, name: str, data: bytes, **changes) -> None:
    """An index whose sidecar was edited to go with ``data`` (its hash made to match)."""
    import hashlib

    meta = json.loads((folder / "vecs.npy.json").read_text())
    meta.update(changes, npy_sha256=hashlib.sha256(data).hexdigest())
    meta = {k: v for k, v in meta.items() if v is not None}
    (folder / name).write_bytes(data)
    (folder / f"{name}.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def bert_inputs(inputs) -> Path:
    """A tiny BERT checkpoint, its index of 3 lines, and hand-edited indexes beside it."""
    import torch

    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.embed import embed_file
    from nanonlp.bert.model import BertForMaskedLM, save_bert
    from nanonlp.bpe import BPEConfig, Tokenizer

    d = inputs / "bert"
    d.mkdir()
    specials = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
    tok = Tokenizer.train(["the cat sat on the mat"] * 3, BPEConfig(
        vocab_size=280, special=specials, workers=1))
    tok.save(d / "tok")
    ids = {k: tok.special_tokens[s] for k, s in
           zip(("cls_id", "sep_id", "mask_id", "pad_id"), specials, strict=True)}
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8,
                     **ids)
    save_bert(BertForMaskedLM(cfg), d / "ckpt", d / "tok.model")
    (d / "lines.txt").write_text("the cat\nsat on\nthe mat\n")
    embed_file(d / "ckpt", d / "lines.txt", d / "vecs.npy", progress=False)
    good = np.load(d / "vecs.npy")
    lines = ["the cat", "sat on", "the mat"]
    nan = good.copy()
    nan[1, 3] = np.nan
    edits = {
        "object.npy": (_npy(np.array([{"a": 1}, None, "x"], dtype=object)), {}),
        "notnpy.npy": (b"these are not the bytes of a .npy file\n" * 3, {}),
        "nolines.npy": ((d / "vecs.npy").read_bytes(), {"lines": None}),
        "fewlines.npy": ((d / "vecs.npy").read_bytes(), {"lines": lines[:2]}),
        "wide.npy": (_npy(np.ones((3, 5), np.float32)), {"dim": 5}),
        "flat.npy": (_npy(np.ones(3, np.float32)), {}),
        "nanrow.npy": (_npy(nan), {}),
        "norows.npy": (_npy(np.zeros((0, 8), np.float32)), {"lines": [], "rows": 0}),
        "short.npy": (_npy(np.ones((3, 8), np.float32))[:-40], {}),
    }
    for name, (data, changes) in edits.items():
        _hand_edited_index(d, name, data, **changes)
    return d


def _search(index: str, *query: str) -> list[str]:
    return ["bert", "search", "{in}/bert/ckpt", "{in}/bert/" + index, *(query or ("cat",))]


BERT_CASES = [
    ("search-object-array", _search("object.npy"), "object.npy: holds Python objects"),
    ("search-not-npy", _search("notnpy.npy"), "notnpy.npy: not a .npy matrix"),
    ("search-no-lines", _search("nolines.npy"), "nolines.npy.json: no 'lines'"),
    ("search-fewer-lines", _search("fewlines.npy"),
     "fewlines.npy.json: 2 lines for the 3 rows of fewlines.npy"),
    ("search-other-width", _search("wide.npy"),
     "wide.npy: rows of width 5, but the model's vectors have width 8"),
    ("search-1d", _search("flat.npy"), "flat.npy: an array of shape (3,)"),
    ("search-nan-row", _search("nanrow.npy"), "nanrow.npy: row 2 ('sat on') holds nan"),
    ("search-no-rows", _search("norows.npy"), "norows.npy: holds no rows"),
    ("search-cut-short", _search("short.npy"), "short.npy: not a .npy matrix"),
    ("search-empty-query", _search("vecs.npy", "cat", " "), "query 2 is empty"),
]


@pytest.mark.parametrize("case", BERT_CASES, ids=[c[0] for c in BERT_CASES])
def test_cli_bert_bad_input_is_one_clean_line(case, bert_inputs, tmp_path, capsys,
                                              torch_one_thread):
    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    (line,) = _run_cli(argv, bert_inputs.parent, out, capsys)
    assert want in line, line


def test_bert_embed_leaves_nothing_when_the_sidecar_is_a_folder(bert_inputs, tmp_path, capsys,
                                                                torch_one_thread):
    from nanonlp.cli import main

    (tmp_path / "v.npy.json").mkdir()
    before = _snapshot(tmp_path)
    rc = main(["bert", "embed", str(bert_inputs / "ckpt"), str(bert_inputs / "lines.txt"),
               "--out", str(tmp_path / "v.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "v.npy.json: is a folder" in err, err
    assert _snapshot(tmp_path) == before  # no v.npy without its .json


@pytest.fixture(scope="module")
def hf_inputs(inputs) -> Path:
    """Tiny transformers GPT-2 and BERT folders, each also with a NaN weight, an int64 weight,
    and a pytorch_model.bin that is a bare pickle."""
    import pickle

    import torch
    from safetensors.torch import load_file, save_file

    transformers = pytest.importorskip("transformers")
    d = inputs / "hf"
    torch.manual_seed(0)
    gpt = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=64, n_positions=16, n_embd=8, n_layer=1, n_head=2))
    gpt.save_pretrained(d / "gpt")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefgh", *("##" + c for c in
                                                                          "abcdefgh")]
    bert = transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16))
    bert.save_pretrained(d / "bert")
    (d / "bert" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (d / "bert" / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    bad = {"gpt": "transformer.h.0.mlp.c_fc.weight", "bert": "bert.encoder.layer.0.output.dense.weight"}
    for part, name in bad.items():
        for kind in ("nan", "int", "pickle"):
            folder = d / f"{part}-{kind}"
            folder.mkdir()
            for f in (d / part).iterdir():
                if f.name != "model.safetensors":
                    (folder / f.name).write_bytes(f.read_bytes())
            sd = load_file(d / part / "model.safetensors")
            if kind == "pickle":
                (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"a": 1}, protocol=4))
                continue
            sd[name] = torch.full_like(sd[name], math.nan) if kind == "nan" else \
                torch.ones(sd[name].shape, dtype=torch.int64)
            save_file(sd, folder / "model.safetensors")
    return d


def _import(part: str, kind: str) -> list[str]:
    return [part, "import", f"{{in}}/hf/{part}-{kind}", "{out}/ckpt"]


IMPORT_CASES = [
    ("gpt-import-nan", _import("gpt", "nan"),
     "gpt-nan/model.safetensors: transformer.h.0.mlp.c_fc.weight holds nan"),
    ("gpt-import-int64", _import("gpt", "int"),
     "gpt-int/model.safetensors: transformer.h.0.mlp.c_fc.weight holds torch.int64, not floating point"),
    ("gpt-import-bare-pickle", _import("gpt", "pickle"),
     "gpt-pickle/pytorch_model.bin: refused: not a plain file of tensors (Unsupported"),
    ("bert-import-nan", _import("bert", "nan"),
     "bert-nan/model.safetensors: bert.encoder.layer.0.output.dense.weight holds nan"),
    ("bert-import-int64", _import("bert", "int"),
     "dense.weight holds torch.int64, not floating point"),
    ("bert-import-bare-pickle", _import("bert", "pickle"), "pytorch_model.bin: refused: "),
]


@pytest.mark.parametrize("case", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_cli_import_bad_weights_are_one_clean_line(case, hf_inputs, tmp_path, capsys,
                                                   torch_one_thread):
    import warnings

    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    with warnings.catch_warnings(record=True) as seen:  # a warning is a second stderr line
        warnings.simplefilter("always")
        (line,) = _run_cli(argv, hf_inputs.parent, out, capsys)
    assert want in line, line
    assert [str(w.message)[:80] for w in seen] == []


@pytest.fixture(scope="module")
def more_inputs(inputs) -> Path:
    """The inputs of the round-two table that need no model."""
    (inputs / "abc.txt").write_text("abc")
    _corpus_inputs(inputs)
    return inputs


def _corpus_inputs(d: Path) -> None:
    """Bad corpora for the streamed `gpt prepare` and bad shard folders (issue #31)."""
    from nanonlp.gpt.data import PrepareConfig, prepare

    for name, data in (("badutf8", b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
                       ("nofield", b'{"text": "ok"}\n{"body": "x"}\n'),
                       ("nodocs", b"\n\n")):
        (d / f"docs_{name}").mkdir()
        (d / f"docs_{name}" / "a.jsonl").write_bytes(data)
    (d / "docs_parquet").mkdir()
    with contextlib.suppress(ImportError):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"body": ["a b"]}), d / "docs_parquet" / "x.parquet")
    (d / "docs_ok").mkdir()
    (d / "docs_ok" / "a.jsonl").write_text("".join(
        json.dumps({"text": f"{TEXT[i:i + 300]} {i}"}) + "\n" for i in range(0, 3000, 30)))
    prepare(PrepareConfig(source=str(d / "docs_ok"), out=str(d / "shards"), shard_tokens=500,
                          tokenizer=str(d / "tok.model"), val_fraction=0.3))
    shard = d / "shards" / "train_000001.bin"
    shard.write_bytes(shard.read_bytes()[:-2] + b"\x01\x00")
    (d / "odd_bin").mkdir()
    (d / "odd_bin" / "train.bin").write_bytes(b"\x01\x00" * 100 + b"\x01")
    (d / "odd_bin" / "val.bin").write_bytes(b"\x01\x00" * 100)


MORE_CASES = [
    ("translate-evaluate-alpha-nan", ["translate", "evaluate", "{out}/ckpt", "--alpha", "nan"],
     "alpha must be a finite number, got nan"),
    ("translate-run-alpha-inf", ["translate", "run", "{out}/ckpt", "a cat", "--alpha", "inf"],
     "alpha must be a finite number, got inf"),
    ("gpt-prepare-3-characters", ["gpt", "prepare", "--source", "{in}/abc.txt", "--out",
                                  "{out}/data"],
     "abc.txt: the val split holds 1 token; a split needs block_size + 1 tokens for one "
     "window (2 at the least)"),
    # issue #31: corpora of documents and shard folders
    ("gpt-prepare-jsonl-bad-utf8", ["gpt", "prepare", "--source", "{in}/docs_badutf8", "--out",
                                    "{out}/d", "--tokenizer", "{in}/tok.model"],
     "a.jsonl:2: not valid UTF-8 (byte 0xe9 at byte offset 28)"),
    ("gpt-prepare-jsonl-no-field", ["gpt", "prepare", "--source", "{in}/docs_nofield", "--out",
                                    "{out}/d", "--tokenizer", "{in}/tok.model"],
     "a.jsonl:2: no 'text' text field"),
    ("gpt-prepare-parquet-no-column", ["gpt", "prepare", "--source", "{in}/docs_parquet/*",
                                       "--out", "{out}/d", "--tokenizer", "{in}/tok.model"],
     "x.parquet"),
    ("gpt-prepare-no-documents", ["gpt", "prepare", "--source", "{in}/docs_nodocs", "--out",
                                  "{out}/d", "--tokenizer", "{in}/tok.model"],
     "the train split holds 0 tokens (0 documents in all)"),
    ("gpt-train-shard-sha256", ["gpt", "train", "{in}/shards", "--train.out", "{out}/run",
                                "--preset", "tiny", "--train.device", "cpu"],
     "train_000001.bin: sha256 differs from meta.json's"),
    ("gpt-train-odd-bin", ["gpt", "train", "{in}/odd_bin", "--vocab_size", "300",
                           "--train.out", "{out}/run", "--preset", "tiny", "--train.device",
                           "cpu"], "train.bin: 201 bytes is not a whole number of uint16 ids"),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=[c[0] for c in MORE_CASES])
def test_cli_round_two_bad_input_is_one_clean_line(case, more_inputs, tmp_path, capsys,
                                                   torch_one_thread):
    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    (line,) = _run_cli(argv, more_inputs, out, capsys)
    assert want in line, line


def test_gpt_prepare_reads_a_zip_member(tmp_path, capsys):
    from nanonlp.cli import main

    with zipfile.ZipFile(tmp_path / "fra-eng.zip", "w") as zf:
        zf.writestr("fra.txt", TEXT[:5000])
    assert main(["gpt", "prepare", "--source", f"{tmp_path}/fra-eng.zip::fra.txt", "--out",
                 str(tmp_path / "data")]) == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    assert meta["characters"] == 5000 and meta["source"].endswith("fra-eng.zip::fra.txt")


@pytest.mark.parametrize("where", ["port-in-use", "host-unresolved"])
def test_serve_that_cannot_listen_is_one_clean_line(where, inputs, tmp_path, capsys):
    """Checked before any model is loaded: exit 2 and one line, not uvicorn's log and exit 3."""
    import socket

    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        host = "127.0.0.1" if where == "port-in-use" else "no-such-host.invalid"
        want = f"127.0.0.1:{port}: cannot listen (" if where == "port-in-use" else \
            "--host no-such-host.invalid: does not resolve ("
        out = tmp_path / "out"
        out.mkdir()
        (line,) = _run_cli(["serve", "--bpe", "{in}/tok.model", "--host", host, "--port",
                            str(port)], inputs, out, capsys)
    assert want in line, line


def _own(fmt: str, bad: bytes, line: int = 2) -> bytes:
    """Six good examples of two labels in format ``fmt``, with ``bad`` as line ``line``."""
    good = [(t, "pos" if i % 2 else "neg") for i, t in enumerate(
        ["the cat", "sat on", "the mat", "a cat sat", "on the", "mat cat"])]
    rows = [{"tsv": f"{t}\t{lab}", "csv": f'"{t}",{lab}',
             "jsonl": json.dumps({"text": t, "label": lab})}[fmt].encode() for t, lab in good]
    rows.insert(line - 1, bad)
    return b"\n".join(rows) + b"\n"


OWN_FILES = {
    "float-label.jsonl": _own("jsonl", b'{"text": "sat on", "label": 1.5}'),
    "nan-label.jsonl": _own("jsonl", b'{"text": "the cat", "label": NaN}', 1),
    "bool-label.jsonl": _own("jsonl", b'{"text": "the cat", "label": true}', 1),
    "nul-label.tsv": _own("tsv", b"sat on\tpo\x00s"),
    "nul-text.tsv": _own("tsv", b"the c\x00at\tpos", 1),
    "nul-text.csv": b"text,label\n" + _own("csv", b'"sat\x00 on",neg'),
    "nul-text.jsonl": _own("jsonl", b'{"text": "sat \\u0000", "label": "neg"}'),
}


def _finetune(name: str) -> list[str]:
    return ["bert", "finetune", "{in}/bert/ckpt", "--train", "{in}/own/" + name,
            "--train.out", "{out}/ft", "--train.max_steps", "1", "--train.eval_steps", "1",
            "--train.device", "cpu"]


OWN_CASES = [
    ("jsonl-float-label", _finetune("float-label.jsonl"),
     "float-label.jsonl:2: 'label' must be a string or an integer, got 1.5"),
    ("jsonl-nan-label", _finetune("nan-label.jsonl"),
     "nan-label.jsonl:1: 'label' must be a string or an integer, got NaN"),
    ("jsonl-bool-label", _finetune("bool-label.jsonl"),
     "bool-label.jsonl:1: 'label' must be a string or an integer, got true"),
    ("tsv-nul-label", _finetune("nul-label.tsv"), "nul-label.tsv:2: a NUL byte in the label"),
    ("tsv-nul-text", _finetune("nul-text.tsv"), "nul-text.tsv:1: a NUL byte in the text"),
    ("csv-nul-text", _finetune("nul-text.csv"), "nul-text.csv:3: a NUL byte in the text"),
    ("jsonl-nul-text", _finetune("nul-text.jsonl"), "nul-text.jsonl:2: a NUL byte in 'text'"),
]


@pytest.fixture(scope="module")
def own_inputs(bert_inputs) -> Path:
    d = bert_inputs.parent / "own"
    d.mkdir()
    for name, data in OWN_FILES.items():
        (d / name).write_bytes(data)
    return bert_inputs.parent


@pytest.mark.parametrize("case", OWN_CASES, ids=[c[0] for c in OWN_CASES])
def test_cli_own_data_bad_input_is_one_clean_line(case, own_inputs, tmp_path, capsys,
                                                  torch_one_thread):
    _, argv, want = case
    out = tmp_path / "out"
    out.mkdir()
    (line,) = _run_cli(argv, own_inputs, out, capsys)
    assert want in line, line


@pytest.mark.parametrize("name, data", [
    ("headerless.tsv", "\ufeffthe cat\tpos\nsat on\tneg\n"),
    ("header.tsv", "\ufeffsentence\tlabel\nthe cat\tpos\nsat on\tneg\n"),
    ("header.csv", "\ufeffsentence,label\nthe cat,pos\nsat on,neg\n"),
    ("headerless.csv", "\ufeffthe cat,pos\nsat on,neg\n"),
    ("records.jsonl", '\ufeff{"text": "the cat", "label": "pos"}\n{"text": "sat on", '
                      '"label": "neg"}\n'),
])
def test_own_data_readers_strip_a_utf8_bom(name, data, tmp_path):
    from nanonlp.datasets.labelled import read_labelled

    (tmp_path / name).write_text(data, encoding="utf-8")
    got = [(r.text, r.label) for r in read_labelled(tmp_path / name)]
    assert got == [("the cat", "pos"), ("sat on", "neg")]
    if name.startswith("header."):  # a column named by the flag is found, not '\ufeffsentence'
        got = read_labelled(tmp_path / name, text_column="sentence", label_column="label")
        assert [r.text for r in got] == ["the cat", "sat on"]


# ---------------------------------------------------------------------------------------------
# Library-level cases


@pytest.mark.parametrize("name", sorted(_damaged_files()))
def test_every_text_reader_names_the_damaged_file(name, tmp_path):
    from nanonlp.bpe.stream import iter_pieces
    from nanonlp.word2vec import Corpus

    p = tmp_path / name
    p.write_bytes(_damaged_files()[name])
    target = _member(str(p))
    readers = [lambda t: list(iter_lines(t)), read_text, lambda t: list(iter_text_chunks(t)),
               lambda t: list(iter_pieces(t)), lambda t: list(iter_pieces(t, by_line=True)),
               lambda t: [s for s in Corpus.from_files([t])]]
    for read in readers:
        with pytest.raises(DataError) as e:
            read(target)
        assert name in str(e.value) and "\n" not in str(e.value)


def test_zip_member_is_streamed(tmp_path):
    """A member is read as it decompresses: a 32 MiB member of a small zip stays small."""
    import tracemalloc

    p = tmp_path / "bomb.zip"
    line = "the cat sat on the mat and the dog ran far away\n"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("m.txt", "w") as f:
        block = (line * 20000).encode()
        for _ in range((32 << 20) // len(block)):
            f.write(block)
    assert p.stat().st_size < 1 << 20
    tracemalloc.start()
    n = sum(1 for _ in iter_lines(f"{p}::m.txt"))
    chunks = sum(len(c) for c in iter_text_chunks(f"{p}::m.txt", chunk_chars=1 << 16))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n > 600_000 and chunks > 30 << 20
    assert peak < 16 << 20, f"peak {peak / 2**20:.0f} MiB"


def test_word2vec_header_is_checked_before_allocation(tmp_path):
    from nanonlp.word2vec import WordVectors

    for name, data in (("a.txt", b"100000000000 100000\nthe 1 2\n"),
                       ("b.bin", b"3 100000000\nthe " + b"\0" * 40),
                       ("c.txt", b"2 3\nthe 1 2 3\n")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=name):
            WordVectors.load(tmp_path / name)
    # a compressed file cannot be measured first: rows are allocated as the file proves them
    with gzip.open(tmp_path / "d.txt.gz", "wt") as f:
        f.write("100000000000 3\nthe 1 2 3\n")
    with pytest.raises(DataError, match=r"announces 100000000000 vectors but the file holds 1"):
        WordVectors.load(tmp_path / "d.txt.gz")
    # and an honest compressed file still loads whole
    with gzip.open(tmp_path / "e.txt.gz", "wt") as f:
        f.write(_vectors_text(GOOD_ROWS))
    wv = WordVectors.load(tmp_path / "e.txt.gz")
    assert wv.words == list(GOOD_ROWS) and wv.vectors.shape == (4, 3)
    np.testing.assert_array_equal(wv["sat"], [1.0, 1.0, 0.0])


def test_word_vector_queries_refuse_bad_arguments():
    from nanonlp.word2vec import WordVectors

    wv = WordVectors(list(GOOD_ROWS), np.array(list(GOOD_ROWS.values())))
    for kwargs in ({"topn": 0}, {"topn": -1}, {"restrict_vocab": -1}, {"restrict_vocab": 0},
                   {"topn": 2.5}):
        with pytest.raises(ConfigError):
            wv.most_similar("the", **kwargs)
        with pytest.raises(ConfigError):
            wv.most_similar_cosmul(["the"], **kwargs)
    assert [w for w, _ in wv.most_similar("the", topn=2)] == ["sat", "mat"]


def test_word2vec_config_floats_must_be_finite():
    from nanonlp.word2vec import Word2VecConfig

    for name in ("alpha", "min_alpha", "sample", "ns_exponent"):
        for bad in (math.nan, math.inf):
            with pytest.raises(ConfigError, match=name):
                Word2VecConfig(**{name: bad})


def test_sample_config_and_generate_refuse_bad_numbers():
    from nanonlp.gpt.sample import SampleConfig, pick

    for kwargs in ({"temperature": math.nan}, {"temperature": math.inf},
                   {"temperature": -0.5}, {"top_p": math.nan}, {"top_p": 0.0},
                   {"top_p": 1.5}, {"top_k": 0}, {"max_new_tokens": -1}, {"num_samples": 0}):
        with pytest.raises(ConfigError):
            SampleConfig(**kwargs)
    SampleConfig(temperature=0.0, top_p=1.0, top_k=1)  # greedy and the edges are fine
    import torch

    with pytest.raises(DataError, match="logits are NaN"):
        pick(torch.tensor([0.0, math.nan]), 1.0, None, None, None)


def test_checkpoint_with_nan_weights_is_refused(tmp_path):
    import torch

    from nanonlp.training import checkpoint as ckpt

    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    ckpt.save_checkpoint(tmp_path / "c", model, kind="toy", model_config={})
    meta = ckpt.read_meta(tmp_path / "c")
    with pytest.raises(DataError, match=r"model.safetensors: tensor 'weight' holds NaN"):
        ckpt.load_weights(tmp_path / "c", torch.nn.Linear(2, 2), meta)


def test_bpe_special_ids_must_follow_the_vocabulary(tmp_path):
    from nanonlp.bpe import Tokenizer

    def model(special_id: int) -> Path:
        p = tmp_path / f"t{special_id}.model"
        p.write_text(f'nanonlp-bpe 1\npattern ""\nspecial 1\n"<|x|>" {special_id}\n'
                     "merges 1\n97 97\n")
        return p

    assert Tokenizer.load(model(257)).vocab_size == 258
    assert Tokenizer.load(model(257 + 1000)).vocab_size == 1258  # a gap, as cl100k has
    for bad in (4_000_000_000, 1 << 31, 257 + 1025):
        with pytest.raises(DataError, match=r":4: special token '<\|x\|>' has id"):
            Tokenizer.load(model(bad))


class _FakeSpec:
    def __init__(self, name, sha256, size, urls=()):
        self.name, self.sha256, self.size, self.urls, self.package = \
            name, sha256, size, urls, None


def test_download_refetches_a_corrupt_cached_file(tmp_path, monkeypatch):
    import hashlib

    import nanonlp.datasets as D
    from nanonlp.datasets.registry import get_dataset

    ds = get_dataset("tinyshakespeare")
    payload = b"First Citizen:\n" * 100
    spec = _FakeSpec("input.txt", hashlib.sha256(payload).hexdigest(), len(payload), ("x",))
    monkeypatch.setattr(type(ds), "file", lambda self, name: spec)
    monkeypatch.delenv("NANONLP_DATA", raising=False)
    monkeypatch.setenv("NANONLP_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "tinyshakespeare" / "input.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(payload[:-1] + b"?")  # same size, wrong bytes
    fetched = []

    def fake_fetch(spec, dest, progress=False):
        fetched.append(dest)
        dest.write_bytes(payload)
        return dest

    monkeypatch.setattr(D, "fetch", fake_fetch)
    assert D.download("tinyshakespeare", split="all") == {"input.txt": cached}
    assert fetched == [cached] and cached.read_bytes() == payload
    fetched.clear()
    D.download("tinyshakespeare", split="all")  # intact now: not fetched again
    assert fetched == []
    # a damaged copy that is not ours (in $NANONLP_DATA) is refused, not replaced
    data = tmp_path / "data" / "tinyshakespeare" / "input.txt"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"short")
    monkeypatch.setenv("NANONLP_DATA", str(tmp_path / "data"))
    with pytest.raises(DataError, match=r"input.txt: 5 bytes, expected 1,500"):
        D.download("tinyshakespeare", split="all")
    assert data.read_bytes() == b"short" and fetched == []


def test_failed_download_leaves_no_empty_cache_folder(tmp_path):
    from nanonlp.datasets.store import fetch
    from nanonlp.errors import DownloadError

    spec = _FakeSpec("input.txt", "0" * 64, None, ("http://127.0.0.1:9/nothing-listens",))
    with pytest.raises(DownloadError):
        fetch(spec, tmp_path / "cache" / "ds" / "input.txt", timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_ner_overrides_must_name_a_real_key():
    pytest.importorskip("spacy")
    from nanonlp.ner.config import base_config, check_override

    cfg = base_config("spacy-efficiency")
    check_override(cfg, "training.dropout")
    check_override(cfg, "components.ner.model.hidden_width")
    check_override(cfg, "training.optimizer.L2")
    # an argument of a registered function, left at its default in the generated config
    check_override(cfg, "components.tok2vec.model.embed.nosuch_but_function_argument")
    for bad in ("nosuch.key", "training.nosuch", "components.nosuch.model",
                "training.dropout.deeper"):
        with pytest.raises(ConfigError, match=repr(bad)):
            check_override(cfg, bad)


# ---------------------------------------------------------------------------------------------
# Fuzz: random bytes into every reader raise nanonlp's errors only

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _with_prefixes(*prefixes: bytes):
    """Random bytes, or a plausible start of the format followed by random bytes."""
    return st.one_of(st.binary(max_size=300),
                     st.builds(lambda p, b: p + b, st.sampled_from(prefixes),
                               st.binary(max_size=300)),
                     st.builds(lambda p, t: p + t.encode("utf-8", "surrogatepass")[:300],
                               st.sampled_from(prefixes), st.text(max_size=100)))


def _mutated(compress):
    """A valid stream of a random text, cut at a random point and with a byte flipped."""
    @st.composite
    def build(draw):
        data = compress(draw(st.binary(min_size=0, max_size=2000)))
        cut = draw(st.integers(0, len(data)))
        data = bytearray(data[:cut] if draw(st.booleans()) else data)
        if data and draw(st.booleans()):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    return st.one_of(build(), st.binary(max_size=200))


def _zipped(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m.txt", data)
    return buf.getvalue()


def _consume(result) -> None:
    if hasattr(result, "__iter__") and not isinstance(result, (str, bytes, dict)):
        for _ in result:
            pass


def _fuzz_one(suffix: str, data: bytes, read) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        with contextlib.suppress(NanonlpError):  # the one kind of error allowed
            _consume(read(p))


def _readers():
    from nanonlp.bpe import CharTokenizer, Tokenizer
    from nanonlp.bpe.tokenfile import read_tokens
    from nanonlp.datasets import readers as R
    from nanonlp.word2vec import WordVectors

    conll = (b"-DOCSTART- -X- O O\n\n", b"EU NNP B-NP B-ORG\n", b"a O\nb B-PER\n\n")
    return {
        "conll": (".conll", _with_prefixes(*conll), lambda p: R.read_conll(p, scheme="iob1",
                                                                          n_columns=4)),
        "columns": (".txt", _with_prefixes(*conll), lambda p: R.read_conll(p)),
        "columns-bilou": (".txt", _with_prefixes(b"a U-PER\n", b"a L-X\n"),
                          lambda p: R.read_conll(p, scheme="bilou")),
        "tsv-pairs": (".tsv", _with_prefixes(b"a\tb\n"), lambda p: R.read_tsv_pairs(p)),
        "scored-pairs": (".txt", _with_prefixes(b"a b 1.5\n", b"a\tb\t1\n"),
                         lambda p: R.read_scored_pairs(p)),
        "analogies": (".txt", _with_prefixes(b": capital\n", b"a b c d\n"),
                      lambda p: R.read_analogies(p)),
        "labelled-tsv": (".tsv", _with_prefixes(b"sentence\tlabel\n"),
                         lambda p: R.read_labelled_tsv(p)),
        "w2v-text": (".txt", _with_prefixes(b"2 3\n", b"1 1\n", b"100000000000 100000\n"),
                     lambda p: WordVectors.load(p)),
        "w2v-binary": (".bin", _with_prefixes(b"2 3\n", b"1 1\nw ", b"9999999 99999\n"),
                       lambda p: WordVectors.load(p)),
        "w2v-npz": (".npz", _with_prefixes(b"PK\x03\x04"), lambda p: WordVectors.load(p)),
        "bpe-model": (".model", _with_prefixes(
            b"nanonlp-bpe 1\n", b'nanonlp-bpe 1\npattern ""\nspecial 1\n',
            b'nanonlp-bpe 1\npattern "\\\\w+"\nspecial 0\nmerges 2\n'),
            lambda p: Tokenizer.load(p)),
        "char-model": (".model", _with_prefixes(b"nanonlp-char 1\nchars 2\n"),
                       lambda p: CharTokenizer.load(p)),
        "npy": (".npy", _with_prefixes(
            b"\x93NUMPY\x01\x00v\x00{'descr': '<u2', 'fortran_order': False, 'shape': (10,), }",
            b"\x93NUMPY\x01\x00"), lambda p: read_tokens(p)),
        "raw-tokens": (".bin", st.binary(max_size=64), lambda p: read_tokens(p, 300)),
        "metrics": (".jsonl", _with_prefixes(b'{"step": 1}\n'),
                    lambda p: MetricsLog(p, resume_step=3, write=False)),
        "gz": (".txt.gz", _mutated(gzip.compress), lambda p: iter_lines(p)),
        "xz": (".txt.xz", _mutated(lzma.compress), lambda p: iter_text_chunks(p)),
        "bz2": (".txt.bz2", _mutated(bz2.compress), lambda p: read_text(p)),
        "zip-member": (".zip", _mutated(_zipped), lambda p: iter_lines(f"{p}::m.txt")),
        "gz-vectors": (".txt.gz", _mutated(lambda b: gzip.compress(b"2 2\n" + b)),
                       lambda p: WordVectors.load(p)),
    }


READERS = sorted(_readers())


@pytest.mark.parametrize("name", READERS)
def test_fuzz_reader_raises_only_nanonlp_errors(name):
    suffix, strategy, read = _readers()[name]

    @FUZZ
    @given(strategy)
    def run(data):
        _fuzz_one(suffix, data, read)

    run()


def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=8)


@FUZZ
@given(st.one_of(
    st.binary(max_size=200),
    _json_values().map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["version", "kind", "model_config", "aliases", "state",
                                     "train_config", "optimizer_groups"]), _json_values())
    .map(lambda d: json.dumps({"format": "nanonlp-checkpoint", **d}).encode())))
def test_fuzz_checkpoint_config_json(data):
    from nanonlp.training import checkpoint as ckpt

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "config.json").write_bytes(data)
        with contextlib.suppress(NanonlpError):  # the one kind of error allowed
            ckpt.read_meta(d, "gpt")


@FUZZ
@given(st.one_of(st.binary(max_size=200), _json_values().map(lambda v: json.dumps(v).encode())))
def test_fuzz_ner_jsonl(data):
    spacy = pytest.importorskip("spacy")
    from nanonlp.ner.convert import read_jsonl

    nlp = _blank_nlp(spacy)
    lines = [data, b'{"text": "Ada wrote", "entities": ' + data[:40] + b"}"]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.jsonl"
        p.write_bytes(b"\n".join(lines))
        with contextlib.suppress(NanonlpError):  # the one kind of error allowed
            _consume(read_jsonl(p, nlp))


_NLP = []


def _blank_nlp(spacy):
    if not _NLP:
        _NLP.append(spacy.blank("en"))
    return _NLP[0]
