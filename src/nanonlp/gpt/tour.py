"""The tour's GPT step: a character-level GPT trained briefly, its val loss, a sample, a curve.

On tinyshakespeare when it is available (NANONLP_DATA), else on the Wikipedia sample that ships
inside gensim. Full size is nanoGPT's CPU recipe shortened to about a minute; quick mode is
the ``tiny`` preset for a few seconds.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import torch

from nanonlp import datasets as D
from nanonlp.bpe.formats import TOKENIZER_FILE, load_tokenizer
from nanonlp.gpt.data import PrepareConfig, prepare
from nanonlp.gpt.model import save_gpt
from nanonlp.gpt.sample import generate, stream_text
from nanonlp.gpt.train import make_trainer
from nanonlp.tour import Figure, PartReport, TourContext
from nanonlp.training.metrics import plot_losses


def run(ctx: TourContext) -> PartReport:
    source = "tinyshakespeare" if D.available("tinyshakespeare") else "enwiki_sample"
    preset = "tiny" if ctx.quick else "nanogpt-cpu"
    steps = 30 if ctx.quick else 600
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        meta = prepare(PrepareConfig(source=source, out=str(tmp / "data"),
                                     max_chars=300_000 if ctx.quick else None))
        trainer = make_trainer(tmp / "data", preset, train=dict(
            max_steps=steps, decay_steps=steps, eval_interval=steps // (2 if ctx.quick else 6),
            eval_steps=4 if ctx.quick else 20, seed=ctx.seed, device="cpu",
            out=str(tmp / "run")))
        records = [r.to_json() for r in trainer.run()]
        tok = load_tokenizer(tmp / "data" / TOKENIZER_FILE)
        model = trainer.model.eval()
        # weights and tokenizer, kept for `nanonlp serve` (make serve)
        save_gpt(model, ctx.path("gpt") / "model", tmp / "data" / TOKENIZER_FILE)
        prompt = tok.encode("\n")
        gen = torch.Generator().manual_seed(ctx.seed)
        ids = generate(model, prompt, 120 if ctx.quick else 300, temperature=0.8, top_k=40,
                       generator=gen)
        sample = "".join(stream_text(tok, ids))
    png = plot_losses(records, ctx.path("gpt_loss.png"), f"char-level GPT ({preset}) on {source}")
    last = records[-1]
    val = last["eval"]["val"]
    seconds = last["seconds"]
    return PartReport(
        data=f"{source} ({meta['characters']:,} characters, {meta['vocab_size']} symbols; "
             f"last 10% held out)" + ("" if source == "tinyshakespeare" else
                                      ": tinyshakespeare needs NANONLP_DATA"),
        summary=(f"A {trainer.model.num_params():,}-parameter GPT (preset `{preset}`) trained "
                 f"for {steps} steps ({seconds:.0f} s on CPU): val loss {val:.3f} nats/char "
                 f"(uniform guessing: {math.log(meta['vocab_size']):.2f}).\n\nSample:\n\n"
                 "```\n" + sample.strip("\n") + "\n```"),
        metrics={"val loss": round(val, 4), "train loss": round(last["eval"]["train"], 4),
                 "steps": steps, "parameters": trainer.model.num_params(),
                 "seconds": round(seconds, 1)},
        figures=[Figure(png.name, "GPT training loss (per step) and evaluations",
                        {"step": [r["step"] for r in records if r.get("eval")],
                         "val": [round(r["eval"]["val"], 4) for r in records
                                 if r.get("eval")]})],
    )
