"""Evaluation: spaCy's Scorer and seqeval agree; confusion table and reports on known answers."""

import json
import random

import pytest

spacy = pytest.importorskip("spacy")
pytest.importorskip("seqeval")

from spacy.tokens import Doc  # noqa: E402

from nanonlp.ner.evaluate import NONE, confusion, render_html, score, seqeval_scores  # noqa: E402

LABELS = ["PER", "LOC", "ORG", "MISC"]


def doc(vocab, words, tags):
    return Doc(vocab, words=words, ents=tags)


def random_tags(rng, n):
    """A valid BIO sequence with random entities (some adjacent, some of one token)."""
    tags, i = [], 0
    while i < n:
        if rng.random() < 0.3:
            length = min(rng.randint(1, 3), n - i)
            label = rng.choice(LABELS)
            tags += [f"B-{label}"] + [f"I-{label}"] * (length - 1)
            i += length
        else:
            tags.append("O")
            i += 1
    return tags


def test_known_answer():
    vocab = spacy.blank("en").vocab
    words = ["Ada", "Lovelace", "met", "Babbage", "in", "London", "and", "Paris"]
    gold = doc(vocab, words, ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "O", "B-LOC"])
    # one exact hit (Ada Lovelace), a boundary error (Lovelace alone is not counted), a type
    # error (Babbage as ORG), a hit (London), a miss (Paris)
    pred = doc(vocab, words, ["O", "B-PER", "O", "B-ORG", "O", "B-LOC", "O", "O"])
    r = score([pred], [gold])
    assert (r.precision, r.recall) == (pytest.approx(1 / 3), pytest.approx(1 / 4))
    assert r.per_type["LOC"].f1 == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert r.per_type["PER"].support == 2 and r.per_type["PER"].precision == 0.0
    assert r.seqeval_agrees
    assert r.confusion == {"LOC": {"LOC": 1, NONE: 1}, "PER": {"ORG": 1, NONE: 1},
                           NONE: {"PER": 1}}
    assert "gold \\ predicted" in r.confusion_table()
    assert r.table().splitlines()[-1].split()[:4] == ["overall", "33.33", "25.00", "28.57"]


def test_scorer_agrees_with_seqeval_on_random_predictions():
    rng = random.Random(0)
    vocab = spacy.blank("en").vocab
    golds, preds = [], []
    for _ in range(200):
        n = rng.randint(0, 25)
        words = [f"w{i}" for i in range(n)]
        g = random_tags(rng, n)
        # predictions: the gold tags with random corruption (type swaps, boundary shifts)
        p = random_tags(rng, n) if rng.random() < 0.3 else list(g)
        for i in range(n):
            if rng.random() < 0.1 and p[i] != "O":
                p[i] = p[i][:2] + rng.choice(LABELS)
                if i + 1 < n and p[i + 1].startswith("I-"):
                    p[i + 1] = "B-" + p[i + 1][2:]
        golds.append(doc(vocab, words, g))
        preds.append(doc(vocab, words, p))
    r = score(preds, golds)
    seq = seqeval_scores(preds, golds)
    assert r.seqeval_agrees
    assert r.f1 == pytest.approx(seq["overall"]["f1"], abs=1e-12)
    for label, ts in r.per_type.items():
        assert ts.recall == pytest.approx(seq["per_type"][label]["recall"], abs=1e-12)
    assert 0.3 < r.f1 < 0.95  # the corruption is neither nothing nor everything
    # JSON report round trip
    assert json.loads(json.dumps(r.to_json()))["per_type"]["PER"]["support"] == \
        r.per_type["PER"].support


def test_confusion_counts_every_entity():
    rng = random.Random(1)
    vocab = spacy.blank("en").vocab
    golds = [doc(vocab, ["a"] * 12, random_tags(rng, 12)) for _ in range(30)]
    preds = [doc(vocab, ["a"] * 12, random_tags(rng, 12)) for _ in range(30)]
    table = confusion(preds, golds)
    n_gold = sum(len(g.ents) for g in golds)
    assert sum(sum(row.values()) for lab, row in table.items() if lab != NONE) == n_gold
    matched = sum(v for lab, row in table.items() if lab != NONE for k, v in row.items()
                  if k != NONE)
    assert matched + sum(table.get(NONE, {}).values()) == sum(len(p.ents) for p in preds)


def test_html_has_both_sides():
    vocab = spacy.blank("en").vocab
    g = doc(vocab, ["Ada", "wrote"], ["B-PER", "O"])
    p = doc(vocab, ["Ada", "wrote"], ["B-ORG", "O"])
    html = render_html([p], [g])
    assert "document 1: predicted" in html and "document 1: gold" in html
    assert "ORG" in html and "PER" in html
