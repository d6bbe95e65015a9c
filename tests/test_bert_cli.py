"""``nanonlp bert pretrain|finetune|predict|export`` through cli.main."""

from __future__ import annotations

import io

import pytest
import torch

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.cli import main

SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")
TEXT = ["the cat sat on the mat .", "a dog ran in the park ."] * 6


@pytest.fixture
def corpus(tmp_path, torch_one_thread):
    (tmp_path / "text.txt").write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    Tokenizer.train(TEXT, BPEConfig(vocab_size=280, special=SPECIALS, workers=1)).save(
        tmp_path / "tok")
    return tmp_path


def test_pretrain_export_predict(corpus, capsys, monkeypatch):
    run = corpus / "run"
    rc = main(["bert", "pretrain", "--preset", "tiny", "--sources", str(corpus / "text.txt"),
               "--data", str(corpus / "data"), "--tokenizer", str(corpus / "tok.model"),
               "--val_fraction", "0.3", "--model.n_layer", "1", "--model.n_embd", "32",
               "--model.block_size", "16", "--train.max_steps", "4",
               "--train.eval_interval", "4", "--train.eval_steps", "1",
               "--train.batch_size", "4", "--train.device", "cpu", "--train.out", str(run)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "val masked-token accuracy" in out.out
    assert (run / "last" / "tokenizer.model").exists() and (run / "metrics.jsonl").exists()

    assert main(["bert", "export", str(run / "last"), str(corpus / "hf")]) == 0
    assert "BertForMaskedLM.from_pretrained" in capsys.readouterr().out
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= \
        {p.name for p in (corpus / "hf").iterdir()}

    monkeypatch.setattr("sys.stdin", io.StringIO("the cat sat on the[MASK] .\n"))
    assert main(["bert", "predict", str(run / "last"), "--top_k", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.count(" | ") == 2  # three candidates for the one [MASK]

    monkeypatch.setattr("sys.stdin", io.StringIO("no mask here\n"))
    assert main(["bert", "predict", str(run / "last")]) == 2
    assert "no [MASK] in 'no mask here'" in capsys.readouterr().err


def test_pretrain_with_a_tokenizer_lacking_specials(corpus, tmp_path, capsys):
    Tokenizer.train(TEXT, BPEConfig(vocab_size=270, workers=1)).save(tmp_path / "plain")
    rc = main(["bert", "pretrain", "--sources", str(corpus / "text.txt"),
               "--data", str(tmp_path / "d"), "--tokenizer", str(tmp_path / "plain.model"),
               "--train.out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "plain.model: lacks the special token(s) [CLS] [SEP] [MASK] [PAD]" in err
    assert "Traceback" not in err


def test_finetune_and_export_errors(tmp_path, capsys, torch_one_thread):
    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertClassifier, BertForMaskedLM, save_bert

    assert main(["bert", "finetune", str(tmp_path), "--task", "imdb"]) == 2
    assert "unknown task 'imdb'; choose sst2, sentence_polarity, conll2003" in \
        capsys.readouterr().err
    assert main(["bert", "finetune", str(tmp_path), "--pooling", "sum",
                 "--train.out", str(tmp_path / "ft")]) == 2
    assert "unknown pooling 'sum'; choose cls" in capsys.readouterr().err
    assert not (tmp_path / "ft").exists()
    tok = Tokenizer(special_tokens=list(SPECIALS))
    tok.save(tmp_path / "tok")
    cfg = BertConfig(vocab_size=260, block_size=8, n_layer=1, n_head=1, n_embd=8, cls_id=256,
                     sep_id=257, mask_id=258, pad_id=259)
    save_bert(BertClassifier(cfg, ["neg", "pos"]), tmp_path / "clf", tmp_path / "tok.model")
    assert main(["bert", "export", str(tmp_path / "clf"), str(tmp_path / "hf")]) == 2
    assert "only a pretrained (MLM) BERT exports to BertForMaskedLM" in capsys.readouterr().err
    pre = BertForMaskedLM(BertConfig(**{**cfg.to_dict(), "prenorm": True}))
    save_bert(pre, tmp_path / "pre", tmp_path / "tok.model")
    assert main(["bert", "export", str(tmp_path / "pre"), str(tmp_path / "hf")]) == 2
    assert "pre-norm BERT (prenorm=true) has no transformers BERT counterpart" in \
        capsys.readouterr().err
    assert not (tmp_path / "hf").exists()
    assert main(["bert", "predict", str(tmp_path / "nothing")]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err
    torch.manual_seed(0)


@pytest.mark.data
def test_finetune_sst2_smoke(real_data, tmp_path, capsys, torch_one_thread):
    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertForMaskedLM, save_bert

    tok = Tokenizer.train(["a fine film", "a bad movie"], BPEConfig(vocab_size=300,
                                                                    special=SPECIALS, workers=1))
    tok.save(tmp_path / "tok")
    ids = {k: tok.special_tokens[s] for k, s in
           zip(("cls_id", "sep_id", "mask_id", "pad_id"), SPECIALS, strict=True)}
    cfg = BertConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=1, n_embd=16,
                     **ids)
    save_bert(BertForMaskedLM(cfg), tmp_path / "ck", tmp_path / "tok.model")
    rc = main(["bert", "finetune", str(tmp_path / "ck"), "--task", "sst2", "--max_train", "64",
               "--train.max_steps", "3", "--train.eval_interval", "3", "--train.eval_steps", "1",
               "--train.device", "cpu", "--train.out", str(tmp_path / "ft")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "dev: 872 examples, accuracy " in out.out
