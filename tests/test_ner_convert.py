"""Converters: tag schemes, column files, JSONL offsets, DocBin round trips, CoNLL output."""

import json

import pytest

spacy = pytest.importorskip("spacy")

from nanonlp.datasets.readers import read_conll as read_columns  # noqa: E402  (the one column reader)
from nanonlp.errors import ConfigError, DataError  # noqa: E402
from nanonlp.ner.convert import (  # noqa: E402
    ConvertConfig,
    bilou_to_bio,
    bio_spans,
    convert,
    doc_tags,
    docs_to_conll,
    load_docbin,
    read_jsonl,
    sentences_to_docs,
    to_bio,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_iob1_edge_cases():
    # I- after O starts an entity; a type switch inside a run starts a new one; B- separates
    # two adjacent entities of the same type.
    assert to_bio(["O", "I-PER", "I-PER", "I-LOC", "I-LOC", "B-LOC", "O", "I-ORG"], "iob1") == \
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-LOC", "O", "B-ORG"]
    assert to_bio(["I-MISC"], "iob1") == ["B-MISC"]
    with pytest.raises(ValueError, match="'X-PER' is not O or B-, I-TYPE"):
        to_bio(["X-PER"], "iob1")


def test_bio_checked_not_repaired():
    assert to_bio(["B-PER", "I-PER", "B-PER"], "bio") == ["B-PER", "I-PER", "B-PER"]
    with pytest.raises(ValueError, match="'I-LOC' at token 2 follows 'B-PER'"):
        to_bio(["B-PER", "I-LOC"], "bio")


def test_bilou():
    assert bilou_to_bio(["U-PER", "B-ORG", "I-ORG", "L-ORG", "O", "B-LOC", "L-LOC", "U-LOC"]) == \
        ["B-PER", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "B-LOC"]
    with pytest.raises(ValueError, match="'L-PER' at token 1 has no opening B-"):
        bilou_to_bio(["L-PER"])
    with pytest.raises(ValueError, match="'B-ORG' is not closed at the end"):
        bilou_to_bio(["O", "B-ORG"])
    with pytest.raises(ValueError, match="'I-LOC' at token 2 follows the unclosed 'B-ORG'"):
        bilou_to_bio(["B-ORG", "I-LOC", "L-LOC"])
    # agrees with spaCy's own BILUO reading of the same entities
    from spacy.training import biluo_tags_to_spans

    nlp = spacy.blank("en")
    words = ["Ada", "Lovelace", "met", "Charles", "Babbage", "in", "London"]
    tags = ["B-PER", "L-PER", "O", "B-PER", "L-PER", "O", "U-LOC"]
    doc = spacy.tokens.Doc(nlp.vocab, words=words)
    ref = [(s.start, s.end, s.label_) for s in biluo_tags_to_spans(doc, tags)]
    assert bio_spans(bilou_to_bio(tags)) == ref


def test_read_columns_documents_and_schemes(tmp_path):
    f = write(tmp_path / "a.bilou", "-DOCSTART- O O\n\nAda NNP U-PER\nwrote VBD O\n\n"
              "New NNP B-LOC\nYork NNP L-LOC\n\n-DOCSTART- O O\n\n\n-DOCSTART- O O\n\n"
              "IBM NNP U-ORG\n")
    sents = list(read_columns(f, scheme="bilou"))
    assert [s.tokens for s in sents] == [["Ada", "wrote"], ["New", "York"], ["IBM"]]
    assert [s.tags for s in sents] == [["B-PER", "O"], ["B-LOC", "I-LOC"], ["B-ORG"]]
    # the empty middle document produces no sentence, and the last keeps its own doc id
    assert sents[0].doc == sents[1].doc != sents[2].doc
    # token and tag from other columns
    g = write(tmp_path / "b.tsv", "B-PER\tx\tAda\nO\tx\twrote\n")
    assert list(read_columns(g, token_column=2, tag_column=0))[0].tokens == ["Ada", "wrote"]


def test_read_columns_malformed_lines_name_file_and_line(tmp_path):
    f = write(tmp_path / "bad.conll", "Ada NNP B-PER\nwrote VBD\n")
    with pytest.raises(DataError, match=r"bad.conll:2: expected 3 columns"):
        list(read_columns(f))
    g = write(tmp_path / "bad2.conll", "Ada B-PER\n\nLondon O\nis O\ngreat I-LOC\n")
    with pytest.raises(DataError, match=r"bad2.conll:5: BIO tag 'I-LOC' at token 3 follows 'O'"):
        list(read_columns(g, scheme="bio"))
    h = write(tmp_path / "bad3.conll", "Ada PERSON\n")
    with pytest.raises(DataError, match=r"bad3.conll:1: tag 'PERSON' is not O or"):
        list(read_columns(h, scheme="iob1"))
    with pytest.raises(DataError, match=r"bad3.conll:1: no column 5"):
        list(read_columns(h, tag_column=5))
    with pytest.raises(ConfigError, match="unknown tag scheme 'bioes'"):
        list(read_columns(h, scheme="bioes"))


def test_sentences_grouped_into_documents(tmp_path):
    f = write(tmp_path / "c.conll", "-DOCSTART- O\n\n" + "".join(
        f"w{i} I-PER\nx O\n\n" for i in range(5)) + "-DOCSTART- O\n\nLondon I-LOC\n")
    nlp = spacy.blank("en")
    docs = list(sentences_to_docs(read_columns(f, scheme="iob1"), nlp.vocab, n_sents=2))
    # 5 sentences -> 2 + 2 + 1, and the second document is never merged into the first
    assert [len(list(d.sents)) for d in docs] == [2, 2, 1, 1]
    assert [e.text for e in docs[0].ents] == ["w0", "w1"]
    assert docs[-1].ents[0].label_ == "LOC"


def test_jsonl_aligned_misaligned_and_empty(tmp_path):
    nlp = spacy.blank("en")
    lines = [
        {"text": "Ada Lovelace lives in London.", "entities": [[0, 12, "PER"], [22, 28, "LOC"]]},
        {"text": "", "entities": []},
        {"text": "Visit Berlin now", "entities": [[6, 10, "LOC"]]},  # "Berl": mid-token
    ]
    f = write(tmp_path / "d.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(DataError, match=r"d.jsonl:3: entity \[6, 10, 'LOC'\] = 'Berl' does not "
                                        r"align with token boundaries \(tokens: 'Berlin'\)"):
        list(read_jsonl(f, nlp))
    from nanonlp.ner.convert import ConvertReport

    report = ConvertReport()
    docs = list(read_jsonl(f, nlp, misaligned="expand", report=report))
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == \
        [[("Ada Lovelace", "PER"), ("London", "LOC")], [("Berlin", "LOC")]]
    assert report.empty == 1 and report.docs == 2
    assert len(report.adjusted) == 1 and "d.jsonl:3:" in report.adjusted[0]
    assert "expanded to 'Berlin'" in report.adjusted[0]


def test_jsonl_malformed(tmp_path):
    nlp = spacy.blank("en")
    bad = write(tmp_path / "e.jsonl", '{"text": "a b", "entities": []}\n{"text": "x", oops}\n')
    with pytest.raises(DataError, match=r"e.jsonl:2: not valid JSON"):
        list(read_jsonl(bad, nlp))
    out = write(tmp_path / "f.jsonl", '{"text": "a b", "entities": [[0, 9, "X"]]}\n')
    with pytest.raises(DataError, match=r"f.jsonl:1: entity \[0, 9, 'X'\] is outside the text"):
        list(read_jsonl(out, nlp))
    ov = write(tmp_path / "g.jsonl",
               '{"text": "New York City", "entities": [[0, 8, "LOC"], [4, 13, "LOC"]]}\n')
    with pytest.raises(DataError, match=r"g.jsonl:1: entities 'New York' \(LOC\) and "
                                        r"'York City' \(LOC\) overlap"):
        list(read_jsonl(ov, nlp))


def test_docbin_and_conll_round_trip(tmp_path):
    src = write(tmp_path / "in.conll", "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\n"
                "rejects VBZ I-VP O\nGerman JJ I-NP I-MISC\ncall NN I-NP O\n\n"
                "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\n"
                "-DOCSTART- -X- -X- O\n\nBRUSSELS NNP I-NP I-LOC\n")
    report = convert(ConvertConfig(input=str(src), output=str(tmp_path / "x.spacy"),
                                   scheme="iob1"))
    assert (report.docs, report.sentences, report.tokens) == (2, 3, 7)
    assert report.entities == {"ORG": 1, "MISC": 1, "PER": 1, "LOC": 1}
    docs = load_docbin(tmp_path / "x.spacy", spacy.blank("en").vocab)
    assert doc_tags(docs[0]) == ["B-ORG", "O", "B-MISC", "O", "B-PER", "I-PER"]
    # back to columns and read again: the same sentences and tags
    convert(ConvertConfig(input=str(tmp_path / "x.spacy"), output=str(tmp_path / "y.conll")))
    again = list(read_columns(tmp_path / "y.conll", scheme="bio"))
    assert [s.tokens for s in again] == [["EU", "rejects", "German", "call"],
                                         ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert again[0].doc == again[1].doc != again[2].doc
    # conlleval layout with gold beside the prediction
    lines = list(docs_to_conll(docs[:1], gold=docs[:1]))
    assert lines[:3] == ["-DOCSTART- -X- -X- O", "", "EU B-ORG B-ORG"]


def test_convert_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"expected a \.spacy or \.conll file"):
        ConvertConfig(input="a.conll", output="b.json")
    with pytest.raises(ConfigError, match="n_sents must be >= 1, got 0"):
        ConvertConfig(input="a.conll", output="b.spacy", n_sents=0)
    with pytest.raises(DataError, match="not a spaCy DocBin"):
        load_docbin(write(tmp_path / "z.spacy", "hello"), spacy.blank("en").vocab)


def test_bad_tag_names_its_own_line(tmp_path):
    f = write(tmp_path / "h.conll", "Ada B-PER\nLovelace I-PER\nwrote U-X\nit O\n")
    with pytest.raises(DataError, match=r"h.conll:3: tag 'U-X' is not O or B-, I-TYPE"):
        list(read_columns(f, scheme="bio"))
    # ... but a valid BILOU tag, where the unclosed B-PER is the error
    with pytest.raises(DataError, match=r"h.conll:3: BILOU tag 'U-X' at token 3 follows the "
                                        r"unclosed 'B-PER'"):
        list(read_columns(f, scheme="bilou"))


@pytest.mark.data
def test_conll2003_dev_counts(real_data, tmp_path):
    """eng.testa converts to the published entity counts, documents intact."""
    report = convert(ConvertConfig(input="conll2003:dev", output=str(tmp_path / "dev.spacy")))
    assert report.entities == {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}
    assert (report.sentences, report.tokens) == (3250, 51362)
    docs = load_docbin(tmp_path / "dev.spacy", spacy.blank("en").vocab)
    assert len(docs) == report.docs and sum(len(list(d.sents)) for d in docs) == 3250


def test_cli_convert_jsonl(tmp_path, capsys):
    from nanonlp.cli import main

    f = write(tmp_path / "in.jsonl", '{"text": "Visit Berlin now", "entities": [[6, 10, "LOC"]]}\n')
    assert main(["ner", "convert", str(f), str(tmp_path / "o.spacy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nanonlp: error: 1 misaligned entity") and "in.jsonl:1:" in err
    assert main(["ner", "convert", str(f), str(tmp_path / "o.spacy"),
                 "--misaligned", "expand"]) == 0
    out = capsys.readouterr()
    assert "1 docs, 1 sentences, 3 tokens; entities: LOC 1; 1 spans snapped" in out.out
    assert "warning: " in out.err and "expanded to 'Berlin'" in out.err
