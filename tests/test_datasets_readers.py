"""Every reader on small hand-written fixtures, malformed ones included."""

import gzip
import zipfile

import pytest

from nanonlp.datasets import readers as R
from nanonlp.datasets.records import Analogy, Example, Pair, ScoredPair, TaggedSentence
from nanonlp.errors import ConfigError, DataError

CONLL = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

In IN I-PP O
Paris NNP I-NP I-LOC
Rome NNP I-NP B-LOC
and CC O O
Berlin NNP I-NP I-LOC
Acme NNP I-NP I-ORG
"""


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def test_iob1_to_bio_cases():
    # I- after O starts an entity; B- only separates same-type neighbours; a type switch
    # inside a run of I- starts a new entity.
    assert R.iob1_to_bio(["I-PER", "I-PER", "O", "I-LOC"]) == ["B-PER", "I-PER", "O", "B-LOC"]
    assert R.iob1_to_bio(["I-LOC", "B-LOC", "I-LOC"]) == ["B-LOC", "B-LOC", "I-LOC"]
    assert R.iob1_to_bio(["I-ORG", "I-PER"]) == ["B-ORG", "B-PER"]
    assert R.iob1_to_bio([]) == []
    with pytest.raises(ValueError, match="not an IOB tag: 'X-PER'"):
        R.iob1_to_bio(["X-PER"])


def test_read_conll_documents_and_bio(tmp_path):
    sents = list(R.read_conll(write(tmp_path, "eng.x", CONLL), scheme="iob1", n_columns=4))
    assert [s.doc for s in sents] == [0, 0, 1]  # the -X- -X- marker (eng.testb) opens doc 1
    assert sents[0] == TaggedSentence(["EU", "rejects", "German", "call", "."],
                                      ["B-ORG", "O", "B-MISC", "O", "O"], 0, sents[0].line)
    assert [s.line for s in sents] == [3, 9, 14]  # where each sentence starts, 1-based
    assert sents[1].tags == ["B-PER", "I-PER"]
    assert sents[2].tags == ["O", "B-LOC", "B-LOC", "O", "B-LOC", "B-ORG"]


def test_read_conll_bio_scheme_and_column(tmp_path):
    p = write(tmp_path, "bio.tsv", "Jane B-PER\nDoe I-PER\nsings O\n")
    assert list(R.read_conll(p, scheme="bio", n_columns=2))[0].tags == ["B-PER", "I-PER", "O"]
    bad = write(tmp_path, "badbio.tsv", "Jane O\nDoe I-PER\n")
    with pytest.raises(DataError, match=r"badbio.tsv:2: BIO tag 'I-PER' at token 2 follows 'O'"):
        list(R.read_conll(bad, scheme="bio", n_columns=2))


def test_read_conll_malformed(tmp_path):
    p = write(tmp_path, "bad.conll", "EU NNP I-NP I-ORG\nrejects VBZ O\n")
    with pytest.raises(DataError, match=r"bad.conll:2: expected 4 columns, got 3"):
        list(R.read_conll(p, scheme="iob1", n_columns=4))
    p = write(tmp_path, "badtag.conll", "EU NNP I-NP ORG\n")
    with pytest.raises(DataError, match=r"badtag.conll:1: tag 'ORG' is not O or B-, I-TYPE"):
        list(R.read_conll(p, scheme="iob1"))
    with pytest.raises(ConfigError, match=r"unknown tag scheme 'bioes'"):
        list(R.read_conll(p, scheme="bioes"))


def test_read_tsv_pairs(tmp_path):
    p = write(tmp_path, "fra.txt", "Go.\tVa !\nHi.\tSalut !\n")
    assert list(R.read_tsv_pairs(p)) == [Pair("Go.", "Va !"), Pair("Hi.", "Salut !")]
    assert list(R.read_tsv_pairs(p, swap=True))[0] == Pair("Va !", "Go.")
    bad = write(tmp_path, "one.txt", "Go.\tVa !\nonly one column\n")
    with pytest.raises(DataError, match=r"one.txt:2: expected 2 non-empty tab-separated columns, got 1"):
        list(R.read_tsv_pairs(bad))


def test_read_parallel_and_mismatch(tmp_path):
    src = tmp_path / "a.de.gz"
    tgt = tmp_path / "a.en.gz"
    for path, lines in ((src, ["Ein Hund .", "Zwei"]), (tgt, ["A dog .", "Two"])):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    assert list(R.read_parallel(src, tgt)) == [Pair("Ein Hund .", "A dog ."), Pair("Zwei", "Two")]
    short = write(tmp_path, "short.en", "A dog .\n")
    with pytest.raises(DataError, match=r"parallel files differ in length: .*a.de.gz has more than 1"):
        list(R.read_parallel(src, short))


def test_read_scored_pairs(tmp_path):
    p = write(tmp_path, "sim.txt", "# comment\n# header\nlove\tsex\t6.77\r\ntiger\tcat\t7.35")
    assert list(R.read_scored_pairs(p)) == [ScoredPair("love", "sex", 6.77),
                                            ScoredPair("tiger", "cat", 7.35)]
    bad = write(tmp_path, "bad.txt", "love\tsex\tlots\n")
    with pytest.raises(DataError, match=r"bad.txt:1: score 'lots' is not a number"):
        list(R.read_scored_pairs(bad))
    bad = write(tmp_path, "bad2.txt", "love\tsex\n")
    with pytest.raises(DataError, match=r"bad2.txt:1: expected 'word1<TAB>word2<TAB>score', got 2"):
        list(R.read_scored_pairs(bad))


def test_read_analogies(tmp_path):
    p = write(tmp_path, "q.txt", ": capital-common-countries\nAthens Greece Baghdad Iraq\n"
                                 ": gram1-adjective-to-adverb\namazing amazingly apparent apparently\n")
    assert list(R.read_analogies(p)) == [
        Analogy("Athens", "Greece", "Baghdad", "Iraq", "capital-common-countries"),
        Analogy("amazing", "amazingly", "apparent", "apparently", "gram1-adjective-to-adverb"),
    ]
    with pytest.raises(DataError, match=r"q2.txt:1: question before any ': section' line"):
        list(R.read_analogies(write(tmp_path, "q2.txt", "a b c d\n")))
    with pytest.raises(DataError, match=r"q3.txt:2: expected 4 words, got 3"):
        list(R.read_analogies(write(tmp_path, "q3.txt", ": s\na b c\n")))


def test_read_labelled_tsv(tmp_path):
    p = write(tmp_path, "train.tsv", "sentence\tlabel\nit 's a charming journey . \t1\nbad \t0\n")
    assert list(R.read_labelled_tsv(p)) == [
        Example("it 's a charming journey .", "1", "train.tsv:2"), Example("bad", "0", "train.tsv:3")]
    t = write(tmp_path, "test.tsv", "index\tsentence\n0\tuneasy mishmash .\n")
    assert list(R.read_labelled_tsv(t, label_column=None)) == [
        Example("uneasy mishmash .", None, "test.tsv:2")]
    with pytest.raises(DataError, match=r"train.tsv:1: header \['index', 'sentence'\] lacks column"):
        list(R.read_labelled_tsv(t.rename(tmp_path / "train.tsv")))
    bad = write(tmp_path, "bad.tsv", "sentence\tlabel\nno label here\n")
    with pytest.raises(DataError, match=r"bad.tsv:2: expected 2 columns, got 1"):
        list(R.read_labelled_tsv(bad))
    with pytest.raises(DataError, match=r"empty.tsv: empty file"):
        list(R.read_labelled_tsv(write(tmp_path, "empty.tsv", "")))


def test_read_brown_and_zip_utf8(tmp_path):
    zp = tmp_path / "brown.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("brown/ca01", "\n\n\tThe/at Fulton/np-tl 1/2/cd ./.\n\n\tIt/pps ran/vbd\n")
        zf.writestr("brown/cats.txt", "ca01 news\n")  # not a text file: skipped
        zf.writestr("brown/cb01", "\tHe/pps\n")
    sents = list(R.read_brown(zp))
    assert sents[0] == TaggedSentence(["The", "Fulton", "1/2", "."], ["at", "np-tl", "cd", "."], 0)
    assert [s.doc for s in sents] == [0, 0, 1]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("brown/ca01", b"\tok/at\n\tbad\xff/nn\n")
    with pytest.raises(DataError, match=r"bad.zip::brown/ca01:2: not valid UTF-8"):
        list(R.read_brown(bad))
    notzip = write(tmp_path, "not.zip", "plain text")
    with pytest.raises(DataError, match=r"not.zip: not a readable zip file"):
        list(R.read_brown(notzip))


def test_read_word_chunks(tmp_path):
    p = write(tmp_path, "text8", " " + " ".join(f"w{i}" for i in range(25)))
    chunks = list(R.read_word_chunks(p, words_per_chunk=10))
    assert [len(c.split()) for c in chunks] == [10, 10, 5]
    assert chunks[0].startswith("w0 w1")
