"""Readers of your own labelled files: TSV/CSV headers and column picks, JSONL, column files,
pairs; the label checks, each naming file and line."""

from __future__ import annotations

import pytest

from nanonlp.datasets import labelled as L
from nanonlp.datasets.records import Example, PairExample, TaggedSentence
from nanonlp.errors import ConfigError, DataError


def write(path, text: str | bytes):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_headerless_two_columns_is_text_then_label(tmp_path):
    p = write(tmp_path / "t.tsv", "a fine film \tpos\n\nawful\tneg\n")  # SST-2's stray space
    assert L.read_labelled(p) == [Example("a fine film", "pos", f"{p}:1"),
                                  Example("awful", "neg", f"{p}:3")]


def test_a_header_is_detected_by_its_usual_names_and_columns_picked_by_name_or_index(tmp_path):
    p = write(tmp_path / "t.tsv", "label\tsentence\n1\tgood\n0\tbad\n")
    assert [(r.text, r.label) for r in L.read_labelled(p)] == [("good", "1"), ("bad", "0")]
    p = write(tmp_path / "u.tsv", "7\tgood\tpos\n8\tbad\tneg\n")
    got = L.read_labelled(p, text_column="1", label_column="-1")
    assert [(r.text, r.label, r.id) for r in got] == [("good", "pos", f"{p}:1"),
                                                      ("bad", "neg", f"{p}:2")]
    with pytest.raises(DataError, match=r"u\.tsv:1: which column holds the text\? no header "
                                        r"and 3 columns; name it with --text_column"):
        L.read_labelled(p)
    # a header forced off: its first row is data, even if it looks like names
    p = write(tmp_path / "v.tsv", "text\tlabel\nok\tpos\n")
    assert len(L.read_labelled(p, header=False)) == 2


def test_csv_quoting_multiline_cells_and_pairs(tmp_path):
    p = write(tmp_path / "q.csv", 'id,q1,q2,same\r\n1,"Hi, you","two\nlines",yes\r\n2,a,b,no\r\n')
    got = L.read_labelled(p, text_column="q1", text_pair_column="q2", label_column="same")
    assert got == [PairExample("Hi, you", "two\nlines", "yes", f"{p}:2"),
                   PairExample("a", "b", "no", f"{p}:4")]
    # the usual names find a pair column on their own
    p = write(tmp_path / "r.csv", "sentence1,sentence2,label\nx,y,1\n")
    assert L.read_labelled(p) == [PairExample("x", "y", "1", f"{p}:2")]


def test_jsonl_labels_numbers_and_pairs(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n\n{"text": "b", "label": "x"}\n')
    assert [(r.text, r.label) for r in L.read_labelled(p)] == [("a", "1"), ("b", "x")]
    p = write(tmp_path / "g.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": true}\n')
    with pytest.raises(DataError, match=r"g\.jsonl:2: 'label' must be a string or an integer, "
                                        "got true"):  # labels are names (issue #30)
        L.read_labelled(p)
    p = write(tmp_path / "e.jsonl", '{"text": "a", "text_pair": "b", "label": "x"}\n'
                                    '{"text": "c", "label": "y"}\n')
    with pytest.raises(DataError, match=r"e\.jsonl:2: no 'text_pair' field \(the first record "
                                        r"has one"):
        L.read_labelled(p)
    p = write(tmp_path / "f.jsonl", '{"review": "a", "stars": 5}\n')
    assert L.read_labelled(p, text_column="review", label_column="stars")[0].label == "5"
    with pytest.raises(ConfigError, match="JSONL fields have names"):
        L.read_labelled(p, text_column="0")


def test_tags_any_label_set_and_an_unseen_type_names_its_line(tmp_path):
    train = [TaggedSentence(["Zorbo", "ran"], ["B-GADGET", "O"])]
    labels = L.tag_labels(train, "train.conll")
    assert labels == ["B-GADGET", "I-GADGET", "O"]
    p = write(tmp_path / "dev.conll", "-DOCSTART- O\n\nthe O\nZorbo B-GADGET\n\nin O\n"
                                      "Paris B-LOC\n")
    dev = L.read_tagged(p)
    assert [s.tags for s in dev] == [["O", "B-GADGET"], ["O", "B-LOC"]]
    with pytest.raises(DataError, match=r"dev\.conll:7: tag 'B-LOC' \(word 'Paris'\) is of a "
                                        r"type the training file lacks \(it has \['GADGET'\]\)"):
        L.check_tags(dev, labels, p)
    with pytest.raises(DataError, match="every tag is 'O'"):
        L.tag_labels([TaggedSentence(["a"], ["O"])], "t.conll")


def test_pairs_and_single_sentences(tmp_path):
    p = write(tmp_path / "p.tsv", "a\tb\nc\td\n")
    assert L.read_pairs(p) == [("a", "b"), ("c", "d")]
    p = write(tmp_path / "s.txt", "one\ntwo\n")
    assert L.read_pairs(p) == [("one", "one"), ("two", "two")]
    p = write(tmp_path / "m.tsv", "a\tb\nc\n")
    with pytest.raises(DataError, match=r"m\.tsv:2: 1 column, expected 2 like line 1"):
        L.read_pairs(p)
