"""The tour's BPE step: train a small tokenizer, measure compression against vocabulary size.

One training run serves every vocabulary size: BPE is greedy, so the first ``k`` merges of a
tokenizer trained to 4,096 tokens are exactly the tokenizer trained to ``256 + k``. Trains on
tinyshakespeare's train split when ``NANONLP_DATA`` has it (else on the Lee corpus that gensim
ships) and measures bytes per token on text held out from training.
"""

from __future__ import annotations

from nanonlp import datasets as D
from nanonlp.bpe.config import BPEConfig
from nanonlp.bpe.tokenizer import Tokenizer, render_token
from nanonlp.tour import Figure, PartReport, TourContext


def run(ctx: TourContext) -> PartReport:
    if D.available("tinyshakespeare"):
        name = "tinyshakespeare"
        train = "\n".join(D.text(name, "train"))
        held_out = "\n".join(D.text(name, "val"))
    else:
        name = "lee_corpus"
        docs = list(D.text(name))
        cut = len(docs) * 9 // 10
        train, held_out = "\n".join(docs[:cut]), "\n".join(docs[cut:])
    if ctx.quick:
        train, held_out = train[:100_000], held_out[:20_000]
    vocab = 1024 if ctx.quick else 4096
    tok = Tokenizer.train(train, BPEConfig(vocab_size=vocab, pattern="gpt4"))
    tok.save(ctx.path("bpe") / "tokenizer")  # kept for `nanonlp serve` (make serve)

    sizes = [s for s in (256, 384, 512, 768, 1024, 1536, 2048, 3072) if s < len(tok.vocab)]
    sizes.append(len(tok.vocab))  # all merges (special tokens aside)
    n_bytes = len(held_out.encode("utf-8"))
    compression = {}
    for size in sizes:
        prefix = Tokenizer(tok.merges[: size - 256], tok.pattern)
        compression[size] = round(n_bytes / len(prefix.encode_ordinary(held_out)), 3)
    ids = tok.encode_ordinary(held_out)
    round_trip = tok.decode(ids) == held_out

    first = [f"`{render_token(tok.vocab[a])}` + `{render_token(tok.vocab[b])}`"
             for a, b in tok.merges[:8]]
    longest = sorted(range(256, len(tok.vocab)), key=lambda i: (-len(tok.vocab[i]), i))[:5]
    summary = (
        f"Trained a GPT-4-pattern byte-level BPE with {len(tok.merges):,} merges on "
        f"{len(train):,} characters; held-out text: {n_bytes:,} bytes -> {len(ids):,} tokens "
        f"(**{n_bytes / len(ids):.2f} bytes/token**; bytes alone give 1.00).\n\n"
        f"First merges: {', '.join(first)}.\n\n"
        f"Longest tokens: {', '.join(f'`{render_token(tok.vocab[i])}`' for i in longest)}.")
    return PartReport(
        data=f"{name} ({'NANONLP_DATA' if name == 'tinyshakespeare' else 'packaged with gensim'})"
             f"{', first 100k characters' if ctx.quick else ''}",
        summary=summary,
        metrics={"vocab size": tok.vocab_size, "held-out bytes/token": compression[sizes[-1]],
                 "decode(encode(x)) == x": round_trip},
        figures=[_plot(ctx, compression, tok, ids)],
    )


def _plot(ctx: TourContext, compression: dict[int, float], tok: Tokenizer, ids) -> Figure:
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    fig = matplotlib.figure.Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(list(compression), list(compression.values()), "o-", color="#4c72b0")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("vocabulary size (first k merges)")
    ax1.set_ylabel("held-out bytes per token")
    ax1.set_title("Compression grows with the vocabulary")
    lengths = [len(tok.vocab[i]) for i in ids]
    ax2.hist(lengths, bins=range(1, max(lengths) + 2), color="#dd8452", align="left")
    ax2.set_xlabel("token length in bytes")
    ax2.set_ylabel("tokens in the held-out text")
    ax2.set_title("Token lengths at the full vocabulary")
    fig.tight_layout()
    path = ctx.path("bpe_compression.png")
    fig.savefig(path, dpi=100)
    return Figure(path.name, "BPE: held-out bytes/token vs vocabulary size; token lengths",
                  {"bytes_per_token_by_vocab_size": compression})
