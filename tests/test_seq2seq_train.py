"""seq2seq end to end on a synthetic task (reversing symbol strings): learnt exactly, saved,
reloaded; decoding invariances; exact resume; the CLI and its error messages."""

import json
import random

import pytest
import torch

from nanonlp.cli import main
from nanonlp.errors import DataError
from nanonlp.seq2seq.train import evaluate, make_trainer
from nanonlp.seq2seq.translate import Translator, beam_search, greedy

SYMBOLS = "abcdefgh"


def write_reversal(path, n=1500, seed=0):
    rng = random.Random(seed)
    lines = set()
    while len(lines) < n:
        s = [rng.choice(SYMBOLS) for _ in range(rng.randint(3, 6))]
        lines.add(f"{' '.join(s)}\t{' '.join(reversed(s))}\n")
    path.write_text("".join(sorted(lines)))
    return path


def data_overrides(path):
    return dict(source=str(path), src_lang="x", tgt_lang="y", filter="none",
                normalizer="none", heldout=0.05)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny translator trained to reverse strings (shared by the tests below: ~10 s on an idle machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("rev")
    tsv = write_reversal(tmp / "rev.tsv")
    trainer = make_trainer(data_overrides(tsv), "tiny", dict(hidden=48, attn_dim=32),
                           dict(max_steps=300, batch_size=32, lr=1e-2, eval_interval=150,
                                out=str(tmp / "run"), device="cpu", log_interval=1))
    prep = trainer.data
    records = list(trainer.run())
    yield tmp, tsv, prep, records, Translator.load(tmp / "run" / "best")
    torch.set_num_threads(threads)


def test_learns_reversal_exactly(trained):
    _, _, prep, records, tr = trained
    assert records[-1].eval["val"] < records[0].loss / 5
    test = prep.pairs["test"]
    assert len(test) > 40
    out = tr.translate([p.source for p in test], beam=1)
    assert [o.text for o in out] == [p.target for p in test]
    rep = evaluate(tr, test, beam=3)
    assert rep.bleu == pytest.approx(100.0) and rep.sentences == len(test)


def test_decoding_invariances(trained):
    tr = trained[-1]
    sentences = ["a b c", "h g f e d c", "d d a", "b h"]
    single = [tr.translate([s], beam=4)[0] for s in sentences]
    batched = tr.translate(sentences, beam=4, batch_size=3)
    for a, b in zip(single, batched):
        assert a.text == b.text
        torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=0)
    # beam 1 == greedy, token for token, on the trained model too
    src = torch.tensor([tr.encode_source(s) + [0] * (6 - len(s.split())) for s in sentences])
    for g, b in zip(greedy(tr.model, src), beam_search(tr.model, src, beam=1)):
        assert g.tokens == b.tokens
    # appending padding does not change a sentence's output
    x = torch.tensor([tr.encode_source("a b c")])
    padded = torch.cat([x, torch.zeros(1, 5, dtype=torch.long)], 1)
    one, two = beam_search(tr.model, x, beam=3)[0], beam_search(tr.model, padded, beam=3)[0]
    assert one.tokens == two.tokens and one.attention.shape == two.attention.shape
    # attention rows sum to 1 over the real tokens (the source plus its <eos>)
    for t in batched:
        assert t.attention.shape == (len(t.target_pieces), len(t.source_pieces))
        torch.testing.assert_close(t.attention.sum(-1), torch.ones(t.attention.size(0)))


def test_unknown_words_and_wrong_checkpoint(trained, tmp_path):
    tr = trained[-1]
    with pytest.raises(DataError, match="every word is unknown to the source vocabulary"):
        tr.translate(["zz yy"])
    with pytest.raises(DataError, match="nothing to translate"):
        tr.translate(["   "])
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text(json.dumps(
        {"format": "nanonlp-checkpoint", "version": 1, "kind": "gpt", "model_config": {}}))
    with pytest.raises(DataError, match="a 'gpt' checkpoint, not a 'seq2seq' one"):
        Translator.load(tmp_path / "ck")


def test_resume_gives_the_same_next_losses(tmp_path):
    torch.set_num_threads(1)
    tsv = write_reversal(tmp_path / "rev.tsv", n=300)
    common = dict(max_steps=6, batch_size=8, eval_interval=3, eval_steps=1, device="cpu",
                  log_interval=1)
    data = data_overrides(tsv)
    model = dict(dropout=0.2)  # dropout draws from the RNG that the checkpoint restores

    def run(out, resume=None, **train):
        trainer = make_trainer(None if resume else data, "tiny", None if resume else model,
                               {**common, "out": str(out), **train}, resume=resume)
        return [r.loss for r in trainer.run()]

    full = run(tmp_path / "a")
    run(tmp_path / "b", max_steps=3)
    resumed = run(tmp_path / "c", resume=tmp_path / "b" / "last")
    assert len(resumed) == 3
    assert resumed == full[3:]


def test_cli_train_evaluate_run(tmp_path, capsys, monkeypatch):
    tsv = write_reversal(tmp_path / "rev.tsv", n=300)
    out = tmp_path / "run"
    argv = ["translate", "train", "--preset", "tiny", "--data.source", str(tsv),
            "--data.src_lang", "x", "--data.tgt_lang", "y", "--data.filter", "none",
            "--data.normalizer", "none", "--train.max_steps", "20", "--train.eval_interval",
            "20", "--train.device", "cpu", "--train.out", str(out), "--bleu_sentences", "20"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "val BLEU" in text and (out / "loss.png").exists()
    assert (out / "best" / "src_vocab.txt").exists()
    assert main(["translate", "evaluate", str(out / "best"), "--max_sentences", "5",
                 "--beam", "2", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["sentences"] == 5 and rep["beam"] == 2
    (tmp_path / "s.txt").write_text("a b c\nd e f\n")
    (tmp_path / "t.txt").write_text("c b a\nf e d\n")
    assert main(["translate", "evaluate", str(out / "best"), "--beam", "1", "--source",
                 f"{tmp_path / 's.txt'},{tmp_path / 't.txt'}"]) == 0
    assert "BLEU" in capsys.readouterr().out
    (tmp_path / "t.txt").write_text("c b a\n")
    assert main(["translate", "evaluate", str(out / "best"), "--source",
                 f"{tmp_path / 's.txt'},{tmp_path / 't.txt'}"]) == 2
    assert "parallel files differ in length" in capsys.readouterr().err
    png = tmp_path / "attn.png"
    assert main(["translate", "run", str(out / "best"), "a b c", "d e",
                 "--attention", str(png)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3 and png.stat().st_size > 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a b\n\nc d\n"))
    assert main(["translate", "run", str(out / "best"), "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["translate", "run", str(out / "best"), "q q"]) == 2
    assert "every word is unknown" in capsys.readouterr().err
    assert main(["translate", "run", str(tmp_path / "missing"), "a"]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err
    assert main([*argv[:4], "--model.dropout", "2"]) == 2
    assert "dropout must be in [0, 1), got 2.0" in capsys.readouterr().err


def test_tour_step_offline(tmp_path, no_real_data, torch_one_thread):
    from nanonlp.tour import TourConfig, run_tour

    report = run_tour(TourConfig(out=str(tmp_path / "t"), parts="translate", quick=True),
                      progress=False)
    data = json.loads((tmp_path / "t" / "report.json").read_text())["translate"]
    assert data["status"] == "ok", data["summary"]
    assert "SYNTHETIC" in data["data"] and data["metrics"]["steps"] == 40
    assert (tmp_path / "t" / "translate_attention.png").stat().st_size > 1000
    assert "Machine translation" in report.read_text()
