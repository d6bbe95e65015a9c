"""Every torch training command under torchrun: 2 gloo processes give what 1 process gives.

``translate train``, ``bert pretrain`` and ``bert finetune`` go through the same Trainer and
driver as ``gpt train``; here each runs through the real CLI twice, as a user launches it:
``python -m nanonlp ...`` and ``torchrun --nproc_per_node 2 -m nanonlp ...``. Rows of
different lengths (padding, masking) put different numbers of targets on the two ranks, so
equality also checks that each rank's loss is weighted by its share of the targets. Dropout
is off (each process draws its own dropout masks), and only rank 0 may write files.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nanonlp import datasets
from nanonlp.bpe import BPEConfig, Tokenizer

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.distributed.is_available(),
                                 reason="torch without distributed")]

SRC = str(Path(__file__).resolve().parent.parent / "src")  # this checkout, whatever the cwd
SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
TEXT = ["the cat sat on the mat .", "a dog ran in the park today .", "birds sing .",
        "the quick brown fox jumps over the lazy dog ."] * 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], procs: int, cwd: Path) -> subprocess.CompletedProcess:
    head = [sys.executable, "-m", "nanonlp"] if procs == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "nanonlp"]
    proc = subprocess.run([*head, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def same_run(one: Path, two: Path) -> None:
    """Same weights, same logged losses, same evaluations, and the same files written."""
    a, b = load_file(one / "last" / "model.safetensors"), load_file(two / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-5), k
    ra = [json.loads(x) for x in (one / "metrics.jsonl").read_text().splitlines()]
    rb = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ra] == [r["step"] for r in rb] and len(ra) > 2
    for x, y in zip(ra, rb, strict=True):
        assert x["loss"] == pytest.approx(y["loss"], abs=2e-5)
        assert x["tokens"] == y["tokens"]
        if x["eval"]:
            assert x["eval"]["val"] == pytest.approx(y["eval"]["val"], abs=2e-5)
    assert files(one) == files(two)  # rank 1 wrote nothing of its own


def test_translate_train_two_processes_equal_one(tmp_path):
    rng = random.Random(0)
    rows = set()
    while len(rows) < 300:
        s = [rng.choice("abcdefgh") for _ in range(rng.randint(2, 7))]
        rows.add(f"{' '.join(s)}\t{' '.join(reversed(s))}\n")
    (tmp_path / "rev.tsv").write_text("".join(sorted(rows)))
    common = ["translate", "train", "--preset", "tiny", "--data.source", "rev.tsv",
              "--data.src_lang", "x", "--data.tgt_lang", "y", "--data.filter", "none",
              "--data.normalizer", "none", "--model.hidden", "16", "--model.attn_dim", "16",
              "--model.emb_dim", "16", "--train.max_steps", "6", "--train.batch_size", "8",
              "--train.grad_accum", "2", "--train.eval_interval", "3", "--train.eval_steps", "1",
              "--train.log_interval", "1", "--train.device", "cpu", "--bleu_sentences", "0"]
    launch([*common, "--train.out", "one"], 1, tmp_path)
    proc = launch([*common, "--train.out", "two"], 2, tmp_path)
    assert "x 2 processes" in proc.stdout and proc.stdout.count("best val loss") == 1
    same_run(tmp_path / "one", tmp_path / "two")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bert-ddp")
    (tmp / "text.txt").write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    Tokenizer.train(TEXT, BPEConfig(vocab_size=300, special=SPECIALS, workers=1)).save(
        tmp / "tok")
    return tmp


BERT = ["--model.n_layer", "1", "--model.n_embd", "32", "--model.n_head", "2",
        "--model.block_size", "16", "--model.dropout", "0", "--train.batch_size", "4",
        "--train.grad_accum", "2", "--train.eval_steps", "1", "--train.log_interval", "1",
        "--train.device", "cpu"]


def test_bert_pretrain_two_processes_equal_one(corpus):
    common = ["bert", "pretrain", "--preset", "tiny", "--sources", "text.txt",
              "--tokenizer", "tok.model", "--val_fraction", "0.2", "--mask_prob", "0.3",
              *BERT, "--train.max_steps", "6", "--train.eval_interval", "3"]
    launch([*common, "--data", "data-one", "--train.out", "one"], 1, corpus)
    proc = launch([*common, "--data", "data-two", "--train.out", "two"], 2, corpus)
    assert proc.stdout.count("val masked-token accuracy") == 1  # rank 0 alone reports
    same_run(corpus / "one", corpus / "two")


@pytest.mark.skipif(not datasets.available("sst2"), reason="needs sst2 under NANONLP_DATA")
def test_bert_finetune_two_processes_equal_one(corpus):
    if not (corpus / "one" / "last").exists():
        test_bert_pretrain_two_processes_equal_one(corpus)
    common = ["bert", "finetune", str(corpus / "one" / "last"), "--task", "sst2",
              "--max_train", "64", "--dropout", "0", "--train.max_steps", "4",
              "--train.eval_interval", "2", "--train.batch_size", "8", "--train.eval_steps", "1",
              "--train.log_interval", "1", "--train.device", "cpu"]
    launch([*common, "--train.out", "ft-one"], 1, corpus)
    launch([*common, "--train.out", "ft-two"], 2, corpus)
    same_run(corpus / "ft-one", corpus / "ft-two")


def test_bert_finetune_on_a_file_of_pairs_two_processes_equal_one(corpus):
    """Your own file of sentence pairs: ids and token types are both split over the ranks."""
    if not (corpus / "one" / "last").exists():
        test_bert_pretrain_two_processes_equal_one(corpus)
    rng = random.Random(0)
    rows = [(" ".join(rng.choices(TEXT, k=rng.randint(1, 2))), rng.choice(TEXT),
             rng.choice(["same", "other"])) for _ in range(60)]
    (corpus / "pairs.tsv").write_text("text\ttext_pair\tlabel\n" +
                                      "".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows))
    common = ["bert", "finetune", str(corpus / "one" / "last"), "--train", "pairs.tsv",
              "--dropout", "0", "--train.max_steps", "4", "--train.eval_interval", "2",
              "--train.batch_size", "8", "--train.eval_steps", "1", "--train.log_interval", "1",
              "--train.device", "cpu"]
    launch([*common, "--train.out", "pairs-one"], 1, corpus)
    proc = launch([*common, "--train.out", "pairs-two"], 2, corpus)
    assert proc.stdout.count("dev: 6 examples") == 1  # rank 0 alone reports
    same_run(corpus / "pairs-one", corpus / "pairs-two")


def test_gpt_chat_finetune_two_processes_equal_one(tmp_path):
    """Conversations of different lengths put different numbers of assistant tokens on the
    two ranks: each rank's loss must be weighted by its share of them."""
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt

    torch.manual_seed(0)
    Tokenizer.train(TEXT, BPEConfig(vocab_size=300, workers=1)).save(tmp_path / "tok")
    tok = Tokenizer.load(tmp_path / "tok.model")
    save_gpt(GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2,
                           n_embd=32)), tmp_path / "base", tmp_path / "tok.model")
    rng = random.Random(0)
    with (tmp_path / "chat.jsonl").open("w") as f:
        for _ in range(40):
            talk = [{"role": "user", "content": rng.choice(TEXT)},
                    {"role": "assistant", "content": " ".join(rng.choices(TEXT, k=rng.randint(1, 2)))}]
            f.write(json.dumps({"messages": talk}) + "\n")
    common = ["gpt", "finetune", "base", "--chat", "chat.jsonl", "--train.max_steps", "4",
              "--train.eval_interval", "2", "--train.batch_size", "8", "--train.eval_steps", "1",
              "--train.log_interval", "1", "--train.device", "cpu"]
    launch([*common, "--train.out", "chat-one"], 1, tmp_path)
    launch([*common, "--train.out", "chat-two"], 2, tmp_path)
    same_run(tmp_path / "chat-one", tmp_path / "chat-two")
