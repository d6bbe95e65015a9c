"""Tiny models of every kind, written the way the train commands write them, for the playground
tests (tests/test_serve_*.py). Weights are random (seeded): the tests compare the server's
answers with the library's own on the same model, which needs no training."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

TEXT = ["To be, or not to be: that is the question.",
        "Whether 'tis nobler in the mind to suffer the slings and arrows.",
        "the king and the queen , the man and the woman ."] * 4
SPECIAL = "<|endoftext|>"
BERT_SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
WORDS = ["king", "queen", "man", "woman", "prince", "princess", "paris", "france", "berlin",
         "germany", "one", "two", "three", "red", "blue"]


def build(root: Path, ner: bool = True) -> dict[str, Path]:
    """Write one model of each kind under ``root`` (a runs folder); returns kind -> path."""
    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertClassifier, BertForMaskedLM, save_bert
    from nanonlp.bpe import BPEConfig, CharTokenizer, Tokenizer
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt
    from nanonlp.word2vec import WordVectors

    torch.manual_seed(0)
    paths: dict[str, Path] = {}
    tok = Tokenizer.train(TEXT, BPEConfig(vocab_size=300, special=(SPECIAL,), workers=1))
    paths["bpe"] = tok.save(root / "bpe" / "shakespeare")
    paths["chars"] = CharTokenizer.train("\n".join(TEXT)).save(root / "bpe" / "chars")

    g = torch.Generator().manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2,
                        n_embd=32), generator=g)
    paths["gpt"] = save_gpt(gpt, root / "gpt" / "best", paths["bpe"])
    rope = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2,
                         n_embd=32, pos="rotary", qk_norm=True, norm="rmsnorm"), generator=g)
    paths["gpt-rope"] = save_gpt(rope, root / "gpt-rope" / "best", paths["bpe"])

    btok = Tokenizer.train(TEXT, BPEConfig(vocab_size=290, special=BERT_SPECIALS, workers=1))
    btok_path = btok.save(root / "bert-data" / "tok")
    sp = btok.special_tokens
    cfg = BertConfig(vocab_size=btok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=32,
                     cls_id=sp["[CLS]"], sep_id=sp["[SEP]"], mask_id=sp["[MASK]"],
                     pad_id=sp["[PAD]"])
    paths["bert"] = save_bert(BertForMaskedLM(cfg, generator=g), root / "bert" / "best",
                              btok_path)
    paths["bert-clf"] = save_bert(BertClassifier(cfg, ["neg", "pos"], generator=g),
                                  root / "bert-sst2" / "best", btok_path)
    paths["bert-tag"] = save_bert(BertClassifier(cfg, ["B-PER", "I-PER", "O"], "token",
                                                 generator=g), root / "bert-ner" / "best",
                                  btok_path)

    rng = np.random.default_rng(0)
    wv = WordVectors(WORDS, rng.standard_normal((len(WORDS), 8)).astype(np.float32))
    paths["vectors"] = wv.save(root / "w2v" / "vectors.bin")

    paths["translate"] = _translator(root / "translate" / "best", g)
    if ner:
        paths["ner"] = _ner(root / "ner" / "run" / "model-best")
    return paths


def _translator(path: Path, g: torch.Generator) -> Path:
    from nanonlp.seq2seq.config import Seq2SeqConfig
    from nanonlp.seq2seq.model import KIND, Seq2Seq
    from nanonlp.seq2seq.translate import SRC_VOCAB, TGT_VOCAB
    from nanonlp.seq2seq.vocab import WordVocab
    from nanonlp.training.checkpoint import save_checkpoint

    src = WordVocab.train(["je suis content .", "il est grand .", "elle est petite ."], "none")
    tgt = WordVocab.train(["i am happy .", "he is tall .", "she is small ."], "none")
    cfg = Seq2SeqConfig(src_vocab=len(src), tgt_vocab=len(tgt), emb_dim=16, hidden=16,
                        attn_dim=16, dropout=0.0, max_len=8)
    model = Seq2Seq(cfg, g)
    return save_checkpoint(path, model, kind=KIND, model_config=cfg.to_dict(),
                           extra_files={SRC_VOCAB: src.to_bytes(), TGT_VOCAB: tgt.to_bytes()})


def _ner(path: Path) -> Path:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PER", "pattern": "Angela Merkel"},
                        {"label": "PER", "pattern": "Emmanuel Macron"},
                        {"label": "LOC", "pattern": "Paris"},
                        {"label": "ORG", "pattern": "European Union"}])
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    return path


@contextmanager
def running(app, timeout: float = 20.0):
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    start = time.monotonic()
    while not server.started:
        if time.monotonic() - start > timeout or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """``[(event, data), ...]`` of a server-sent event stream."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


#: the conversations a chat model is overfit on (as tests/test_gpt_chat.py does): greedy
#: decoding then answers each word for word
CHAT = [
    [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}],
    [{"role": "system", "content": "be brief"}, {"role": "user", "content": "your name?"},
     {"role": "assistant", "content": "nano"}],
    [{"role": "user", "content": "2 + 2"}, {"role": "assistant", "content": "4"},
     {"role": "user", "content": "and 3 + 3"}, {"role": "assistant", "content": "6"}],
]


def chat_model(work: Path, out: Path, steps: int = 100) -> Path:
    """A chat model overfit on :data:`CHAT` by ``nanonlp gpt finetune --chat`` into ``out``
    (a small GPT with a byte-level BPE, written to ``work/base``, is where it starts); returns
    its ``best/`` folder."""
    from nanonlp.bpe import BPEConfig, Tokenizer
    from nanonlp.cli import main
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt

    text = [m["content"] for talk in CHAT for m in talk] * 3
    tok_path = Tokenizer.train(text, BPEConfig(vocab_size=300, workers=1)).save(work / "tok")
    cfg = GPTConfig(vocab_size=Tokenizer.load(tok_path).vocab_size, block_size=48, n_layer=2,
                    n_head=2, n_embd=32)
    save_gpt(GPT(cfg, generator=torch.Generator().manual_seed(0)), work / "base", tok_path)
    data = work / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": m}) + "\n" for m in CHAT * 4))
    rc = main(["gpt", "finetune", str(work / "base"), "--chat", str(data), "--dev", str(data),
               "--train.max_steps", str(steps), "--train.lr", "5e-3", "--train.warmup_steps",
               "5", "--train.batch_size", "12", "--train.eval_interval", str(steps),
               "--train.eval_steps", "1", "--train.device", "cpu", "--train.dtype", "float32",
               "--train.seed", "0", "--train.out", str(out)])
    assert rc == 0
    return out / "best"
