"""The registry is complete, and files resolve in the documented order."""

import hashlib
import inspect

import pytest

from nanonlp import datasets as D
from nanonlp.datasets.registry import RECORD_KINDS
from nanonlp.datasets.store import cache_root, find_file
from nanonlp.errors import DataError

EXPECTED = {"tinyshakespeare", "eng-fra", "multi30k", "conll2003", "text8", "wikitext-2", "brown",
            "lee_corpus", "enwiki_sample", "word_analogy", "word_similarity", "sst2", "movie_reviews",
            "sentence_polarity"}


def test_every_issue_data_set_is_registered():
    assert {ds.name for ds in D.DATASETS} == EXPECTED
    assert D.get_dataset("lee").name == "lee_corpus"
    assert D.get_dataset("google-analogy").name == "word_analogy"


@pytest.mark.parametrize("ds", D.DATASETS, ids=lambda ds: ds.name)
def test_entry_is_complete(ds):
    assert ds.title and ds.licence and ds.source
    assert ds.record in RECORD_KINDS
    assert callable(ds.reader)
    params = list(inspect.signature(ds.reader).parameters)
    assert params[:2] == ["get", "split"]
    assert ds.files and ds.splits
    assert set(ds.counts) <= set(ds.splits)
    names = [f.name for f in ds.files]
    assert len(names) == len(set(names))
    for split in ds.splits:
        assert set(ds.split_files[split]) <= set(names)
    for spec in ds.files:
        assert spec.urls or spec.sha256, f"{spec.name}: neither a URL nor a checksum"
        for url in spec.urls:
            assert url.startswith(("https://", "http://"))
        if spec.sha256 is not None:
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0


def test_unknown_names_and_splits():
    with pytest.raises(DataError, match=r"unknown data set 'nope'; known: tinyshakespeare, eng-fra"):
        D.get_dataset("nope")
    with pytest.raises(DataError, match=r"data set 'conll2003' has no split 'validation'; "
                                        r"splits: train, dev, test"):
        next(D.load("conll2003", "validation"))


def test_packaged_copies_resolve_offline(no_real_data):
    pytest.importorskip("gensim")
    paths = D.locate("lee_corpus")
    data = paths["lee_background.cor"].read_bytes()
    assert hashlib.sha256(data).hexdigest() == D.get_dataset("lee").files[0].sha256
    assert sum(1 for _ in D.load("lee")) == 300
    assert sum(1 for _ in D.load("word_analogy", "words")) == 19544
    assert sum(1 for _ in D.load("word_similarity", "wordsim353")) == 353
    wiki = list(D.text("enwiki_sample"))
    assert len(wiki) == 106 and wiki[0].startswith("Anarchism is a political philosophy")
    assert D.available("lee") and not D.available("conll2003")


def test_resolution_order(tmp_path, monkeypatch):
    ds = D.get_dataset("conll2003")
    shared = tmp_path / "shared" / "conll2003"
    cache = cache_root() / "conll2003"
    explicit = tmp_path / "mine"
    for folder in (shared, cache, explicit):
        folder.mkdir(parents=True)
        (folder / "eng.testa").write_text(f"{folder.name} NNP I-NP I-PER\n")
    monkeypatch.setenv("NANONLP_DATA", str(tmp_path / "shared"))
    assert find_file(ds, "eng.testa") == shared / "eng.testa"  # NANONLP_DATA before the cache
    assert find_file(ds, "eng.testa", path=explicit) == explicit / "eng.testa"
    monkeypatch.delenv("NANONLP_DATA")
    assert find_file(ds, "eng.testa") == cache / "eng.testa"
    assert next(D.load("conll2003", "dev", path=explicit)).tokens == ["mine"]


def test_explicit_path_is_not_silently_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("NANONLP_DATA", str(tmp_path))
    (tmp_path / "conll2003").mkdir()
    (tmp_path / "conll2003" / "eng.testa").write_text("x NNP I-NP O\n")
    with pytest.raises(DataError, match=r"eng.testa not found in .*elsewhere"):
        D.locate("conll2003", "dev", path=tmp_path / "elsewhere")


def test_not_found_message_names_every_way(no_real_data):
    with pytest.raises(DataError) as e:
        D.locate("conll2003", "test")
    msg = str(e.value)
    assert "NANONLP_DATA: not set" in msg and "cache: " in msg
    assert "nanonlp data download conll2003" in msg
    assert "synalp/NER" in msg
    assert "\n" not in msg
    with pytest.raises(DataError, match=r"text8.head.gz not found .*no public download URL"
                                        r".*`nanonlp data info text8`"):
        D.locate("text8", "head")


def test_text_view(tmp_path):
    (tmp_path / "eng.testa").write_text("EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nHi UH O O\n")
    assert list(D.text("conll2003", "dev", path=tmp_path)) == ["EU rejects", "Hi"]
    with pytest.raises(DataError, match=r"holds scored_pair records, not running text"):
        next(D.text("word_similarity", "wordsim353"))


def test_reader_options_are_checked(tmp_path):
    with pytest.raises(DataError, match=r"unexpected keyword argument 'reverse'"):
        next(D.load("conll2003", "dev", path=tmp_path, reverse=True))
