"""The tour's BERT step: a small BERT pretrained briefly with masked-LM, its masked-token
accuracy, a fill-mask example and a loss curve.

Pretraining text is wikitext-2 (valid) when NANONLP_DATA is set, else the Wikipedia sample
that ships inside gensim. Full size trains a 2-layer, 64-wide BERT for about a minute; quick
mode a 1-layer, 32-wide one for a few seconds. Fine-tuning is left to ``nanonlp bert
finetune`` and ``benchmarks/bert.py``: a minute of pretraining is too little to show what
pretraining buys on a labelled task.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from nanonlp import datasets as D
from nanonlp.bert.data import load_tokenizer
from nanonlp.bert.model import save_bert
from nanonlp.bert.predict import fill_mask
from nanonlp.bert.pretrain import PretrainConfig, load_corpus, make_trainer, mlm_accuracy
from nanonlp.bpe.formats import TOKENIZER_FILE
from nanonlp.tour import Figure, PartReport, TourContext
from nanonlp.training.metrics import plot_losses


def run(ctx: TourContext) -> PartReport:
    source = "wikitext-2:valid" if D.available("wikitext-2", "valid") else "enwiki_sample"
    quick = ctx.quick
    model = dict(block_size=64, n_layer=1, n_head=2, n_embd=32, dropout=0.0) if quick else \
        dict(block_size=64, n_layer=2, n_head=2, n_embd=64, dropout=0.0)
    steps = 15 if quick else 150
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = PretrainConfig(sources=source, data=str(tmp / "data"),
                             vocab_size=400 if quick else 1024,
                             max_chars=40_000 if quick else 300_000)
        trainer = make_trainer(cfg, "tiny", model=model, train=dict(
            max_steps=steps, batch_size=16, lr=2e-3, min_lr=2e-4, warmup_steps=steps // 10,
            eval_interval=steps if quick else steps // 5, eval_steps=2 if quick else 5,
            seed=ctx.seed,
            device="cpu", out=str(tmp / "run")))
        records = [r.to_json() for r in trainer.run()]
        bert = trainer.model.eval()
        # weights and tokenizer, kept for `nanonlp serve` (make serve)
        save_bert(bert, ctx.path("bert") / "model", tmp / "data" / TOKENIZER_FILE)
        acc = mlm_accuracy(bert, load_corpus(cfg.data), batches=2 if quick else 10,
                           batch_size=16, seed=ctx.seed)
        tok = load_tokenizer(tmp / "data" / TOKENIZER_FILE)
        prompt = "The city is the[MASK] of the country ."
        fills = fill_mask(bert, tok, prompt, top_k=5)[0]
    png = plot_losses(records, ctx.path("bert_loss.png"), f"BERT MLM pretraining on {source}")
    last = records[-1]
    evals = [r for r in records if r.get("eval")]
    n_params = bert.num_params()
    layers = f"{model['n_layer']} layer" + ("s" if model["n_layer"] > 1 else "")
    summary = (f"A {n_params:,}-parameter BERT ({layers}, {model['n_embd']} wide) pretrained "
               f"with masked-LM for {steps} steps ({last['seconds']:.0f} s on CPU): val MLM "
               f"loss {last['eval']['val']:.3f}, masked-token accuracy "
               f"{100 * acc['accuracy']:.1f}% over {acc['tokens']:,} masked tokens.\n\n"
               f"Fill-mask for `{prompt}`: "
               + ", ".join(f"`{t!r}` ({p:.2f})" for t, p in fills))
    metrics = {"val MLM loss": round(last["eval"]["val"], 4),
               "masked-token accuracy %": round(100 * acc["accuracy"], 2), "steps": steps,
               "parameters": n_params, "seconds": round(last["seconds"], 1)}
    return PartReport(
        data=f"{source} (first {cfg.max_chars:,} characters; last 2% of blocks held out)"
             + ("" if source != "enwiki_sample" else ": wikitext-2 needs NANONLP_DATA"),
        summary=summary, metrics=metrics,
        figures=[Figure(png.name, "BERT masked-LM loss (per step) and evaluations",
                        {"step": [r["step"] for r in evals],
                         "val": [round(r["eval"]["val"], 4) for r in evals]})],
    )
