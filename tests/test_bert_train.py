"""BERT training: MLM overfit -> save -> reload, fine-tuning on separable toy tasks."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import torch

from nanonlp.bert import evaluate, finetune
from nanonlp.bert.data import TOKENIZER_FILE, special_ids
from nanonlp.bert.finetune import FinetuneConfig
from nanonlp.bert.model import BertClassifier, BertForMaskedLM, load_bert
from nanonlp.bert.predict import fill_mask, predict_lines
from nanonlp.bert.pretrain import PretrainConfig, load_corpus, make_trainer, mlm_accuracy
from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.datasets import Example, TaggedSentence
from nanonlp.errors import ConfigError, DataError

SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
TEXT = ["the cat sat on the mat .", "a dog ran in the park .", "the bird sang a song ."]
TINY = dict(block_size=24, n_layer=1, n_head=2, n_embd=32, dropout=0.0)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 1-layer BERT overfit on three sentences (and its corpus folder)."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("bert")
    (tmp / "text.txt").write_text("\n".join(TEXT * 4) + "\n", encoding="utf-8")
    Tokenizer.train(TEXT, BPEConfig(vocab_size=300, special=SPECIALS, workers=1)).save(
        tmp / "tok")
    cfg = PretrainConfig(sources=str(tmp / "text.txt"), data=str(tmp / "data"),
                         tokenizer=str(tmp / "tok.model"), val_fraction=0.2, mask_prob=0.3)
    trainer = make_trainer(cfg, "tiny", model=TINY, train=dict(
        max_steps=100, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=10, eval_interval=100,
        eval_steps=2, device="cpu", out=str(tmp / "run"), seed=0))
    records = list(trainer.run())
    return tmp, trainer, records


def test_mlm_overfits_then_reloads(pretrained):
    tmp, trainer, records = pretrained
    assert records[0].loss > 4.0 and records[-1].loss < 1.0  # from ~ln(300) to memorised
    acc = mlm_accuracy(trainer.model, load_corpus(tmp / "data", 0.3), batches=3, batch_size=8)
    assert acc["accuracy"] > 0.8
    again = load_bert(tmp / "run" / "last")
    assert isinstance(again, BertForMaskedLM)
    assert (tmp / "run" / "last" / TOKENIZER_FILE).exists()  # the checkpoint carries it
    x = torch.tensor([[again.config.cls_id, 5, 6, 7, again.config.sep_id]])
    trainer.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x)[0], trainer.model(x)[0])
    tok = Tokenizer.load(tmp / "run" / "last" / TOKENIZER_FILE)
    best = fill_mask(again, tok, "the cat sat on the[MASK] .", top_k=1)[0][0][0]
    assert best == " mat"
    out = predict_lines(tmp / "run" / "last", ["the cat sat on the[MASK] ."], top_k=2)
    assert out[0].startswith("' mat' (") and out[0].count(" | ") == 1  # top 2, best first


def test_fill_mask_shows_a_partial_utf8_token_as_bytes(pretrained):
    tmp, trainer, _ = pretrained
    model = load_bert(tmp / "run" / "last")
    tok = Tokenizer.load(tmp / "run" / "last" / TOKENIZER_FILE)
    with torch.no_grad():  # make the lone bytes 0xC3 and 0xA9 (halves of "é") the top two
        model.head_bias[0xC3] = 100.0
        model.head_bias[0xA9] = 99.0
    top = fill_mask(model, tok, "the cat sat on the[MASK] .", top_k=2)[0]
    assert [t for t, _ in top] == ["\\xc3", "\\xa9"]


def _sentiment(n, rng):
    pos, neg = ["good", "great", "fine"], ["bad", "awful", "poor"]
    out = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        word = rng.choice(pos if label == "pos" else neg)
        out.append(Example(f"the {rng.choice(['cat', 'dog', 'bird'])} was {word} .", label))
    return out


def test_finetune_learns_a_separable_task_and_reloads(pretrained, tmp_path):
    tmp, _, _ = pretrained
    rng = random.Random(0)
    records = {"train": _sentiment(200, rng), "val": _sentiment(40, rng)}
    trainer = finetune.make_trainer(FinetuneConfig(task="sst2", dropout=0.0), tmp / "run" / "last", train=dict(max_steps=60, lr=3e-3, warmup_steps=5, eval_interval=60,
                                  eval_steps=2, device="cpu", out=str(tmp_path / "ft")), records=records)
    list(trainer.run())
    tok = Tokenizer.load(tmp / "run" / "last" / TOKENIZER_FILE)
    assert evaluate(trainer.model, records["val"], tok)["accuracy"] == 100.0
    again = load_bert(tmp_path / "ft" / "last")
    assert isinstance(again, BertClassifier) and again.labels == ["neg", "pos"]
    out = predict_lines(tmp_path / "ft" / "last", ["the dog was awful .", "the cat was great ."])
    assert [line.split("\t")[0] for line in out] == ["neg", "pos"]  # LABEL<TAB>probability


def test_finetune_token_task_and_random_init(pretrained, tmp_path):
    tmp, _, _ = pretrained
    rng = random.Random(1)

    def sentences(n):
        out = []
        for _ in range(n):
            words, tags = [], []
            for _ in range(rng.randint(2, 5)):
                if rng.random() < 0.3:
                    words += ["big", "Zorbo"]
                    tags += ["B-ORG", "I-ORG"]
                else:
                    words.append(rng.choice(["the", "cat", "sat"]))
                    tags.append("O")
            out.append(TaggedSentence(words, tags))
        return out

    records = {"train": sentences(100), "val": sentences(30)}
    trainer = finetune.make_trainer(FinetuneConfig(task="conll2003", init="random", dropout=0.0), tmp / "run" / "last", train=dict(max_steps=60, lr=3e-3, warmup_steps=5, eval_interval=60,
                                  eval_steps=2, device="cpu", out=str(tmp_path / "ner")), records=records)
    pretrained_weights = load_bert(tmp / "run" / "last").bert.wte.weight
    assert not torch.equal(trainer.model.bert.wte.weight, pretrained_weights)  # re-initialised
    list(trainer.run())
    tok = Tokenizer.load(tmp / "run" / "last" / TOKENIZER_FILE)
    scores = evaluate(trainer.model, records["val"], tok)
    assert scores["f1"] > 85.0
    out = predict_lines(tmp_path / "ner" / "last", ["the big Zorbo sat"])
    assert out == ["big Zorbo (ORG)"]  # the entities of the line


def test_finetune_dev_label_outside_train_labels(pretrained, tmp_path):
    tmp, _, _ = pretrained
    records = {"train": [Example("good", "pos"), Example("bad", "neg")],
               "val": [Example("meh", "neutral")]}
    with pytest.raises(DataError, match=r"sst2 val: label 'neutral' \(item 0\) is not in the "
                                        r"label set \['neg', 'pos'\]"):
        finetune.make_trainer(FinetuneConfig(task="sst2"), tmp / "run" / "last", train=dict(out=str(tmp_path / "x")), records=records)


def test_pretrain_refuses_a_tokenizer_without_specials(tmp_path):
    (tmp_path / "t.txt").write_text("some text\n", encoding="utf-8")
    Tokenizer.train(["some text"], BPEConfig(vocab_size=260, workers=1)).save(tmp_path / "plain")
    cfg = PretrainConfig(sources=str(tmp_path / "t.txt"), data=str(tmp_path / "d"),
                         tokenizer=str(tmp_path / "plain.model"))
    with pytest.raises(DataError, match=r"plain\.model: lacks the special token\(s\) \[CLS\] "
                                        r"\[SEP\] \[MASK\] \[PAD\] BERT needs"):
        make_trainer(cfg, "tiny", model=TINY, train=dict(out=str(tmp_path / "r")))
    assert special_ids(Tokenizer(special_tokens=list(SPECIALS)))["pad_id"] == 259


def test_time_budget_stops_and_saves(pretrained):
    from nanonlp.training.checkpoint import read_meta

    tmp, _, _ = pretrained
    cfg = PretrainConfig(sources=str(tmp / "text.txt"), data=str(tmp / "data"),
                         tokenizer=str(tmp / "tok.model"), val_fraction=0.2, mask_prob=0.3)
    trainer = make_trainer(cfg, "tiny", model=TINY, train=dict(
        max_steps=50, batch_size=4, eval_interval=50, device="cpu", out=str(tmp / "budget")))
    records = list(trainer.run(budget_min=0.0))  # a spent budget: one more step evaluates, saves
    assert [r.step for r in records] == [1, 2]
    assert records[-1].eval is not None and records[-1].saved
    assert read_meta(tmp / "budget" / "last")["state"]["step"] == 2


def test_uncased_model_lowercases_corpus_prediction_and_finetuning(pretrained, tmp_path):
    """An uncased BERT (``lowercase=True``): the corpus is lower-cased before packing, the model
    remembers it, and fill-mask / fine-tuning / prediction lower-case their input (but not the
    [MASK] marker), so upper-case input gives exactly the lower-case answer."""
    tmp, _, _ = pretrained
    shout = tmp_path / "shout.txt"
    shout.write_text("\n".join(t.upper() for t in TEXT * 4) + "\n", encoding="utf-8")
    cfg = PretrainConfig(sources=str(shout), data=str(tmp_path / "data"),
                         tokenizer=str(tmp / "tok.model"), val_fraction=0.2, mask_prob=0.3,
                         lowercase=True)
    trainer = make_trainer(cfg, "tiny", model={**TINY, "prenorm": True}, train=dict(
        max_steps=100, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=10, eval_interval=100,
        eval_steps=2, device="cpu", out=str(tmp_path / "run"), seed=0))
    list(trainer.run())
    tok = Tokenizer.load(tmp / "tok.model")
    packed = load_corpus(tmp_path / "data").splits["train"]
    assert tok.encode("the cat")[0] in packed  # lower-case ids, though the file shouts
    model = load_bert(tmp_path / "run" / "last")
    assert model.config.lowercase and model.config.prenorm
    lower = fill_mask(model, tok, "the cat sat on the[MASK] .", top_k=3)
    assert fill_mask(model, tok, "THE CAT SAT ON THE[MASK] .", top_k=3) == lower
    assert lower[0][0][0] == " mat"
    rng = random.Random(0)
    records = {"train": _sentiment(200, rng), "val": _sentiment(40, rng)}
    ft = finetune.make_trainer(FinetuneConfig(task="sst2", dropout=0.0, pooling="mean"), tmp_path / "run" / "last", train=dict(max_steps=60, lr=3e-3, warmup_steps=5, eval_interval=60,
                             eval_steps=2, device="cpu", out=str(tmp_path / "ft")), records=records)
    list(ft.run())
    shouted = [Example(r.text.upper(), r.label) for r in records["val"]]
    assert evaluate(ft.model, shouted, tok)["accuracy"] == 100.0
    out = predict_lines(tmp_path / "ft" / "last", ["THE DOG WAS AWFUL .", "the cat was great ."])
    assert [line.split("\t")[0] for line in out] == ["neg", "pos"]


def test_prepared_corpus_is_repacked_when_the_tokenizer_file_changes(tmp_path):
    from nanonlp.bert.pretrain import prepare_corpus

    (tmp_path / "t.txt").write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    cfg = PretrainConfig(sources=str(tmp_path / "t.txt"), data=str(tmp_path / "d"),
                         tokenizer=str(tmp_path / "tok.model"), val_fraction=0.3)
    Tokenizer.train(TEXT, BPEConfig(vocab_size=280, special=SPECIALS, workers=1)).save(
        tmp_path / "tok")
    assert prepare_corpus(cfg, 16)["vocab_size"] == 280
    assert prepare_corpus(cfg, 16)["vocab_size"] == 280  # same file: the folder is reused
    new = Tokenizer.train(TEXT, BPEConfig(vocab_size=300, special=SPECIALS, workers=1))
    new.save(tmp_path / "tok")  # same path, new content
    assert new.vocab_size != 280 and prepare_corpus(cfg, 16)["vocab_size"] == new.vocab_size


def test_corpus_cache_is_rebuilt_when_its_files_disagree(pretrained, tmp_path):
    """The packed corpus is a cache: it is reused only when meta.json, both arrays and the
    tokenizer agree. A kill that left new arrays beside an old meta.json, or a garbage
    meta.json, costs a rebuild; it never trains on mismatched blocks."""
    from nanonlp.bert.pretrain import prepare_corpus

    tmp, _, _ = pretrained
    cfg = PretrainConfig(sources=str(tmp / "text.txt"), data=str(tmp_path / "data"),
                         tokenizer=str(tmp / "tok.model"), val_fraction=0.2)
    meta = prepare_corpus(cfg, 16)
    good = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    assert sorted(good) == ["meta.json", "tokenizer.model", "tokenizer.vocab", "train.npy",
                           "val.npy"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing aside left
    for damage in ("meta", "arrays", "tokenizer"):
        if damage == "meta":
            (tmp_path / "data" / "meta.json").write_text("{not json")
        elif damage == "arrays":  # as if a kill came after the arrays and before meta.json
            np.save(tmp_path / "data" / "train.npy", np.zeros((3, 16), np.int32))
        else:
            (tmp_path / "data" / "tokenizer.model").write_text("garbage")
        assert prepare_corpus(cfg, 16) == meta
        assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == good, damage


@pytest.mark.parametrize("train", [dict(max_steps=0), dict(lr=math.nan), dict(grad_clip=math.nan),
                                   dict(out="/dev/null/run")])
def test_bad_options_fail_before_the_corpus_is_packed(pretrained, tmp_path, train):
    tmp, _, _ = pretrained
    cfg = PretrainConfig(sources=str(tmp / "text.txt"), data=str(tmp_path / "data"),
                         tokenizer=str(tmp / "tok.model"))
    with pytest.raises(ConfigError):
        make_trainer(cfg, "tiny", model=TINY, train={"out": str(tmp_path / "r"), **train})
    assert not (tmp_path / "data").exists() and not (tmp_path / "r").exists()


def test_resume_of_the_wrong_kind_fails_before_the_corpus_is_packed(pretrained, tmp_path):
    tmp, _, _ = pretrained
    cfg = PretrainConfig(sources=str(tmp / "text.txt"), data=str(tmp_path / "data"),
                         tokenizer=str(tmp / "tok.model"))
    records = {"train": [Example("a b", "x"), Example("b a", "y")] * 4,
               "val": [Example("a b", "x"), Example("b a", "y")]}
    ft = finetune.make_trainer(FinetuneConfig(task="sst2"), tmp / "run" / "last",
                               train=dict(max_steps=1, eval_interval=1, eval_steps=1,
                                          device="cpu", out=str(tmp_path / "ft")),
                               records=records)
    list(ft.run())
    with pytest.raises(DataError, match="bert-classifier"):
        make_trainer(cfg, "tiny", resume=tmp_path / "ft" / "last")
    assert not (tmp_path / "data").exists()


def test_finetune_resume_equals_uninterrupted(pretrained, tmp_path):
    """bert finetune --resume, as every trainer has it: 3 steps, then on to 6, is 6 steps."""
    tmp, _, _ = pretrained
    rng = random.Random(1)
    records = {"train": _sentiment(60, rng), "val": _sentiment(10, rng)}
    cfg = FinetuneConfig(task="sst2", dropout=0.1)
    common = dict(lr=3e-3, warmup_steps=2, eval_interval=3, eval_steps=1, device="cpu",
                  log_interval=1, batch_size=8)

    def run(out, steps, resume=None):
        t = finetune.make_trainer(cfg, tmp / "run" / "last", records=records, resume=resume,
                                  train=dict(common, max_steps=steps, out=str(out)))
        return [r.loss for r in t.run()]

    full = run(tmp_path / "a", 6)
    assert run(tmp_path / "b", 3) == full[:3]
    assert run(tmp_path / "b", 6, resume=tmp_path / "b" / "last") == full[3:]
    with pytest.raises(DataError, match="a 'bert' checkpoint, not a 'bert-classifier' one"):
        finetune.make_trainer(cfg, tmp / "run" / "last", records=records,
                              resume=tmp / "run" / "last")


def _imported_copy(src, dest):
    """``src`` saved again as ``bert import`` saves a real pretrained model (state says so)."""
    from nanonlp.training.checkpoint import save_checkpoint

    model = load_bert(src)
    save_checkpoint(dest, model, kind="bert", model_config=model.config.to_dict(),
                    state={"imported_from": "hf/some-bert", "fresh_head": False},
                    extra_files={TOKENIZER_FILE: (src / TOKENIZER_FILE).read_bytes()})
    assert not (dest / "embedding.json").exists()
    return dest


def test_an_imported_checkpoint_gets_berts_recipe_and_epochs_set_the_steps(pretrained, tmp_path):
    tmp, _, _ = pretrained
    ours = tmp / "run" / "last"
    theirs = _imported_copy(ours, tmp_path / "imported")
    assert not finetune.is_pretrained(ours) and finetune.is_pretrained(theirs)
    mine = finetune.train_config(ours, None, None, 100)
    assert (mine.lr, mine.schedule, mine.max_steps) == (2e-4, "cosine", 1000)
    bert = finetune.train_config(theirs, {"batch_size": 8}, 3, 100)  # ceil(3 * 100 / 8) = 38
    assert (bert.lr, bert.min_lr, bert.schedule, bert.beta2) == (5e-5, 0.0, "linear", 0.999)
    assert (bert.max_steps, bert.warmup_steps) == (38, 4)  # warmup: 10% of the steps
    assert finetune.train_config(theirs, {"lr": 2e-5, "warmup_steps": 0}, 1, 64).lr == 2e-5
    assert finetune.train_config(theirs, {"warmup_steps": 0}, 1, 64).warmup_steps == 0
    with pytest.raises(ConfigError, match=r"give --epochs or --train\.max_steps, not both"):
        finetune.train_config(theirs, {"max_steps": 5}, 1, 64)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ConfigError, match="epochs must be > 0"):
            FinetuneConfig(task="sst2", epochs=bad)


def test_linear_schedule_warms_up_then_falls_to_min_lr():
    from nanonlp.training.config import SCHEDULE_NAMES, TrainConfig
    from nanonlp.training.schedule import SCHEDULES, linear_lr

    assert set(SCHEDULES) == set(SCHEDULE_NAMES)  # the config's choices are the formulas
    lrs = [linear_lr(s, 1.0, 0.0, 10, 100) for s in range(101)]
    assert lrs[9] == pytest.approx(10 / 11) and lrs[10] == 1.0 and lrs[100] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # never rises after warmup
    assert lrs[55] == pytest.approx(0.5)  # halfway down the straight line
    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        TrainConfig(schedule="step")


def test_pooling_follows_the_checkpoints_embedding_json(pretrained, tmp_path):
    import json
    import shutil

    tmp, _, _ = pretrained
    ckpt = tmp_path / "st"
    shutil.copytree(tmp / "run" / "last", ckpt)
    assert FinetuneConfig(task="sst2").pooling_for(ckpt) == "cls"
    assert FinetuneConfig(task="contrastive", train="x").pooling_for(ckpt) == "mean"
    (ckpt / "embedding.json").write_text(json.dumps({"pooling": "max", "normalize": True}))
    assert FinetuneConfig(task="sst2").pooling_for(ckpt) == "max"
    assert FinetuneConfig(task="sst2", pooling="mean").pooling_for(ckpt) == "mean"
    rng = random.Random(0)
    records = {"train": _sentiment(40, rng), "val": _sentiment(8, rng)}
    trainer = finetune.make_trainer(FinetuneConfig(task="sst2"), ckpt, records=records,
                                    train=dict(max_steps=2, device="cpu", eval_steps=1,
                                               out=str(tmp_path / "ft")))
    assert trainer.model.pooling == "max"


@pytest.mark.parametrize("argv, want", [
    (["--epochs", "0"], "epochs must be > 0 (or None), got 0.0"),
    (["--epochs", "1", "--train.max_steps", "5"], "give --epochs or --train.max_steps, not both"),
])
def test_cli_epochs_bad_values_are_one_line_and_write_nothing(pretrained, tmp_path, capsys, argv,
                                                             want):
    from nanonlp.cli import main

    tmp, _, _ = pretrained
    (tmp_path / "train.tsv").write_text("a good film\tpos\na bad film\tneg\n" * 5)
    rc = main(["bert", "finetune", str(tmp / "run" / "last"), "--train",
               str(tmp_path / "train.tsv"), "--train.out", str(tmp_path / "out"),
               "--train.device", "cpu", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and want in err, err
    assert not (tmp_path / "out").exists()
