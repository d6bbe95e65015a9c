"""The tour's NER step: convert, train briefly with spaCy, evaluate per type, render samples.

With ``NANONLP_DATA`` it trains on a slice of CoNLL-2003 train and evaluates on a slice of dev
(eng.testa). Without it there is no real NER data offline, so it generates a small synthetic
task (templated sentences with person, place and organisation names filled in) and says so in
the report: the point there is to show the pipeline working, not a meaningful score.
"""

from __future__ import annotations

import random
from itertools import islice

from nanonlp.datasets.records import TaggedSentence
from nanonlp.fileio import atomic_write
from nanonlp.tour import Figure, PartReport, TourContext

# The last three names of each list never occur in training sentences, so the dev score
# measures whether the model learned from context; a few names belong to two types.
_PER = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Marie Curie", "Niels Bohr",
        "Emmy Noether", "Washington", "Ford", "John Smith", "Maria Garcia", "Kurt Godel",
        "Paris Hilton", "Jordan"]
_LOC = ["London", "Paris", "New York", "Berlin", "Tokyo", "Cairo", "Washington", "Jordan",
        "Lima", "San Francisco", "Nairobi", "Oslo"]
_ORG = ["Reuters", "the United Nations", "Siemens", "IBM", "the Royal Society", "Ford",
        "Oxford University", "Toyota", "the World Bank", "Nokia", "Greenpeace"]
_HELD_OUT = 3  # names at the end of each list kept for dev
_TEMPLATES = [
    "{PER} flew to {LOC} on Monday .", "{ORG} opened an office in {LOC} .",
    "{PER} joined {ORG} last year .", "In {LOC} , {PER} met officials from {ORG} .",
    "{ORG} said {PER} would visit {LOC} .", "Shares in {ORG} rose 3 percent .",
    "{PER} was born in {LOC} .", "The talks in {LOC} ended without a deal .",
]


_QUICK = ("components.tok2vec.model.encode.width=64", "components.tok2vec.model.encode.depth=2",
          "training.optimizer.learn_rate=0.005")


