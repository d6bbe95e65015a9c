"""The tour's translation step: a GRU + attention translator trained for about a minute, its
BLEU on held-out sentences, an attention heatmap and the loss curves.

At full size, on eng-fra with the PyTorch tutorial's filter (French -> English) when the data
is available (NANONLP_DATA): the ``tutorial`` preset for a minute. Otherwise, and always in
quick mode (reading and normalising eng-fra alone takes ~10 s), on a synthetic task, reversing
strings of symbols, labelled as such, with the ``tiny`` preset.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from nanonlp import datasets as D
from nanonlp.seq2seq.data import reversal_pairs
from nanonlp.seq2seq.model import KIND
from nanonlp.seq2seq.plot import plot_attention
from nanonlp.seq2seq.train import evaluate, make_trainer
from nanonlp.seq2seq.translate import Translator
from nanonlp.tour import Figure, PartReport, TourContext
from nanonlp.training.checkpoint import save_checkpoint
from nanonlp.training.metrics import plot_losses

EXAMPLES = ["je suis tres fatigue .", "elle est plus grande que moi .", "nous sommes en retard ."]


def run(ctx: TourContext) -> PartReport:
    real = D.available("eng-fra") and not ctx.quick
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = dict(out=str(tmp / "run"), seed=ctx.seed, device="cpu")
        if real:
            preset, data, model = "tutorial", {}, {}
            budget = 1.0  # minute
            train.update(max_steps=10 ** 6, eval_interval=250)
            examples = EXAMPLES
        else:
            preset, budget = "tiny", None
            rows = reversal_pairs(1500, random.Random(ctx.seed))
            (tmp / "rev.tsv").write_text("".join(f"{p.source}\t{p.target}\n" for p in rows))
            data = dict(source=str(tmp / "rev.tsv"), src_lang="x", tgt_lang="y",
                        filter="none", normalizer="none")
            model = dict(hidden=48) if ctx.quick else dict(hidden=64)
            train.update(max_steps=40 if ctx.quick else 400, batch_size=16 if ctx.quick else 32,
                         eval_interval=20 if ctx.quick else 100)
            examples = ["a b c d", "h h a b c g", "e f g"]
        trainer = make_trainer(data, preset, model, train)
        prep = trainer.data
        records = [r.to_json() for r in trainer.run(budget_min=budget)]
        tr = Translator.load(tmp / "run" / "best")
        # the weights and vocabularies, kept for `nanonlp serve` (make serve)
        save_checkpoint(ctx.path("translate") / "model", tr.model, kind=KIND,
                        model_config=tr.model.config.to_dict(), extra_files=trainer.extra_files)
        rep = evaluate(tr, prep.pairs["test"], "test", beam=5,
                       max_sentences=100 if ctx.quick else None)
        shown = tr.translate(examples, beam=5)
    what = "eng-fra, French -> English, the PyTorch tutorial's filter" if real else \
        "SYNTHETIC: reversing strings of 3-6 symbols" + \
        (" (quick mode)" if ctx.quick else " (eng-fra needs NANONLP_DATA)")
    curve = plot_losses(records, ctx.path("translate_loss.png"), f"seq2seq ({preset})")
    heat = plot_attention(shown[:2], ctx.path("translate_attention.png"))
    s = prep.stats
    lines = "\n".join(f"    {t.source}  ->  {t.text}" for t in shown)
    return PartReport(
        data=f"{what}: {s['pairs']['train']:,} train / {s['pairs']['test']:,} test pairs "
             "(test = sources whose salted sha256 falls under 5%)",
        summary=(f"A {trainer.model.num_params():,}-parameter bidirectional GRU encoder-decoder "
                 f"with additive attention (preset `{preset}`), {trainer.step} steps "
                 f"({records[-1]['seconds']:.0f} s on CPU). Test BLEU {rep.bleu:.1f}, chrF "
                 f"{rep.chrf:.1f} (beam 5, {rep.sentences} sentences).\n\n" + lines),
        metrics={"BLEU": round(rep.bleu, 2), "chrF": round(rep.chrf, 2), "steps": trainer.step,
                 "best val loss": round(trainer.best_val, 4),
                 "parameters": trainer.model.num_params()},
        figures=[Figure(curve.name, "training loss per step and train/val evaluations",
                        {"step": [r["step"] for r in records if r.get("eval")],
                         "val": [round(r["eval"]["val"], 4) for r in records if r.get("eval")]}),
                 Figure(heat.name, "attention of the decoder over the source, per output word",
                        {"translations": [t.text for t in shown[:2]]})],
    )
