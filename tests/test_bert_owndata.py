"""Fine-tuning BERT on your own files, through the CLI: classification from TSV/CSV/JSONL
(pairs too), tagging from column files, the report (equal to scikit-learn's and seqeval's),
predict, embed/search, contrastive training, and one-line errors for bad input."""

from __future__ import annotations

import io
import json
import random
import re

import numpy as np
import pytest
import torch

from nanonlp.bert.config import BertConfig
from nanonlp.bert.data import TOKENIZER_FILE
from nanonlp.bert.model import BertForMaskedLM, load_bert, save_bert
from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.cli import main

SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
ANIMALS = ["cat", "dog", "bird", "fox"]
POS, NEG = ["good", "great", "fine"], ["bad", "awful", "poor"]
FAST = ["--init", "random", "--dropout", "0", "--train.max_steps", "60", "--train.lr", "3e-3",
        "--train.warmup_steps", "5", "--train.eval_interval", "60", "--train.eval_steps", "1",
        "--train.batch_size", "16", "--train.device", "cpu"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A small random-init MLM checkpoint with a BPE trained on the toy words."""
    tmp = tmp_path_factory.mktemp("owndata")
    words = ANIMALS + POS + NEG + ["the", "was", "a", "big", "Zorbo", "sat", "in", "Paris"]
    tok = Tokenizer.train([" ".join(words)] * 3, BPEConfig(vocab_size=300, special=SPECIALS,
                                                             workers=1))
    tok.save(tmp / "tok")
    ids = {k: tok.special_tokens[s] for k, s in
           zip(("cls_id", "sep_id", "mask_id", "pad_id"), SPECIALS, strict=True)}
    cfg = BertConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=32,
                     **ids)
    save_bert(BertForMaskedLM(cfg), tmp / "mlm", tmp / "tok.model")
    return tmp / "mlm"


def sentiment(n, rng):
    out = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        out.append((f"the {rng.choice(ANIMALS)} was {rng.choice(POS if label == 'pos' else NEG)}",
                    label))
    return out


def run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_headerless_tsv_trains_reports_and_predicts(ckpt, tmp_path, capsys, monkeypatch,
                                                    torch_one_thread):
    from sklearn.metrics import classification_report, confusion_matrix

    from nanonlp.bert.data import load_tokenizer as checkpoint_tokenizer
    from nanonlp.bert.predict import predict_records
    from nanonlp.datasets.labelled import read_labelled

    rng = random.Random(0)
    for name, n in (("train", 200), ("dev", 40), ("test", 40)):
        (tmp_path / f"{name}.tsv").write_text("".join(f"{t}\t{y}\n" for t, y in
                                                      sentiment(n, rng)), encoding="utf-8")
    rc, out, err = run(["bert", "finetune", str(ckpt), "--train", str(tmp_path / "train.tsv"),
                        "--dev", str(tmp_path / "dev.tsv"), "--test", str(tmp_path / "test.tsv"),
                        "--report", str(tmp_path / "report.json"), *FAST,
                        "--train.out", str(tmp_path / "ft")], capsys)
    assert rc == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) == {"dev", "test"}
    assert report["dev"]["accuracy"] == 1.0 and report["test"]["accuracy"] == 1.0
    assert "dev: 40 examples, accuracy 100.00%, macro F1 100.00%" in out
    assert "confusion (rows: gold, columns: predicted)" in out
    # the report's numbers are scikit-learn's on the same predictions
    model, tok = load_bert(tmp_path / "ft" / "last"), checkpoint_tokenizer(tmp_path / "ft" / "last")
    assert model.labels == ["neg", "pos"]
    test = read_labelled(tmp_path / "test.tsv")
    with torch.no_grad():  # a less certain model, so the figures are not all 1.0
        model.classifier.bias += torch.tensor([0.0, 4.0])
    from nanonlp.bert.report import score

    pred, gold = predict_records(model, tok, test), [r.label for r in test]
    mine = score(model, tok, test)
    ref = classification_report(gold, pred, labels=model.labels, output_dict=True,
                                zero_division=0)
    assert mine["accuracy"] == pytest.approx(ref["accuracy"])
    assert mine["macro_f1"] == pytest.approx(ref["macro avg"]["f1-score"])
    for lab in model.labels:
        for k, r in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"),
                     ("support", "support")):
            assert mine["per_class"][lab][k] == pytest.approx(ref[lab][r])
    assert mine["confusion"]["matrix"] == confusion_matrix(gold, pred,
                                                           labels=model.labels).tolist()
    assert mine["accuracy"] < 1.0  # the bias did move some predictions

    monkeypatch.setattr("sys.stdin", io.StringIO("the fox was awful\n\nthe cat was great\n"))
    rc, out, err = run(["bert", "predict", str(tmp_path / "ft" / "last")], capsys)
    assert rc == 0, err
    labels = [line.split("\t") for line in out.splitlines()]
    assert [lab for lab, _ in labels] == ["neg", "pos"] and all(float(p) > 0.5 for _, p in labels)
    (tmp_path / "in.txt").write_text("the dog was good\n", encoding="utf-8")
    rc, out, _ = run(["bert", "predict", str(tmp_path / "ft" / "last"), "--input",
                      str(tmp_path / "in.txt"), "--json"], capsys)
    rec = json.loads(out)
    assert rec["label"] == "pos" and sum(rec["probabilities"].values()) == pytest.approx(1.0)


def test_csv_with_header_and_named_columns_and_jsonl_pairs(ckpt, tmp_path, capsys,
                                                         monkeypatch, torch_one_thread):
    rng = random.Random(1)
    rows = [*sentiment(199, rng), ("the cat was good" + " indeed" * 40, "pos")]  # too long
    (tmp_path / "train.csv").write_text(
        "id,mood,review\n" + "".join(f'{i},{y},"{t}"\n' for i, (t, y) in enumerate(rows)))
    rc, out, err = run(["bert", "finetune", str(ckpt), "--train", str(tmp_path / "train.csv"),
                        "--text_column", "review", "--label_column", "mood", *FAST,
                        "--train.out", str(tmp_path / "csv")], capsys)
    assert rc == 0, err
    assert "dev: 20 examples, accuracy 100.00%" in out  # 10% of train held out as dev
    assert re.search(r"1 of (180 train|20 val) examples are longer than the position table "
                     r"\(32 tokens\) and were cut to it", out)

    # pairs: the label is the sentiment of the second text; the first is a distraction
    def pair(k):
        (a, _), (b, y) = sentiment(1, rng)[0], sentiment(1, rng)[0]
        return json.dumps({"text": a, "text_pair": b, "label": y}) + "\n"

    (tmp_path / "train.jsonl").write_text("".join(pair(k) for k in range(300)))
    (tmp_path / "dev.jsonl").write_text("".join(pair(k) for k in range(40)))
    rc, out, err = run(["bert", "finetune", str(ckpt), "--train", str(tmp_path / "train.jsonl"),
                        "--dev", str(tmp_path / "dev.jsonl"), *FAST, "--train.max_steps", "100",
                        "--train.eval_interval", "100", "--train.out", str(tmp_path / "pairs")],
                       capsys)
    assert rc == 0, err
    assert "dev: 40 examples, accuracy 100.00%" in out
    info = json.loads((tmp_path / "pairs" / "last" / "finetune.json").read_text())
    assert info["text_pair"] is True and info["labels"] == ["neg", "pos"]
    monkeypatch.setattr("sys.stdin", io.StringIO("the cat was good\tthe dog was awful\n"))
    rc, out, _ = run(["bert", "predict", str(tmp_path / "pairs" / "last")], capsys)
    assert out.split("\t")[0] == "neg"


def test_pair_encoding_has_token_types_and_cuts_the_longer_text(ckpt):
    from nanonlp.bert.data import load_tokenizer as checkpoint_tokenizer
    from nanonlp.bert.data import special_ids
    from nanonlp.bert.encode import encode_example
    from nanonlp.bert.finetune import LabelledData

    tok = checkpoint_tokenizer(ckpt)
    ids = special_ids(tok)
    x, types, cut = encode_example(tok, "the cat", "a dog", ids, 32)
    a, b = tok.encode("the cat"), tok.encode("a dog")
    assert x == [ids["cls_id"], *a, ids["sep_id"], *b, ids["sep_id"]] and not cut
    assert types == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    x, types, cut = encode_example(tok, "the cat was good " * 5, "a dog", ids, 12)
    assert cut and len(x) == 12 and types[-len(b) - 1:] == [1] * (len(b) + 1)  # b kept whole
    data = LabelledData({"train": [(x, 0, types)]}, ids["pad_id"], token=False)
    inputs, y = data.batch("train", 2, torch.Generator().manual_seed(0))
    assert len(inputs) == 2 and inputs[1].tolist()[0] == types  # ids and token types


def test_column_file_with_unseen_label_names_tags_and_reports_span_f1(ckpt, tmp_path, capsys,
                                                                    monkeypatch,
                                                                    torch_one_thread):
    from seqeval.metrics import classification_report

    from nanonlp.bert.data import load_tokenizer as checkpoint_tokenizer
    from nanonlp.bert.predict import predict_tags
    from nanonlp.bert.report import span_scores
    from nanonlp.datasets.labelled import read_tagged

    rng = random.Random(2)

    def column_file(path, n):
        lines = []
        for _ in range(n):
            for _ in range(rng.randint(2, 5)):
                r = rng.random()
                if r < 0.25:
                    lines += ["big B-GADGET", "Zorbo I-GADGET"]
                elif r < 0.4:
                    lines.append("Paris B-PLACE")
                else:
                    lines.append(f"{rng.choice(['the', 'cat', 'sat'])} O")
            lines.append("")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    column_file(tmp_path / "train.conll", 150)
    column_file(tmp_path / "test.conll", 30)
    rc, out, err = run(["bert", "finetune", str(ckpt), "--task", "token", "--train",
                        str(tmp_path / "train.conll"), "--test", str(tmp_path / "test.conll"),
                        "--report", str(tmp_path / "r.json"), *FAST,
                        "--train.out", str(tmp_path / "tag")], capsys)
    assert rc == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["test"]["span_f1"]["f1"] == 1.0
    assert set(report["test"]["span_f1"]["per_type"]) == {"GADGET", "PLACE"}
    assert "test: 30 sentences, span F1 100.00%" in out

    # span F1 equals seqeval's on imperfect predictions (random tags on some words)
    gold = [s.tags for s in read_tagged(tmp_path / "test.conll")]
    model = load_bert(tmp_path / "tag" / "last")
    pred = predict_tags(model, checkpoint_tokenizer(tmp_path / "tag" / "last"),
                        [s.tokens for s in read_tagged(tmp_path / "test.conll")])
    noisy = [[rng.choice(model.labels) if rng.random() < 0.3 else t for t in p] for p in pred]
    mine, ref = span_scores(gold, noisy)["span_f1"], classification_report(
        gold, noisy, output_dict=True, zero_division=0)
    assert mine["f1"] == pytest.approx(ref["micro avg"]["f1-score"]) and mine["f1"] < 1.0
    for t, c in mine["per_type"].items():
        assert (c["precision"], c["recall"], c["f1"], c["support"]) == pytest.approx(
            (ref[t]["precision"], ref[t]["recall"], ref[t]["f1-score"], ref[t]["support"]))

    monkeypatch.setattr("sys.stdin", io.StringIO("the big Zorbo sat in Paris\n"))
    rc, out, _ = run(["bert", "predict", str(tmp_path / "tag" / "last")], capsys)
    assert out.strip() == "big Zorbo (GADGET); Paris (PLACE)"
    monkeypatch.setattr("sys.stdin", io.StringIO("the  big Zorbo\n"))
    rc, out, _ = run(["bert", "predict", str(tmp_path / "tag" / "last"), "--json"], capsys)
    assert json.loads(out) == {"text": "the  big Zorbo", "entities": [[5, 14, "GADGET"]]}


def test_embed_identical_lines_and_search_finds_the_line_itself(ckpt, tmp_path, capsys):
    lines = ["the cat was good", "a dog sat in Paris", "the cat was good", "the big Zorbo",
             "the fox was awful"]
    (tmp_path / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "idx" / "vecs.npy"
    rc, stdout, err = run(["bert", "embed", str(ckpt), str(tmp_path / "lines.txt"), "--out",
                           str(out), "--batch_size", "2", "--device", "cpu"], capsys)
    assert rc == 0, err
    vecs = np.load(out)
    assert vecs.shape == (5, 32) and vecs.dtype == np.float32
    assert np.array_equal(vecs[0], vecs[2]) and not np.array_equal(vecs[0], vecs[1])
    # the rows do not depend on the batch a line was in
    from nanonlp.bert.data import load_tokenizer as checkpoint_tokenizer
    from nanonlp.bert.embed import embed

    alone = embed(load_bert(ckpt), checkpoint_tokenizer(ckpt), ["the big Zorbo"])
    np.testing.assert_allclose(alone[0], vecs[3], rtol=1e-5, atol=1e-6)
    rc, stdout, err = run(["bert", "search", str(ckpt), str(out), "a dog sat in Paris", "-k",
                           "3"], capsys)
    assert rc == 0, err
    first = stdout.splitlines()[0].split("\t")
    assert float(first[0]) == pytest.approx(1.0, abs=1e-5) and first[1:] == ["2",
                                                                            "a dog sat in Paris"]
    assert len(stdout.splitlines()) == 3
    rc, stdout, _ = run(["bert", "search", str(ckpt), str(out), "the big Zorbo", "--json",
                         "-k", "1"], capsys)
    assert json.loads(stdout)["results"][0]["text"] == "the big Zorbo"


def test_contrastive_training_raises_recall_at_1(ckpt, tmp_path, capsys, torch_one_thread):
    """Paraphrases with disjoint words: anchors say "the ADJ NOUN", positives use synonyms,
    "a NOUN' that is ADJ'". Held-out combinations test that the word mapping was learned."""
    from nanonlp.bert.data import load_tokenizer as checkpoint_tokenizer
    from nanonlp.bert.embed import pair_retrieval

    nouns = [("cat", "feline"), ("dog", "hound"), ("bird", "avian"), ("fox", "vixen"),
             ("car", "auto"), ("boat", "ship")]
    adjs = [("big", "large"), ("small", "tiny"), ("red", "crimson"), ("fast", "quick"),
            ("old", "aged"), ("happy", "glad")]
    pairs = [(f"the {a} {n}", f"a {n2} that is {a2}") for n, n2 in nouns for a, a2 in adjs]
    random.Random(0).shuffle(pairs)
    train, test = pairs[:28], pairs[28:]
    (tmp_path / "pairs.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in train))
    (tmp_path / "dev.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in test))
    tok = checkpoint_tokenizer(ckpt)
    before = pair_retrieval(load_bert(ckpt), tok, test)["recall@1"]
    rc, out, err = run(["bert", "finetune", str(ckpt), "--task", "contrastive", "--train",
                        str(tmp_path / "pairs.tsv"), "--dev", str(tmp_path / "dev.tsv"),
                        "--dropout", "0.1", "--train.max_steps", "150", "--train.lr", "3e-3",
                        "--train.warmup_steps", "10", "--train.eval_interval", "150",
                        "--train.eval_steps", "1", "--train.batch_size", "16",
                        "--train.device", "cpu", "--report", str(tmp_path / "r.json"),
                        "--train.out", str(tmp_path / "cl")], capsys)
    assert rc == 0, err
    after = json.loads((tmp_path / "r.json").read_text())["dev"]
    assert after["recall@1"] >= before + 0.3, (before, after)
    assert "anchors each ranking all positives: recall@1" in out
    # an ordinary "bert" checkpoint that records its pooling, and embeds as it was trained
    model = load_bert(tmp_path / "cl" / "last")
    assert isinstance(model, BertForMaskedLM)
    assert json.loads((tmp_path / "cl" / "last" / "embedding.json").read_text())["pooling"] == \
        "mean"
    assert pair_retrieval(model, tok, test)["recall@1"] == after["recall@1"]
    assert (tmp_path / "cl" / "last" / TOKENIZER_FILE).exists()


# ----------------------------------------------------------------------------------------------
# bad input: one line naming the file, the line and the value; nothing written

TSV = "a good film\tpos\nan awful film\tneg\n"
BAD = [  # id, files, command (after `nanonlp bert`), stdin, the error
    ("missing column", {"train.csv": "text,label\na,pos\nb,neg\n"},
     "finetune {ckpt} --train {tmp}/train.csv --label_column mood",
     None, r"train\.csv:1: no label column 'mood'; the header has \['text', 'label'\]"),
    ("empty column", {"train.tsv": "a\tpos\n \tneg\n"}, "finetune {ckpt} --train {tmp}/train.tsv",
     None, r"train\.tsv:2: empty text \(column 0\)"),
    ("label only in dev", {"train.tsv": TSV, "dev.tsv": "c\tpos\nd\tmeh\n"},
     "finetune {ckpt} --train {tmp}/train.tsv --dev {tmp}/dev.tsv", None,
     r"dev\.tsv:2: label 'meh' is not among the training labels \['neg', 'pos'\]"),
    ("single class", {"train.tsv": "a\tpos\nb\tpos\nc\tpos\n"},
     "finetune {ckpt} --train {tmp}/train.tsv --dev {tmp}/train.tsv", None,
     r"train\.tsv: every example has label 'pos'; a classifier needs two or more labels"),
    ("empty file", {"train.tsv": ""}, "finetune {ckpt} --train {tmp}/train.tsv", None,
     r"train\.tsv: no examples \(an empty file\)"),
    ("header only", {"train.tsv": "sentence\tlabel\n"}, "finetune {ckpt} --train {tmp}/train.tsv",
     None, r"train\.tsv:1: a header row and no examples"),
    ("invalid UTF-8", {"train.tsv": b"ok\tpos\nb\xffd\tneg\n"},
     "finetune {ckpt} --train {tmp}/train.tsv", None,
     r"train\.tsv:2: not valid UTF-8 \(byte 0xff at column 2\)"),
    ("ragged row", {"train.tsv": TSV + "c\tneg\textra\n"},
     "finetune {ckpt} --train {tmp}/train.tsv", None,
     r"train\.tsv:3: 3 columns, expected 2 like line 1"),
    ("bad JSON line", {"train.jsonl": '{"text": "a", "label": "x"}\n{"text": \n'},
     "finetune {ckpt} --train {tmp}/train.jsonl", None, r"train\.jsonl:2: not valid JSON \("),
    ("pairs in train only", {"train.jsonl": '{"text": "a", "text_pair": "b", "label": "x"}\n'
                             '{"text": "c", "text_pair": "d", "label": "y"}\n',
                             "dev.jsonl": '{"text": "a", "label": "x"}\n'},
     "finetune {ckpt} --train {tmp}/train.jsonl --dev {tmp}/dev.jsonl", None,
     r"dev\.jsonl: the training file has a second text \(text_pair\) column"),
    ("tag type only in dev", {"train.conll": "Ada B-PER\nran O\n",
                              "dev.conll": "in O\nParis B-LOC\n"},
     "finetune {ckpt} --task token --train {tmp}/train.conll --dev {tmp}/dev.conll", None,
     r"dev\.conll:2: tag 'B-LOC' \(word 'Paris'\) is of a type the training file lacks"),
    ("tag breaks its scheme", {"train.conll": "the O\nAda I-PER\n"},
     "finetune {ckpt} --task token --train {tmp}/train.conll", None,
     r"train\.conll:2: BIO tag 'I-PER' at token 2 follows 'O'"),
    ("no entities", {"train.conll": "the O\ncat O\n\nsat O\n"},
     "finetune {ckpt} --task token --train {tmp}/train.conll --dev {tmp}/train.conll", None,
     r"train\.conll: every tag is 'O'; a tagger needs at least one entity type"),
    ("mixed pairs and sentences", {"pairs.tsv": "a\tb\nc\n"},
     "finetune {ckpt} --task contrastive --train {tmp}/pairs.tsv", None,
     r"pairs\.tsv:2: 1 column, expected 2 like line 1"),
    ("named task with a file", {"train.tsv": TSV}, "finetune {ckpt} --task sst2 --train x.tsv",
     None, r"task sst2 reads its own data set; --train is for --task sequence, token"),
    ("finetune a GPT checkpoint", {"train.tsv": TSV},
     "finetune {gpt} --train {tmp}/train.tsv --dev {tmp}/train.tsv", None,
     r"gpt: a 'gpt' checkpoint, not a BERT one"),
    ("pair classifier given one text", {}, "predict {pairclf}", "just one text\n",
     r"<stdin>:1: this classifier reads sentence pairs: write text<TAB>text_pair"),
    ("embed with a GPT checkpoint", {"lines.txt": "a\n"},
     "embed {gpt} {tmp}/lines.txt --out {tmp}/vecs.npy", None, r"a 'gpt' checkpoint"),
    ("embed an empty file", {"lines.txt": ""}, "embed {ckpt} {tmp}/lines.txt --out {tmp}/vecs.npy",
     None, r"lines\.txt: no lines \(an empty file\)"),
    ("search an index of another model", {"lines.txt": "a cat\n"},
     "search {pairclf} {index} cat", None, r"vecs\.npy: was embedded by another model"),
    ("search a matrix without its lines", {"bare.npy": b""}, "search {ckpt} {tmp}/bare.npy cat",
     None, r"bare\.npy: no bare\.npy\.json beside it"),
]


@pytest.fixture(scope="module")
def others(ckpt, tmp_path_factory):
    """A GPT-kind checkpoint folder, a sentence-pair classifier, and an index built by ckpt."""
    import shutil

    from nanonlp.bert.embed import embed_file
    from nanonlp.bert.model import BertClassifier

    tmp = tmp_path_factory.mktemp("others")
    gpt = tmp / "gpt"
    shutil.copytree(ckpt, gpt)
    meta = json.loads((gpt / "config.json").read_text())
    (gpt / "config.json").write_text(json.dumps({**meta, "kind": "gpt"}))
    pairclf = tmp / "pairclf"
    save_bert(BertClassifier(load_bert(ckpt).config, ["no", "yes"]), pairclf,
              ckpt / TOKENIZER_FILE)
    (pairclf / "finetune.json").write_text(json.dumps({"text_pair": True}))
    (tmp / "lines.txt").write_text("a cat\na dog\n")
    embed_file(ckpt, tmp / "lines.txt", tmp / "index" / "vecs.npy", progress=False)
    return {"gpt": gpt, "pairclf": pairclf, "index": tmp / "index" / "vecs.npy"}


@pytest.mark.parametrize("name, files, command, stdin, error", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(ckpt, others, tmp_path, capsys, monkeypatch,
                                                  name, files, command, stdin, error):
    for fname, body in files.items():
        (tmp_path / fname).write_bytes(body if isinstance(body, bytes) else body.encode())
    argv = command.format(ckpt=ckpt, tmp=tmp_path, **others).split()
    if argv[0] == "finetune":
        argv += ["--report", str(tmp_path / "r.json"), "--train.out", str(tmp_path / "ft")]
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    before = {p.name for p in tmp_path.iterdir()}
    rc, out, err = run(["bert", *argv], capsys)
    assert rc == 2, (out, err)
    assert err.startswith("nanonlp: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(error, err), err
    assert {p.name for p in tmp_path.iterdir()} == before  # no run folder, report or index


@pytest.mark.data
def test_sst2_from_a_tsv_file_equals_the_named_task(real_data, ckpt, tmp_path, torch_one_thread):
    """SST-2 written out as headerless TSV and read back gives the named task's records, and
    fine-tuning on either takes exactly the same steps."""
    from nanonlp.bert import finetune as ft

    named = ft.load_records(ft.FinetuneConfig(task="sst2"))
    for split, name in (("train", "train"), ("val", "dev")):
        rows = named[split][:300] if split == "train" else named[split]
        (tmp_path / f"{name}.tsv").write_text("".join(f"{r.text}\t{r.label}\n" for r in rows),
                                              encoding="utf-8")
    cfg = ft.FinetuneConfig(train=str(tmp_path / "train.tsv"), dev=str(tmp_path / "dev.tsv"))
    mine = ft.load_records(cfg)
    assert [(r.text, r.label) for r in mine["val"]] == [(r.text, r.label) for r in named["val"]]
    train = dict(max_steps=4, eval_interval=4, eval_steps=1, device="cpu", batch_size=8)
    losses = []
    for c, recs in ((ft.FinetuneConfig(task="sst2", max_train=300), named), (cfg, mine)):
        t = ft.make_trainer(c, ckpt, train={**train, "out": str(tmp_path / c.task)},
                            records=recs)
        losses.append([r.loss for r in t.run() if r.loss is not None] + [t.best_val])
    assert losses[0] == losses[1]