def synthetic_sentences(n: int, rng: random.Random, held_out: bool = False
                        ) -> list[TaggedSentence]:
    """``n`` templated sentences with BIO tags; each template slot gets a random filler.

    ``held_out=True`` (dev) draws half of the fillers from names training never sees.

    >>> s = synthetic_sentences(1, random.Random(0))[0]
    >>> len(s.tokens) == len(s.tags) and s.tags.count("O") < len(s.tags)
    True
    """
    seen = {lab: names[:-_HELD_OUT] for lab, names in (("PER", _PER), ("LOC", _LOC),
                                                        ("ORG", _ORG))}
    unseen = {"PER": _PER[-_HELD_OUT:], "LOC": _LOC[-_HELD_OUT:], "ORG": _ORG[-_HELD_OUT:]}
    out = []
    for i in range(n):
        tokens: list[str] = []
        tags: list[str] = []
        for piece in rng.choice(_TEMPLATES).split():
            if piece.startswith("{"):
                label = piece[1:-1]
                pool = unseen if held_out and rng.random() < 0.5 else seen
                words = rng.choice(pool[label]).split()
                if words[0] == "the":  # "the" is not part of the name, as in CoNLL
                    tokens.append("the")
                    tags.append("O")
                    words = words[1:]
                tokens += words
                tags += [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
            else:
                tokens.append(piece)
                tags.append("O")
        out.append(TaggedSentence(tokens, tags, i // 5))
    return out


def run(ctx: TourContext) -> PartReport:
    try:
        import spacy
    except ImportError:
        from nanonlp.errors import NanonlpError

        raise NanonlpError("the NER part needs spaCy: pip install 'nanonlp[ner]'") from None

    from nanonlp import datasets
    from nanonlp.ner.convert import save_docbin, sentences_to_docs
    from nanonlp.ner.evaluate import predict, render_html, score
    from nanonlp.ner.train import NERTrainConfig, train

    rng = random.Random(ctx.seed)
    if datasets.available("conll2003", "train") and datasets.available("conll2003", "dev"):
        n_train, n_dev = (400, 150) if ctx.quick else (3000, 600)
        train_sents = list(islice(datasets.load("conll2003", "train"), n_train))
        dev_sents = list(islice(datasets.load("conll2003", "dev"), n_dev))
        data = (f"CoNLL-2003 English: first {n_train:,} sentences of eng.train, first "
                f"{n_dev:,} of eng.testa (from NANONLP_DATA)")
        minutes = 0.9
    else:
        n_train, n_dev = (150, 40) if ctx.quick else (1500, 300)
        train_sents = synthetic_sentences(n_train, rng)
        dev_sents = synthetic_sentences(n_dev, rng, held_out=True)
        data = (f"SYNTHETIC: {n_train:,} train / {n_dev:,} dev templated sentences with "
                "PER/LOC/ORG names filled in, half of dev's names unseen in training "
                "(no real NER data offline; set NANONLP_DATA for CoNLL-2003)")
        minutes = 0.5
    nlp = spacy.blank("en")
    work = ctx.path("ner")
    work.mkdir(parents=True, exist_ok=True)
    save_docbin(sentences_to_docs(train_sents, nlp.vocab, n_sents=10), work / "train.spacy")
    dev_docs = list(sentences_to_docs(dev_sents, nlp.vocab, n_sents=10))
    save_docbin(dev_docs, work / "dev.spacy")
    # quick: a fixed number of steps (the same result on any machine) of a narrower network
    cfg = NERTrainConfig(train=str(work / "train.spacy"), dev=str(work / "dev.spacy"),
                      out=str(work / "run"), seed=ctx.seed, budget_min=minutes,
                      max_steps=30 if ctx.quick else 20000, eval_frequency=15 if ctx.quick else 100,
                      overrides=_QUICK if ctx.quick else ())
    curve = [(s.step, s.dev_f1) for s in train(cfg) if s.dev_f1 is not None]
    model = spacy.load(work / "run" / "model-best")
    pred = predict(model, dev_docs)
    report = score(pred, dev_docs)
    html = ctx.path("ner_samples.html")
    with atomic_write(html) as f:
        f.write(render_html(pred, dev_docs, n=5))
    per_type = {k: round(100 * v.f1, 2) for k, v in sorted(report.per_type.items())}
    return PartReport(
        data=data,
        summary=(f"Trained spaCy's NER (our `efficiency` preset"
                 f"{', narrowed for quick mode' if ctx.quick else ''}) for {curve[-1][0]} "
                 f"steps (budget {minutes:g} min); best dev F1 at step "
                 f"{max(curve, key=lambda c: c[1])[0]}. Per-type scores from spaCy's Scorer, "
                 f"{'confirmed' if report.seqeval_agrees else 'NOT confirmed'} by seqeval. "
                 f"Sample predictions beside gold: [{html.name}]({html.name}).\n\n"
                 "```\n" + report.table() + "\n\n" + report.confusion_table() + "\n```"),
        metrics={"dev precision": round(100 * report.precision, 2),
                 "dev recall": round(100 * report.recall, 2),
                 "dev F1": round(100 * report.f1, 2),
                 "seqeval agrees": report.seqeval_agrees, "training steps": curve[-1][0]},
        figures=[_plot(ctx, per_type, curve)],
    )


def _plot(ctx: TourContext, per_type: dict[str, float], curve: list) -> Figure:
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    fig = matplotlib.figure.Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(list(per_type), list(per_type.values()), color="#4c72b0")
    ax1.set_ylim(0, 100)
    ax1.set_ylabel("dev F1 (%)")
    ax1.set_title("F1 per entity type")
    for i, v in enumerate(per_type.values()):
        ax1.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    ax2.plot([s for s, _ in curve], [100 * f for _, f in curve], marker="o", color="#dd8452")
    ax2.set_xlabel("training step")
    ax2.set_ylabel("dev F1 (%)")
    ax2.set_title("Dev F1 during training")
    return ctx.figure(fig, "ner_f1.png",
                      "NER: dev F1 per entity type (left) and during training (right)",
                      {"per_type_f1": per_type,
                       "curve": [[s, round(100 * f, 2)] for s, f in curve]})
