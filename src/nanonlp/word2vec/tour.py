"""The tour's word-vector step: train skip-gram, evaluate it, draw chosen words in 2-D.

Full size trains on the text8 prefix (1.17M words, needs ``NANONLP_DATA``) for 5 epochs;
without it on the Wikipedia sample and Lee corpus that ship with gensim (about 540k words);
in quick mode on the Lee corpus alone (60k words: too small for good vectors, but the whole
pipeline runs). Evaluation uses the analogy questions and
WS-353 / SimLex-999 copies that gensim also ships, so this step needs no network.
"""

from __future__ import annotations

from nanonlp import datasets as D
from nanonlp.tour import Figure, PartReport, TourContext
from nanonlp.word2vec.config import Word2VecConfig
from nanonlp.word2vec.corpus import Corpus
from nanonlp.word2vec.evaluate import evaluate
from nanonlp.word2vec.plot import plot_words
from nanonlp.word2vec.train import make_trainer

PLOT_WORDS = ("king", "queen", "man", "woman", "prince", "princess", "paris", "france",
              "berlin", "germany", "rome", "italy", "london", "england", "one", "two", "three",
              "four", "red", "blue", "green", "war", "army", "soldiers")
SEEDS = ("police", "fire", "government", "australia", "children", "money")


def run(ctx: TourContext) -> PartReport:
    if not ctx.quick and D.data_root() and D.available("text8", "head"):
        corpus, epochs, dim = Corpus.from_datasets(["text8/head"]), 5, 100
        data = "text8 prefix (1,171,946 words, NANONLP_DATA)"
    elif not ctx.quick:
        corpus, epochs, dim = Corpus.from_datasets(["enwiki_sample", "lee_corpus"]), 10, 100
        data = ("Wikipedia sample + Lee corpus (about 540k words, both packaged with gensim; "
                "text8 needs NANONLP_DATA)")
    else:
        corpus, epochs, dim = Corpus.from_datasets(["lee_corpus"]), 4, 50
        data = "Lee background corpus (60k words, packaged with gensim)"
    sentences = list(corpus)
    config = Word2VecConfig(model="sg", dim=dim, epochs=epochs, seed=ctx.seed + 1,
                            report_every=100_000 if ctx.quick else 200_000)
    trainer = make_trainer(config)
    records = list(trainer.train(sentences))
    wv = trainer.vectors()
    wv.save(ctx.path("word2vec") / "vectors.bin")  # kept for `nanonlp serve` (make serve)
    report = evaluate(wv, "words", ("wordsim353", "simlex999"))
    analogy, sims = report["analogy"], report["similarity"]

    words = [w for w in PLOT_WORDS if w in wv]
    if len(words) < 8:  # small corpus: a few frequent words and their neighbours instead
        words = []
        for seed in (s for s in SEEDS if s in wv):
            for w in [seed] + [x for x, _ in wv.most_similar(seed, topn=3)]:
                if w not in words:
                    words.append(w)
    figures = []
    if len(words) >= 3:
        path = ctx.path("word2vec_pca.png")
        coords = plot_words(wv, words, path, "pca",
                            title=f"Skip-gram vectors, PCA of {len(words)} words")
        figures.append(Figure(path.name, "2-D PCA of chosen words' unit vectors", coords))
    figures.append(_loss_figure(ctx, records))

    probes = [w for w in ("king", "france", "police", "one") if w in wv][:2]
    lines = [f"Skip-gram with negative sampling, our numba kernel on {config.workers} threads: "
             f"{records[-1].words_per_s:,.0f} words/s, final loss {records[-1].loss:.3f}.", ""]
    for w in probes:
        near = ", ".join(f"{x} ({s:.2f})" for x, s in wv.most_similar(w, topn=6))
        lines.append(f"- nearest to **{w}**: {near}")
    metrics = {
        "vocabulary": len(wv),
        "words/s": round(records[-1].words_per_s),
        "final loss": round(records[-1].loss, 4),
        "analogy accuracy (total)": round(analogy["total"]["accuracy"], 4),
        "analogy semantic": round(analogy["semantic"]["accuracy"], 4),
        "analogy syntactic": round(analogy["syntactic"]["accuracy"], 4),
        "analogy OOV %": round(analogy["oov_ratio"], 1),
        "WS-353 Spearman": round(sims["wordsim353"]["spearman"], 4),
        "SimLex-999 Spearman": round(sims["simlex999"]["spearman"], 4),
    }
    return PartReport(data=data, summary="\n".join(lines), metrics=metrics, figures=figures)


def _loss_figure(ctx: TourContext, records) -> Figure:
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    xs = [r.words / 1e6 for r in records]
    ys = [r.loss for r in records]
    fig = matplotlib.figure.Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot(xs, ys, marker="o", color="#4c72b0")
    ax.set_xlabel("words trained (millions)")
    ax.set_ylabel("negative-sampling loss per pair")
    ax.set_title("Skip-gram training loss")
    return ctx.figure(fig, "word2vec_loss.png", "Training loss, mean per (word, context) pair",
                      {"million words": [round(x, 3) for x in xs],
                       "loss": [round(y, 4) for y in ys]})
