"""Chat benchmark: the course's two translators meet. A decoder-only GPT fine-tuned on
translation conversations (``gpt finetune --chat``) against the GRU encoder-decoder
(``translate train --preset tutorial``), English -> French, same pairs, same minutes.

Data: eng-fra with the tutorial filter and normaliser (the translation part's ``tutorial``
preset turned around: ``--data.src_lang en --data.tgt_lang fr``; the filter's "i am ...",
"he is ..." prefixes are matched on the English side whichever way the pairs go). The
held-out split is the translation part's hash split (heldout 0.05, split_seed 0), taken here
of the English source sentence, so an English sentence and all of its French translations fall
in one split and the test set has 24 references for some sources.

Ours: each training pair becomes a conversation, user "Translate to French: <english>",
assistant "<french>"; a byte-level BPE is trained on the training conversations' text,
a GPT of about the GRU's parameter count is initialised at random and saved as a checkpoint,
and the library calls behind ``nanonlp gpt finetune CKPT --chat train.jsonl --dev val.jsonl
--budget_min M`` fine-tune it (the loss on the assistant's tokens only). Test sources are
answered greedily (``chat.reply`` at temperature 0), and also with a beam search written
below (the chat library has none), then scored with sacreBLEU exactly as
``seq2seq.train.evaluate`` does (each distinct source once, against all its references,
tokenize none on tutorial-normalised text on both sides).

Anchor: the GRU translator of the ``tutorial`` preset, en->fr, on the same pairs, scored
greedy and with beam 5. The two train as two processes that start together (each waits for
the other to finish its preparation), one torch thread each, for the same budget, so both
see the same machine load. Afterwards ``gpt chat`` itself is timed: first-token latency and
tokens/s of a few streamed answers, and ``gpt chat --jsonl`` over the test set.

    python benchmarks/chat.py --quick              # a smoke run, seconds of training
    python benchmarks/chat.py --budget-min 10 --record
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT, data_dir, parser, record, result

from nanonlp.gpt.config import MUON

PROMPT = "Translate to French: "
DATA = dict(src_lang="en", tgt_lang="fr")  # the tutorial preset's data, turned around
BPE_VOCAB = 2048  # 256 bytes + 1,792 merges: most words of this small corpus are one token
#: a GPT of about the GRU's 1.9M parameters, with what cpu-modern found pays on a CPU
#: (rotary positions, QK-norm, LayerNorm); block 128 so a few turns of `gpt chat` fit;
#: dropout 0.2, the GRU's, since ours overfits these 9,750 pairs within the budget
GPT_SHAPE = dict(block_size=128, n_layer=4, n_head=4, n_embd=176, dropout=0.2,
                 norm="layernorm", pos="rotary", qk_norm=True, qk_norm_kind="layernorm",
                 activation="gelu")
#: training from scratch, not fine-tuning: cpu-muon's optimizer (Muon at muon_lr 0.02 for
#: the hidden matrices, AdamW for embeddings and norms), cpu-modern's AdamW learning rate
#: halved for the dropout and the small data set, and the GRU recipe's batch of 32 pairs.
#: Muon is worth about 4.6 BLEU here (10 min, one thread: 41.8 greedy against 37.2 with
#: AdamW alone); muon_lr 0.04 (41.1) and batch 64 (40.6) were not better
GPT_TRAIN = dict(batch_size=32, lr=3e-3, min_lr=1e-4, warmup_steps=100, beta2=0.99,
                 weight_decay=0.1, grad_clip=1.0, eval_interval=500, eval_steps=10,
                 max_steps=10 ** 6, device="cpu", **MUON)
MAX_NEW = 48  # longest answer in tokens (the longest French test sentence is ~20)
BEAM, ALPHA = 5, 1.0  # the GRU's beam width and GNMT length penalty


# --------------------------------------------------------------------------------------------
# the data, shared by both workers


def read_data():
    from nanonlp.seq2seq.config import DataConfig, presets
    from nanonlp.seq2seq.data import read_splits

    cfg = DataConfig(**{**presets("tutorial")["data"], **DATA})
    return cfg, read_splits(cfg)


def conversation(source: str, target: str | None = None) -> dict:
    """The conversation of one pair (without the answer when ``target`` is None).

    >>> conversation("i m ok .", "je vais bien .")["messages"][1]
    {'role': 'assistant', 'content': 'je vais bien .'}
    """
    msgs = [{"role": "user", "content": PROMPT + source}]
    if target is not None:
        msgs.append({"role": "assistant", "content": target})
    return {"messages": msgs}


def write_jsonl(path: Path, records) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def barrier(folder: Path, peers: list[str]) -> None:
    """Say this worker is ready, then wait for the others: training starts together."""
    (folder / "ready").touch()
    while not all((folder.parent / p / "ready").exists() for p in peers):
        time.sleep(0.5)


# --------------------------------------------------------------------------------------------
# ours: a decoder-only GPT


def base_checkpoint(train_pairs, folder: Path, seed: int = 0):
    """A byte-level BPE on the text of the training conversations (the user's messages with
    their instruction, and the answers; the chat tokens added) and a GPT initialised at random,
    saved where ``gpt finetune`` reads a checkpoint."""
    import torch

    from nanonlp.bpe import Tokenizer
    from nanonlp.bpe.config import BPEConfig
    from nanonlp.gpt.chat import with_chat_tokens
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT, save_gpt

    texts = [PROMPT + p.source for p in train_pairs] + [p.target for p in train_pairs]
    t0 = time.perf_counter()
    tok = with_chat_tokens(Tokenizer.train(texts, BPEConfig(vocab_size=BPE_VOCAB, special=(),
                                                            workers=1)))
    bpe_s = time.perf_counter() - t0
    tok_file = folder / "tokenizer.model"
    tok_file.write_text(tok.model_text(), encoding="utf-8")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **GPT_SHAPE),
                torch.Generator().manual_seed(seed))
    save_gpt(model, folder / "base", tok_file)
    return folder / "base", tok, bpe_s


def beam_answer(model, tok, source: str, beam: int = BEAM, alpha: float = ALPHA) -> str:
    """The best answer of a beam search over the GPT (full recompute per step; finished
    hypotheses ranked by log p / GNMT's length penalty over their BPE tokens, as the GRU's
    beam ranks its words)."""
    import torch

    from nanonlp.gpt.chat import TURN, render
    from nanonlp.seq2seq.translate import length_penalty

    prompt = render(tok, conversation(source)["messages"], reply=True)[0]
    end = tok.special_tokens[TURN["assistant"][1]]
    live: list[tuple[float, list[int]]] = [(0.0, [])]
    done: list[tuple[float, list[int]]] = []
    for t in range(MAX_NEW):
        x = torch.tensor([prompt + ids for _, ids in live])  # (b, T)
        with torch.no_grad():
            logp = model(x)[0][:, -1].float().log_softmax(-1)  # (b, V)
        total = torch.tensor([s for s, _ in live])[:, None] + logp  # (b, V)
        top = total.flatten().topk(min(2 * beam, total.numel()))
        nxt = []
        for s, k in zip(top.values.tolist(), top.indices.tolist()):
            row, i = divmod(k, logp.shape[1])
            if i == end:
                done.append((s / length_penalty(t + 1, alpha), live[row][1]))
            else:
                nxt.append((s, live[row][1] + [i]))
            if len(nxt) == beam:
                break
        live = nxt
        best_live = max((s / length_penalty(t + 1, alpha) for s, _ in live), default=-1e9)
        if len(done) >= beam and max(d for d, _ in done) >= best_live:
            break  # the raw score only falls, so no live beam can overtake a finished one
    if not done:
        done = [(s / length_penalty(MAX_NEW, alpha), ids) for s, ids in live]
    return tok.decode(max(done, key=lambda d: d[0])[1])


def decode(model, tok, sources, answer) -> tuple[list[str], float]:
    """``answer(source)`` for each source, normalised as the references are; and seconds."""
    from nanonlp.seq2seq.vocab import normalize

    t0 = time.perf_counter()
    hyps = [normalize(answer(s), "tutorial") for s in sources]
    return hyps, time.perf_counter() - t0


def run_ours(folder: Path, budget_s: float | None, peers: list[str], steps: int = 0,
             beam: bool = True, seed: int = 0) -> dict:
    from nanonlp.gpt import chat as C
    from nanonlp.seq2seq.data import group_references
    from nanonlp.seq2seq.train import score
    from nanonlp.seq2seq.vocab import normalize
    from nanonlp.training.driver import fit

    _, pairs = read_data()
    base, tok, bpe_s = base_checkpoint(pairs["train"], folder, seed)
    write_jsonl(folder / "train.jsonl", (conversation(p.source, p.target) for p in pairs["train"]))
    write_jsonl(folder / "val.jsonl", (conversation(p.source, p.target) for p in pairs["val"]))
    trainer = C.make_trainer(base, folder / "train.jsonl", folder / "val.jsonl",
                             {**GPT_TRAIN, "out": str(folder / "run"), "seed": 1337 + seed,
                              **({"max_steps": steps, "eval_interval": max(1, steps // 4)}
                                 if steps else {})})
    rows = trainer.data.splits["train"]
    barrier(folder, peers)
    start = time.perf_counter()
    fit(trainer, "gpt finetune (chat)", budget_min=None if steps else budget_s / 60,
        progress=False,
        info={"checkpoint": str(base), "chat": "train.jsonl", "dev": "val.jsonl"})
    train_s = time.perf_counter() - start
    model, tok = C.load_chat(folder / "run" / "best")
    sources, refs = group_references(pairs["test"])
    greedy = C.ChatConfig(temperature=0, top_k=None, max_new_tokens=MAX_NEW)
    t0 = time.perf_counter()
    hyps = [normalize(a, "tutorial") for a in
            C.replies(model, tok, [conversation(s)["messages"] for s in sources], greedy)]
    greedy_s = time.perf_counter() - t0
    bleu, chrf, sig = score(hyps, refs)
    model.eval()
    beam_hyps, beam_s = decode(model, tok, sources, lambda s: beam_answer(model, tok, s)) \
        if beam else (hyps, 0.0)
    beam_bleu, beam_chrf, _ = score(beam_hyps, refs)
    write_jsonl(folder / "test.jsonl", (conversation(s) for s in sources))
    (folder / "greedy.json").write_text(json.dumps(hyps, ensure_ascii=False))
    return {"bleu_greedy": bleu, "chrf_greedy": chrf, "bleu_beam": beam_bleu,
            "chrf_beam": beam_chrf, "signature": sig, "sentences": len(sources),
            "references": max(len(r) for r in refs), "steps": trainer.step,
            "train_s": train_s, "best_val": trainer.best_val, "params": model.num_params(),
            "vocab": tok.vocab_size, "bpe_s": bpe_s, "dtype": str(trainer.dtype),
            "dropped": trainer.data.dropped,
            "train_tokens_mean": statistics.mean(len(x) + 1 for x, _ in rows),
            "answer_tokens_mean": statistics.mean(sum(t >= 0 for t in y) for _, y in rows),
            "greedy_s": greedy_s, "beam_s": beam_s,
            "answer_tokens": sum(len(tok.encode(h)) for h in hyps), "seed": seed,
            "samples": [{"source": sources[i], "reference": refs[i][0], "greedy": hyps[i],
                         "beam": beam_hyps[i]} for i in range(5)]}


# --------------------------------------------------------------------------------------------
# the anchor: the GRU translator of `translate train --preset tutorial`, en->fr


def run_anchor(folder: Path, budget_s: float, peers: list[str], seed: int = 0) -> dict:
    from nanonlp.seq2seq.train import configs, evaluate, make_trainer, prepare
    from nanonlp.seq2seq.translate import Translator

    dcfg, mcfg, tcfg = configs(data=DATA, preset="tutorial",
                               train=dict(out=str(folder / "run"), max_steps=10 ** 6,
                                          device="cpu", seed=1337 + seed))
    prep = prepare(dcfg, tcfg.seed)
    trainer = make_trainer(preset="tutorial", model=mcfg, train=tcfg, prepared=prep)
    barrier(folder, peers)
    start = time.perf_counter()
    for _ in trainer.run(budget_min=budget_s / 60):
        pass
    train_s = time.perf_counter() - start
    tr = Translator.load(folder / "run" / "best")
    greedy = evaluate(tr, prep.pairs["test"], "test", beam=1)
    beam = evaluate(tr, prep.pairs["test"], "test", beam=BEAM, alpha=ALPHA)
    return {"bleu_greedy": greedy.bleu, "chrf_greedy": greedy.chrf, "bleu_beam": beam.bleu,
            "chrf_beam": beam.chrf, "sentences": greedy.sentences, "steps": trainer.step,
            "train_s": train_s, "best_val": trainer.best_val,
            "params": trainer.model.num_params(), "stats": prep.stats,
            "dtype": str(trainer.dtype), "seed": seed,
            "greedy_s": greedy.seconds, "beam_s": beam.seconds,
            "samples": [{"source": g["source"], "greedy": g["translation"],
                         "beam": b["translation"]} for g, b in zip(greedy.samples, beam.samples)]}


# --------------------------------------------------------------------------------------------
# timing `gpt chat`


CHAT_PROMPTS = ["Translate to French: i am very happy .", "Translate to French: he is a doctor .",
                "Translate to French: we are not ready yet .",
                "Translate to French: she is taller than her brother .",
                "Translate to French: they are in the garden ."]


def nanonlp_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nanonlp", *args]


def one_thread_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT / "src")}


def time_chat(checkpoint: Path, tok) -> dict:
    """Feed the prompts to one `gpt chat` process (a multi-turn chat, as a user types it) and
    time each answer's first piece and its end; tokens counted by encoding the answer."""
    proc = subprocess.Popen(nanonlp_cmd("gpt", "chat", str(checkpoint), "--temperature", "0"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=one_thread_env())
    t_start = time.perf_counter()
    turns = []
    for k, prompt in enumerate(CHAT_PROMPTS):
        t0 = time.perf_counter()
        proc.stdin.write((prompt + "\n").encode())
        proc.stdin.flush()
        first, out = None, b""
        while not out.endswith(b"\n"):
            byte = proc.stdout.read(1)
            if not byte:
                raise RuntimeError("gpt chat ended early")
            if first is None:
                first = time.perf_counter()
            out += byte
        end = time.perf_counter()
        text = out.decode().rstrip("\n")
        n = len(tok.encode(text))
        turns.append({"prompt": prompt, "answer": text, "tokens": n,
                      "first_token_s": first - (t_start if k == 0 else t0),
                      "tokens_per_s": (n - 1) / (end - first) if n > 1 and end > first
                      else float("nan"), "turn_s": end - t0})
    proc.stdin.close()
    proc.wait()
    later = turns[1:]
    return {"turns": turns, "startup_first_token_s": turns[0]["first_token_s"],
            "first_token_s": statistics.median(t["first_token_s"] for t in later),
            "tokens_per_s": statistics.median(t["tokens_per_s"] for t in later)}


def time_jsonl(checkpoint: Path, test_file: Path, expected: list[str]) -> dict:
    """`gpt chat --jsonl` over the test conversations: wall seconds, and whether its
    answers are the in-process greedy ones."""
    from nanonlp.seq2seq.vocab import normalize

    t0 = time.perf_counter()
    out = subprocess.run(nanonlp_cmd("gpt", "chat", str(checkpoint), "--jsonl",
                                     "--temperature", "0", "--max_new_tokens", str(MAX_NEW)),
                         stdin=test_file.open("rb"), capture_output=True, env=one_thread_env(),
                         check=True)
    seconds = time.perf_counter() - t0
    replies = [normalize(json.loads(line)["reply"], "tutorial")
               for line in out.stdout.decode().splitlines() if line.strip()]
    return {"seconds": seconds, "n": len(replies),
            "same": sum(a == b for a, b in zip(replies, expected))}


# --------------------------------------------------------------------------------------------
# driver


WORKERS = {"ours": run_ours, "anchor": run_anchor}


def spawn(name, budget_s, work: Path, peers: list[str], variant: str | None = None,
          seed: int = 0):
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ready").unlink(missing_ok=True)
    cmd = ["nice", "-n", "10", sys.executable, __file__, "--worker", name,
           "--budget-s", str(budget_s), "--out", str(folder), "--peers", ",".join(peers),
           "--seed", str(seed),
           *(["--variant", variant] if variant else [])]
    log = (folder / "log.txt").open("w")
    return subprocess.Popen(cmd, env=one_thread_env(), stdout=log, stderr=subprocess.STDOUT)


def run_both(budget_s: float, work: Path, names=tuple(WORKERS), variant: str | None = None,
             seed: int = 0) -> tuple[dict, dict | None, list[float]]:
    """The workers at once (both, or ``names``); the machine's 1-minute load average every
    15 s meanwhile."""
    procs = {n: spawn(n, budget_s, work, list(names), variant, seed) for n in names}
    load = []
    while any(p.poll() is None for p in procs.values()):
        load.append(os.getloadavg()[0])
        time.sleep(15)
    for n, p in procs.items():
        if p.returncode != 0:
            sys.exit(f"worker {n} failed (exit {p.returncode}); see {work / n / 'log.txt'}")
    ours, anchor = (json.loads((work / n / "result.json").read_text()) if n in names else None
                    for n in WORKERS)
    return ours, anchor, load


#: what a record of several runs (seeds) averages; the rest is the first run's
MEANS = ("bleu_greedy", "bleu_beam", "chrf_greedy", "chrf_beam", "steps", "best_val",
         "train_s")


def mean_of(results: list[dict]) -> dict:
    """The first run's result with :data:`MEANS` replaced by their means over ``results``.

    >>> mean_of([{"steps": 10, "bleu_greedy": 40.0, "seed": 0},
    ...          {"steps": 20, "bleu_greedy": 42.0, "seed": 1}])
    {'steps': 15, 'bleu_greedy': 41.0, 'seed': 0}
    """
    return {**results[0], **{k: statistics.mean(r[k] for r in results)
                             for k in MEANS if k in results[0]}}


def seeds_text(runs: list[tuple[dict, dict]]) -> str:
    """One line per run: both sides' BLEU and steps; the rows above are the means."""
    per = "; ".join(
        f"seed {o.get('seed', 0)}: ours {o['bleu_greedy']:.2f} / {o['bleu_beam']:.2f} in "
        f"{o['steps']:,} steps, GRU {a['bleu_greedy']:.2f} / {a['bleu_beam']:.2f} in "
        f"{a['steps']:,} steps, gap {o['bleu_greedy'] - a['bleu_greedy']:+.2f}"
        for o, a in runs)
    gaps = [o["bleu_greedy"] - a["bleu_greedy"] for o, a in runs]
    return (f"The rows and the lines above average {len(runs)} runs (seeds; BLEU greedy / "
            f"beam): {per}. Greedy gap: mean {statistics.mean(gaps):+.2f}, range "
            f"{min(gaps):+.2f} to {max(gaps):+.2f}.")


def alpha_sweep(works: list[Path], alphas: list[float]) -> dict:
    """Beam 5 at each length-penalty ``alpha``, both sides, on the validation and the test
    split of each run in ``works``. Each side's alpha is the one with the best mean
    validation BLEU; the test BLEU at that alpha is its figure (the test set chooses
    nothing)."""
    from nanonlp.gpt import chat as C
    from nanonlp.seq2seq.data import group_references
    from nanonlp.seq2seq.train import configs, evaluate, prepare, score
    from nanonlp.seq2seq.translate import Translator
    from nanonlp.seq2seq.vocab import normalize

    _, pairs = read_data()
    dcfg, _, tcfg = configs(data=DATA, preset="tutorial", train=dict(device="cpu"))
    prep = prepare(dcfg, tcfg.seed)
    bleu = {side: {split: {a: [] for a in alphas} for split in ("val", "test")}
            for side in WORKERS}
    for w in works:
        model, tok = C.load_chat(w / "ours" / "run" / "best")
        model.eval()
        gru = Translator.load(w / "anchor" / "run" / "best")
        for split in ("val", "test"):
            sources, refs = group_references(pairs[split])
            for a in alphas:
                hyps = [normalize(beam_answer(model, tok, s, alpha=a), "tutorial")
                        for s in sources]
                bleu["ours"][split][a].append(score(hyps, refs)[0])
                bleu["anchor"][split][a].append(
                    evaluate(gru, prep.pairs[split], split, beam=BEAM, alpha=a).bleu)
    means = {side: {split: {a: statistics.mean(v) for a, v in by.items()}
                    for split, by in sides.items()} for side, sides in bleu.items()}
    pick = {side: max(alphas, key=lambda a: means[side]["val"][a]) for side in WORKERS}
    return {"alphas": alphas, "means": means, "pick": pick,
            "test": {side: means[side]["test"][pick[side]] for side in WORKERS}}


def sweep_text(sweep: dict) -> str:
    def line(side: str, split: str) -> str:
        return " / ".join(f"{sweep['means'][side][split][a]:.2f}" for a in sweep["alphas"])

    alphas = " / ".join(f"{a:g}" for a in sweep["alphas"])
    o, a = sweep["test"]["ours"], sweep["test"]["anchor"]
    return (f"Length penalty chosen on the validation split (beam {BEAM}, GNMT alpha {alphas}; "
            f"mean BLEU over the runs): validation ours {line('ours', 'val')}, GRU "
            f"{line('anchor', 'val')}; test ours {line('ours', 'test')}, GRU "
            f"{line('anchor', 'test')}. Each side at its best validation alpha (ours "
            f"{sweep['pick']['ours']:g}, GRU {sweep['pick']['anchor']:g}): test BLEU ours "
            f"{o:.2f}, GRU {a:.2f}, gap {o - a:+.2f}.")


def notes_text(ours, anchor, chat, jsonl, load, budget_s) -> str:
    gap = ours["bleu_greedy"] - anchor["bleu_greedy"]
    best_gap = max(ours["bleu_greedy"], ours["bleu_beam"]) - max(anchor["bleu_greedy"],
                                                                 anchor["bleu_beam"])
    st = anchor["stats"]
    s = ours["samples"][0]
    return "\n\n".join([
        f"English -> French on eng-fra with the tutorial filter and normaliser (the "
        f"`tutorial` preset turned around, `--data.src_lang en --data.tgt_lang fr`; the "
        f"filter matches its prefixes on the English side either way). Split by hash of the "
        f"English source (heldout 0.05, split_seed 0): {st['pairs']} pairs; the test set is "
        f"{ours['sentences']} distinct English sources with up to {ours['references']} French "
        f"references each, scored multi-reference ({ours['signature']}) on tutorial-normalised "
        f"text on both sides, as `seq2seq.train.evaluate` does.",
        f"Two processes started together (each waited for the other's preparation), one "
        f"torch thread each, nice 10, a budget of {budget_s / 60:g} min of training each "
        f"(used: ours {ours['train_s'] / 60:.1f}, anchor {anchor['train_s'] / 60:.1f}; the "
        f"trainer re-aims its last step at the speed so far, so a run can end early). Ours: "
        f"{ours['steps']:,.0f} steps of batch 32 conversations; GPT {GPT_SHAPE['n_layer']} "
        f"layers x {GPT_SHAPE['n_embd']} wide, {GPT_SHAPE['n_head']} heads, rotary, QK-norm, "
        f"dropout {GPT_SHAPE['dropout']}, {ours['params']:,} parameters (tied embeddings), "
        f"BPE {ours['vocab']:,} tokens (2,048 trained on the training conversations' text "
        f"+ 6 chat tokens); Muon at {GPT_TRAIN['muon_lr']} for the hidden matrices, AdamW at "
        f"lr {GPT_TRAIN['lr']} for the rest, cosine decay; best val loss "
        f"{ours['best_val']:.3f} (assistant tokens only); a conversation is "
        f"{ours['train_tokens_mean']:.1f} tokens on average, "
        f"{ours['answer_tokens_mean']:.1f} of them learned. Anchor: the GRU of `translate train "
        f"--preset tutorial`, {anchor['steps']:,.0f} steps of batch 32, {anchor['params']:,} "
        f"parameters, vocabularies {st['src_vocab']:,} en / {st['tgt_vocab']:,} fr words, best "
        f"val loss {anchor['best_val']:.3f} (label-smoothed). Autocast (dtype auto's probe): "
        f"ours {ours['dtype']}, anchor {anchor['dtype']}. Load average (1 min) during "
        f"training: mean {statistics.mean(load):.1f}, min {min(load):.1f}, max "
        f"{max(load):.1f} on 2 cores.",
        f"Target (decoder-only within 3 BLEU of the GRU, greedy vs greedy): "
        f"{'met' if gap >= -3 else 'NOT met'} ({gap:+.1f} BLEU; best of each {best_gap:+.1f}). "
        f"Ours beam 5 is a beam search in this script over full recomputes (the chat library "
        f"decodes greedily or by sampling only). Sample (ours, greedy): {s['source']!r} -> "
        f"{s['greedy']!r} (reference {s['reference']!r}).",
        f"`gpt chat` (one thread, temperature 0, the prompts fed to one process as a "
        f"multi-turn chat): first answer's first token {chat['startup_first_token_s']:.2f} s "
        f"after start (Python, imports, loading), later turns' first token "
        f"{chat['first_token_s'] * 1000:.0f} ms (median), then {chat['tokens_per_s']:.0f} "
        f"tokens/s. `gpt chat --jsonl` on the {jsonl['n']} test conversations: "
        f"{jsonl['seconds']:.1f} s including start-up ({jsonl['same']}/{jsonl['n']} answers "
        f"equal to the in-process greedy ones); in process, `chat.replies` (batches of prompts "
        f"of one length) took {ours['greedy_s']:.1f} s "
        f"({ours['greedy_s'] / ours['sentences'] * 1000:.0f} ms a sentence, "
        f"{ours['answer_tokens'] / ours['greedy_s']:.0f} answer tokens/s); "
        f"our beam {ours['beam_s']:.1f} s; the GRU's batched greedy {anchor['greedy_s']:.1f} "
        f"s and beam 5 {anchor['beam_s']:.1f} s.",
    ])


def equal_steps(steps: int, work: Path) -> None:
    """Ours alone for ``steps`` steps (e.g. the anchor's count in the timed run)."""
    folder = work / "ours"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "10", sys.executable, __file__, "--worker", "ours", "--steps",
           str(steps), "--out", str(folder)]
    t0 = time.perf_counter()
    with (folder / "log.txt").open("w") as log:
        subprocess.run(cmd, env=one_thread_env(), stdout=log, stderr=subprocess.STDOUT,
                       check=True)
    res = json.loads((folder / "result.json").read_text())
    print(json.dumps({"steps": res["steps"], "train_min": round(res["train_s"] / 60, 1),
                      "best_val": round(res["best_val"], 3), "bleu_greedy": res["bleu_greedy"],
                      "chrf_greedy": res["chrf_greedy"], "wall_min":
                      round((time.perf_counter() - t0) / 60, 1), "work": str(work)}))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--budget-min", type=float, default=10.0,
                   help="minutes of training for each side (default 10)")
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--from", dest="from_", nargs="+", default=None, metavar="DIR",
                   help="take the results (and timings) of earlier runs' --work folders "
                        "(give their --budget-min too); several: the rows are their means")
    p.add_argument("--alphas", type=float, nargs="+", metavar="A", help="also sweep the "
                   "beam's length penalty over these alphas on both sides, chosen on the "
                   "validation split")
    p.add_argument("--seed", type=int, default=0, help="seeds both sides' initialisation and "
                   "batches (1337 + seed as the trainers' seed); the split stays the same")
    p.add_argument("--steps", type=int, default=0, metavar="N",
                   help="instead: train ours alone for N steps (no budget, no anchor) and "
                        "print its greedy BLEU (the equal-steps check)")
    p.add_argument("--variant", metavar="JSON", help='exploring: {"model": {...}, "train": '
                   '{...}} on top of GPT_SHAPE and GPT_TRAIN (not for --record)')
    p.add_argument("--alone", action="store_true", help="exploring: train ours alone for the "
                   "budget (no anchor beside it) and print its scores")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--peers", help=argparse.SUPPRESS)
    p.add_argument("--budget-s", type=float, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    data_dir()
    if args.variant:
        if args.record:
            sys.exit("--variant explores: record the recipe GPT_SHAPE and GPT_TRAIN name")
        v = json.loads(args.variant)
        GPT_SHAPE.update(v.get("model", {}))
        GPT_TRAIN.update(v.get("train", {}))
    if args.worker:
        import torch

        torch.set_num_threads(1)
        folder = Path(args.out)
        res = run_ours(folder, None, ["ours"], args.steps, beam=False) if args.steps else \
            WORKERS[args.worker](folder, args.budget_s, args.peers.split(","), seed=args.seed)
        (folder / "result.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
        return
    import tempfile

    from nanonlp.bpe.formats import load_tokenizer

    budget_s = 20 if args.quick else args.budget_min * 60
    if args.steps:
        equal_steps(args.steps, Path(args.work or tempfile.mkdtemp(prefix="bench_chat_")))
        return
    if args.alone:
        work = Path(args.work or tempfile.mkdtemp(prefix="bench_chat_"))
        ours, _, load = run_both(budget_s, work, ("ours",), args.variant)
        print(json.dumps({k: ours[k] for k in ("steps", "best_val", "bleu_greedy", "bleu_beam",
                                               "chrf_greedy", "params")}
                         | {"load": round(statistics.mean(load), 1), "work": str(work)}))
        return
    if args.from_:
        works = [Path(d) for d in args.from_]
        runs = [tuple(json.loads((w / n / "result.json").read_text()) for n in WORKERS)
                for w in works]
        load = [x for w in works for x in json.loads((w / "load.json").read_text())]
        work = works[0]
    else:
        work = Path(args.work or tempfile.mkdtemp(prefix="bench_chat_"))
        ours, anchor, load = run_both(budget_s, work, seed=args.seed)
        runs = [(ours, anchor)]
        (work / "load.json").write_text(json.dumps(load))
    ours, anchor = (mean_of([r[i] for r in runs]) for i in (0, 1))
    best = work / "ours" / "run" / "best"
    timing = work / "chat_timing.json"
    if args.from_ and timing.exists():  # the earlier run's timings, taken on its machine load
        chat, jsonl = (json.loads(timing.read_text())[k] for k in ("chat", "jsonl"))
    else:
        chat = time_chat(best, load_tokenizer(best))
        jsonl = time_jsonl(best, work / "ours" / "test.jsonl",
                           json.loads((work / "ours" / "greedy.json").read_text()))
        timing.write_text(json.dumps({"chat": chat, "jsonl": jsonl}, indent=1))
    case = f"eng-fra en->fr tutorial filter, test {ours['sentences']} sources, " \
           f"{budget_s / 60:.0f} min each" + (f", mean of {len(runs)} seeds" if len(runs) > 1
                                              else "")
    gru = "GRU encoder-decoder (translate --preset tutorial)"
    rows = [result("chat", case, f"BLEU, {d}", ours[f"bleu_{d}"], anchor[f"bleu_{d}"],
                   f"{gru}, {d}", better="higher") for d in ("greedy", "beam")]
    rows += [result("chat", case, f"chrF, {d}", ours[f"chrf_{d}"], anchor[f"chrf_{d}"],
                    f"{gru}, {d}", better="higher") for d in ("greedy", "beam")]
    rows.append(result("chat", case, "BLEU, ours greedy vs GRU beam 5", ours["bleu_greedy"],
                       anchor["bleu_beam"], f"{gru}, beam", better="higher"))
    rows.append(result("chat", case, "training steps", round(ours["steps"]),
                       round(anchor["steps"]), gru,
                       better="higher"))
    rows.append(result("chat", case, "parameters", ours["params"], anchor["params"], gru,
                       better="lower"))
    notes = notes_text(ours, anchor, chat, jsonl, load, budget_s)
    if len(runs) > 1:
        notes += "\n\n" + seeds_text(runs)
    if args.alphas:
        sweep = alpha_sweep(works if args.from_ else [work], args.alphas)
        notes += "\n\n" + sweep_text(sweep)
        rows.append(result("chat", case, "BLEU, beam, each side's alpha chosen on val",
                           sweep["test"]["ours"], sweep["test"]["anchor"],
                           f"{gru}, beam", better="higher"))
    print(notes)
    print(f"work folder: {work}")
    if args.record and not args.quick:
        record("chat", rows, notes)


if __name__ == "__main__":
    main()
