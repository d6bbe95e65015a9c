"""Training: overfit two sentences, save, spacy.load, same entities; batched == one by one;
the CLI end to end (convert -> train -> evaluate -> tag) on the same tiny model."""

import json

import pytest

spacy = pytest.importorskip("spacy")
pytest.importorskip("seqeval")

from nanonlp.cli import main  # noqa: E402
from nanonlp.errors import ConfigError  # noqa: E402
from nanonlp.ner.train import NERTrainConfig, build_config, train  # noqa: E402

SENTENCES = [
    ("Ada Lovelace visited London with Charles Babbage .",
     ["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER", "I-PER", "O"]),
    ("The Royal Society met in Paris on Monday .",
     ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC", "O", "O", "O"]),
]

# A small network so that the test takes seconds: spaCy's efficiency architecture, narrower.
TINY = ("components.tok2vec.model.encode.width=32", "components.tok2vec.model.encode.depth=2",
        "components.tok2vec.model.embed.rows=[500,100,100,100]",
        "components.ner.model.hidden_width=32", "training.optimizer.learn_rate=0.005",
        "training.dropout=0.0")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Column file -> DocBin through the CLI, then 60 steps of training on it."""
    root = tmp_path_factory.mktemp("ner")
    conll = root / "two.conll"
    conll.write_text("".join("".join(f"{w} {t}\n" for w, t in zip(s.split(), tags)) + "\n"
                             for s, tags in SENTENCES))
    # n_sents=1: one document per sentence, so a training batch holds both
    assert main(["ner", "convert", str(conll), str(root / "two.spacy"), "--n_sents", "1"]) == 0
    cfg = NERTrainConfig(train=str(root / "two.spacy"), dev=str(root / "two.spacy"),
                      out=str(root / "run"), max_steps=60, eval_frequency=20, patience=0,
                      overrides=TINY)
    steps = list(train(cfg))
    return root, cfg, steps


def gold_ents():
    return [[(w, t) for w, t in zip(s.split(), tags)] for s, tags in SENTENCES]


def ents_of(doc):
    return [(e.text, e.label_) for e in doc.ents]


def expected():
    from nanonlp.ner.convert import bio_spans

    out = []
    for s, tags in SENTENCES:
        words = s.split()
        out.append([(" ".join(words[a:b]), lab) for a, b, lab in bio_spans(tags)])
    return out


def test_overfit_save_load_same_entities(trained):
    root, cfg, steps = trained
    assert [s.step for s in steps] == list(range(61))
    assert steps[-1].stopped == "max_steps 60"
    evals = [s for s in steps if s.dev_f1 is not None]
    assert [s.step for s in evals] == [0, 20, 40, 60]
    assert evals[0].dev_f1 < 0.5 and max(s.dev_f1 for s in evals) == 1.0
    assert steps[-1].loss < steps[1].loss
    nlp = spacy.load(root / "run" / "model-best")  # an ordinary spaCy pipeline folder
    assert nlp.pipe_names == ["tok2vec", "ner"]
    docs = [nlp(s) for s, _ in SENTENCES]
    assert [ents_of(d) for d in docs] == expected()
    # batched == one by one
    batched = list(nlp.pipe([s for s, _ in SENTENCES] * 3, batch_size=4))
    assert [ents_of(d) for d in batched] == [ents_of(d) for d in docs] * 3
    # model-last is loadable too, and the config records our preset's changes
    assert spacy.load(root / "run" / "model-last").pipe_names == ["tok2vec", "ner"]
    saved = spacy.util.load_config(root / "run" / "config.cfg")
    assert saved["training"]["optimizer"]["use_averages"] is True
    assert saved["components"]["tok2vec"]["model"]["encode"]["width"] == 32


def test_time_budget_stops_and_keeps_a_model(tmp_path, trained):
    root, _, _ = trained
    cfg = NERTrainConfig(train=str(root / "two.spacy"), dev=str(root / "two.spacy"),
                      out=str(tmp_path / "run"), budget_min=1e-6, eval_frequency=50,
                      overrides=TINY)
    steps = list(train(cfg))
    assert len(steps) == 1 and steps[0].stopped.startswith("time budget")
    assert (tmp_path / "run" / "model-best" / "meta.json").is_file()


def test_baseline_preset_is_spacys_config(tmp_path):
    from spacy.cli.init_config import init_config

    cfg = build_config(NERTrainConfig(train="t.spacy", dev="d.spacy", preset="spacy-efficiency"))
    ref = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False, silent=True)
    for section in ("components", "nlp"):
        assert cfg[section] == ref[section]
    assert cfg["training"]["optimizer"] == ref["training"]["optimizer"]
    assert cfg["training"]["batcher"] == ref["training"]["batcher"]


def test_our_presets_differ_from_spacys_by_the_listed_overrides_only():
    from spacy.cli.init_config import init_config

    from nanonlp.ner.config import EFFICIENCY_OVERRIDES, OUR_OVERRIDES, base_config, set_dotted

    for preset in ("efficiency", "accuracy"):
        ref = init_config(lang="en", pipeline=["ner"], optimize=preset, gpu=False, silent=True)
        ref["paths"]["vectors"] = None  # the accuracy template's download, dropped by both
        ref["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = False
        extra = EFFICIENCY_OVERRIDES if preset == "efficiency" else {}
        for dotted, value in {**OUR_OVERRIDES, **extra}.items():
            set_dotted(ref, dotted, value)
        assert base_config(preset) == ref
    width = {p: base_config(p)["components"]["tok2vec"]["model"]["encode"]["width"]
             for p in ("efficiency", "accuracy", "spacy-efficiency")}
    assert width == {"efficiency": 128, "accuracy": 256, "spacy-efficiency": 96}


def test_static_vectors(tmp_path):
    from nanonlp.ner.config import init_vectors

    w2v = tmp_path / "v.txt"
    w2v.write_text("3 4\nlondon 1 0 0 0\nparis 0 1 0 0\nada 0 0 1 0\n")
    assert init_vectors(w2v, tmp_path / "vec", attr="LOWER") == 3
    nlp = spacy.load(tmp_path / "vec")
    assert nlp("London")[0].has_vector and list(nlp("PARIS")[0].vector) == [0, 1, 0, 0]
    cfg = build_config(NERTrainConfig(train="t", dev="d"), vectors_dir=str(tmp_path / "vec"))
    assert cfg["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] is True
    bad = tmp_path / "bad.txt"
    bad.write_text("london 1 0 0 0\n")
    from nanonlp.errors import DataError

    with pytest.raises(DataError, match=r"bad.txt:1: expected the word2vec text header"):
        init_vectors(bad, tmp_path / "vec2")


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        NERTrainConfig(train="a", dev="b", preset="fast")
    with pytest.raises(ConfigError, match=r"override 'dropout': expected section\.key=value"):
        NERTrainConfig(train="a", dev="b", overrides=("dropout",))


def test_cli_evaluate_and_tag(trained, tmp_path, capsys, monkeypatch):
    root, _, _ = trained
    run = root / "run"
    rc = main(["ner", "evaluate", str(run), str(root / "two.spacy"),
               "--report", str(tmp_path / "r.json"), "--html", str(tmp_path / "s.html"),
               "--predictions", str(tmp_path / "p.conll")])
    out = capsys.readouterr().out
    assert rc == 0 and "overall" in out and "100.00" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["f1"] == 1.0 and report["seqeval_agrees"] is True
    assert "Lovelace" in (tmp_path / "s.html").read_text()
    assert "Ada B-PER B-PER" in (tmp_path / "p.conll").read_text()
    # gold straight from a column file (the IOB1 scheme here reads the same as BIO)
    assert main(["ner", "evaluate", str(run), str(root / "two.conll"), "--scheme", "iob1"]) == 0
    assert "100.00" in capsys.readouterr().out
    # tag: text from a file, JSONL out, in the format `ner convert` reads back
    text = tmp_path / "in.txt"
    text.write_text(SENTENCES[0][0] + "\n")
    assert main(["ner", "tag", str(run), "--input", str(text), "--format", "jsonl"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert [line["text"][a:b] for a, b, _ in line["entities"]] == \
        ["Ada Lovelace", "London", "Charles Babbage"]
    # stdin, text out
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(SENTENCES[1][0] + "\n"))
    assert main(["ner", "tag", str(run)]) == 0
    assert "4\t17\tORG\tRoyal Society\n25\t30\tLOC\tParis\n\n" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert main(["ner", "evaluate", str(tmp_path), str(tmp_path / "x.spacy")]) == 2
    assert "not a spaCy pipeline folder" in capsys.readouterr().err
    assert main(["ner", "train", str(tmp_path / "none.spacy"), str(tmp_path / "none.spacy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_tour_step_offline_is_synthetic_and_labelled(tmp_path, no_real_data):
    from nanonlp.ner.tour import run
    from nanonlp.tour import TourContext

    report = run(TourContext(out=tmp_path, quick=True, seed=0))
    assert report.data.startswith("SYNTHETIC")
    assert report.metrics["seqeval agrees"] is True and report.metrics["training steps"] == 30
    assert report.metrics["dev F1"] > 30  # the held-out names are found from context
    assert (tmp_path / "ner_f1.png").stat().st_size > 1000
    assert "document 1: gold" in (tmp_path / "ner_samples.html").read_text()


def test_empty_or_wrong_data_is_a_clear_error(trained, tmp_path, capsys):
    from spacy.tokens import DocBin

    root, _, _ = trained
    empty = tmp_path / "empty.spacy"
    DocBin().to_disk(empty)
    assert main(["ner", "train", str(empty), str(root / "two.spacy")]) == 2
    err = capsys.readouterr().err  # (after the progress bar's first frame)
    assert err == f"nanonlp: error: train data {empty}: no documents with tokens\n"
    assert main(["ner", "train", str(root / "two.conll"), str(root / "two.spacy")]) == 2
    assert "expected a .spacy DocBin" in capsys.readouterr().err
    assert main(["ner", "evaluate", str(root / "run" / "model-best"), str(empty)]) == 2
    assert capsys.readouterr().err == (f"nanonlp: error: {empty}: no documents with tokens "
                                       "to evaluate on\n")


def test_bad_vector_rows_and_saves_are_whole(trained, tmp_path):
    from nanonlp.errors import DataError
    from nanonlp.ner.config import init_vectors

    ragged = tmp_path / "ragged.txt"
    ragged.write_text("2 4\nlondon 1 0 0 0\nparis 0 1\n")
    with pytest.raises(DataError, match=r"ragged.txt: spaCy cannot read these vectors"):
        init_vectors(ragged, tmp_path / "vec")
    assert not (tmp_path / "vec").exists()  # nothing half-written
    root, _, _ = trained
    leftovers = [p.name for p in (root / "run").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # every save swapped its folder in whole


def test_max_minutes_is_the_deprecated_name_of_budget_min():
    with pytest.warns(DeprecationWarning, match="use budget_min"):
        cfg = NERTrainConfig(train="a", dev="b", max_minutes=5)
    assert cfg.budget_min == 5 and cfg.max_minutes is None
    with pytest.raises(ConfigError, match="disagree"), pytest.warns(DeprecationWarning):
        NERTrainConfig(train="a", dev="b", max_minutes=5, budget_min=6)
    with pytest.raises(ConfigError, match="budget_min must be > 0 or None, got nan"):
        NERTrainConfig(train="a", dev="b", budget_min=float("nan"))
