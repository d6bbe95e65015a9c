"""With NANONLP_DATA set, every real data set reads completely and matches SOURCES.md."""

from collections import Counter

import pytest

from nanonlp import datasets as D
from nanonlp.fileio import sha256_file

pytestmark = pytest.mark.data

SPLITS = [(ds.name, split) for ds in D.DATASETS for split in ds.splits
          if split in ds.split_files and (ds.name, split) not in
          {("text8", "full"), ("wikitext-2", "train")}]  # not in shared/data


@pytest.mark.parametrize(("name", "split"), SPLITS, ids=lambda x: str(x))
def test_reads_completely_with_published_counts(real_data, name, split):
    ds = D.get_dataset(name)
    records = list(D.load(name, split))
    if split in ds.counts:
        assert len(records) == ds.counts[split]
    assert records


def test_checksums_of_shared_files(real_data):
    for ds in D.DATASETS:
        for spec in ds.files:
            path = real_data / ds.name / spec.name
            if path.exists() and spec.sha256:
                assert sha256_file(path) == spec.sha256, path


def test_conll2003_details(real_data):
    # SOURCES.md: documents 946 / 216 / 231, tokens 203,621 / 51,362 / 46,435; train entities.
    for split, docs, tokens in (("train", 946, 203621), ("dev", 216, 51362), ("test", 231, 46435)):
        sents = list(D.load("conll2003", split))
        assert len({s.doc for s in sents}) == docs
        assert sum(len(s.tokens) for s in sents) == tokens
    train = list(D.load("conll2003", "train"))
    starts = Counter(t[2:] for s in train for t in s.tags if t.startswith("B-"))
    assert starts == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}


def test_text_corpora_token_counts(real_data):
    assert sum(len(c.split()) for c in D.text("text8", "head")) == 1171946
    assert sum(len(s.tokens) for s in D.load("brown")) == 1161192
    assert sum(len(doc.split()) for doc in D.text("lee")) == 59890
    assert sum(len(line.split()) for line in D.text("wikitext-2", "valid")) == 213886
    shakespeare = "\n".join(D.text("tinyshakespeare"))
    assert len(shakespeare) + 1 == 1115394 and len(set(shakespeare)) == 65
    from nanonlp.gpt.data import read_source

    text, _ = read_source("tinyshakespeare")  # what `gpt prepare` reads: the file, exactly
    assert text == D.locate("tinyshakespeare")["input.txt"].read_text(encoding="utf-8")


def test_analogy_sections(real_data):
    qs = list(D.load("word_analogy", "words"))
    semantic = sum(1 for q in qs if not q.section.startswith("gram"))
    assert (semantic, len(qs) - semantic) == (8869, 10675)
    assert len({q.section for q in qs}) == 14


def test_labels(real_data):
    assert Counter(e.label for e in D.load("sst2", "train")) == {"1": 37569, "0": 29780}
    assert Counter(e.label for e in D.load("sst2", "dev")) == {"1": 444, "0": 428}
    assert Counter(e.label for e in D.load("movie_reviews")) == {"pos": 1000, "neg": 1000}
    assert Counter(e.label for e in D.load("sentence_polarity")) == {"pos": 5331, "neg": 5331}


def test_pairs(real_data):
    pairs = list(D.load("eng-fra"))
    assert len({p.source for p in pairs}) == 98659
    assert pairs[0].source == "Go." and D.load("eng-fra", reverse=True).__next__().target == "Go."
    m = list(D.load("multi30k", "train", src="fr", tgt="en"))
    assert len(m) == 29000
    assert sum(len(p.target.split()) for p in m) == 345020
