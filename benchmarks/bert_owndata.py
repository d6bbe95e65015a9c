"""BERT on your own data: (a) fine-tuning from a labelled file against TF-IDF + logistic
regression, (b) retrieval of real paraphrases, (c) the throughput of ``embed``.

(a) ``sentence_polarity`` and SST-2 written out as headerless ``text<TAB>label`` files and
    fine-tuned from the files (``bert finetune --train FILE --dev FILE``), beside the same
    fine-tuning on the named task (the same rows: the accuracies must be equal) and
    scikit-learn's TF-IDF (word 1-2 grams) + logistic regression on the same rows. Dev
    accuracy (sentence_polarity: the named task's 10% held out; SST-2: the GLUE dev set).
(b) eng-fra: English sentences that translate one French sentence are paraphrases. Groups
    are split by a hash of the French sentence (``seq2seq.data.heldout_split``, as the
    translation part splits); each English test sentence with a paraphrase ranks all English
    test sentences (itself left out): recall@1, recall@10, MRR for TF-IDF cosine, the mean of
    nanonlp word2vec vectors (trained on the English training sentences), our MLM-pretrained
    BERT (mean pooling), and that BERT after SimCSE training (``bert finetune --task
    contrastive``) on anchor/positive pairs from the training groups. No training pair holds
    a sentence of the test pool.
(c) Sentences per second of the encoder forward pass with mean pooling, ours and
    ``transformers.BertModel`` at the same shape on the same padded batches (alternating
    rounds); the rate of the whole ``embed()`` (BPE encoding included) is in the notes.

The BERT is ``benchmarks/bert.py``'s pretraining (its recipe, ``--pretrain-min`` minutes,
cached in ``--work``), or any BERT checkpoint given with ``--checkpoint``. Each finished phase
is kept in ``--work`` (``phase-NAME.json``) and reused by a rerun; ``--phase NAME`` runs that
one again, and ``--record`` records the kept phases (it runs none).

    python benchmarks/bert_owndata.py --pretrain-min 15 --work /tmp/owndata-bench
    python benchmarks/bert_owndata.py --record --pretrain-min 15 --work /tmp/owndata-bench
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from harness import Timer, data_dir, parser, phase_flag, record, result, run_phases

from nanonlp.bert.data import load_tokenizer
from nanonlp.bert.encode import encode_text

FT = dict(batch_size=32, lr=1e-3, min_lr=1e-4, eval_steps=5, device="cpu", seed=0)
PHASES = ("classification", "retrieval", "throughput")


def finetune(cfg, ckpt: str, records: dict, steps: int, out: Path) -> tuple[dict, float]:
    """Fine-tune through the library path ``bert finetune`` takes; the dev report and seconds."""
    from nanonlp.bert import finetune as ft
    from nanonlp.bert.report import score_splits
    from nanonlp.training import fit

    trainer = ft.make_trainer(cfg, ckpt, train=dict(FT, max_steps=steps, warmup_steps=steps // 10,
                                                    eval_interval=steps, out=str(out)),
                              records=records)
    with Timer() as t:
        fit(trainer, str(out.name), progress=False, say=None)
    if cfg.kind == "contrastive":
        return {}, t.seconds
    return score_splits(trainer.model, load_tokenizer(ckpt), records), t.seconds


def tfidf_lr(train: list, dev: list) -> float:
    """Dev accuracy of TF-IDF (word 1-2 grams, sublinear tf) + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    X = vec.fit_transform([r.text for r in train])
    clf = LogisticRegression(max_iter=2000, C=4.0).fit(X, [r.label for r in train])
    return float((clf.predict(vec.transform([r.text for r in dev])) ==
                  np.array([r.label for r in dev])).mean())


def classification(ckpt: str, work: Path, steps: int, quick: bool) -> tuple[list, dict]:
    """(a): for each task, the file arm, the named arm and TF-IDF + LR on the same rows."""
    from nanonlp.bert import finetune as ft

    rows, notes = [], {}
    for task in ("sentence_polarity", "sst2"):
        named = ft.load_records(ft.FinetuneConfig(task=task))
        if quick:
            named = {"train": named["train"][:2000], "val": named["val"][:300]}
        folder = work / f"files-{task}"
        folder.mkdir(parents=True, exist_ok=True)
        for split, name in (("train", "train"), ("val", "dev")):
            (folder / f"{name}.tsv").write_text(
                "".join(f"{r.text}\t{r.label}\n" for r in named[split]), encoding="utf-8")
        cfg = ft.FinetuneConfig(train=str(folder / "train.tsv"), dev=str(folder / "dev.tsv"))
        from_file = ft.load_records(cfg)
        acc = {}
        for arm, c, recs in (("file", cfg, from_file),
                             ("named", ft.FinetuneConfig(task=task), named)):
            report, sec = finetune(c, ckpt, recs, steps, work / f"ft-{task}-{arm}")
            acc[arm] = report["dev"]["accuracy"]
            notes[f"{task} {arm}"] = {"accuracy": acc[arm], "macro_f1": report["dev"]["macro_f1"],
                                      "seconds": round(sec, 1)}
        base = tfidf_lr(named["train"], named["val"])
        case = f"{task} ({len(named['train']):,} train / {len(named['val']):,} dev rows)"
        rows.append(result("bert-owndata", f"{case}, fine-tuned from the TSV file",
                           "dev accuracy", 100 * acc["file"], 100 * base,
                           "TF-IDF 1-2 grams + logistic regression", better="higher"))
        rows.append(result("bert-owndata", f"{case}, TSV file vs named task", "dev accuracy",
                           100 * acc["file"], 100 * acc["named"], "the named task (same rows)",
                           better="higher"))
    return rows, notes


def contrastive_task(pairs: dict, folder: Path):
    """The pairs' train and val splits as the TSV files of ``bert finetune --task contrastive
    --train train.tsv --dev dev.tsv``, and that task's config."""
    from nanonlp.bert import finetune as ft

    folder.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train"), ("val", "dev")):
        (folder / f"{name}.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs[split]),
                                            encoding="utf-8")
    return ft.FinetuneConfig(task="contrastive", train=str(folder / "train.tsv"),
                             dev=str(folder / "dev.tsv"))


def paraphrases(fraction: float = 0.1):
    """Test pool, its queries with their paraphrases, and training/dev anchor-positive pairs."""
    from nanonlp import datasets as D
    from nanonlp.seq2seq.data import heldout_split
    from nanonlp.seq2seq.vocab import normalize

    groups: dict[str, set[str]] = defaultdict(set)
    for p in D.load("eng-fra"):
        groups[p.target].add(p.source)
    split = {fr: heldout_split(normalize(fr, "lower"), fraction) for fr in groups}
    pool = sorted({e for fr, es in groups.items() if split[fr] == "test" for e in es})
    index = {e: i for i, e in enumerate(pool)}
    relevant: dict[int, set[int]] = defaultdict(set)
    for fr, es in groups.items():
        if split[fr] == "test":
            for e in es:
                relevant[index[e]] |= {index[o] for o in es if o != e}
    queries = sorted(q for q, rel in relevant.items() if rel)
    rng = random.Random(0)
    pairs = {"train": [], "val": []}
    for fr, es in sorted(groups.items()):
        es = sorted(e for e in es if e not in index)  # nothing of the test pool is trained on
        if split[fr] == "test" or len(es) < 2:
            continue
        cand = [(a, b) for i, a in enumerate(es) for b in es[i + 1:]]
        rng.shuffle(cand)
        pairs[split[fr]] += cand[:6]  # a few pairs of a big group, not all of its n^2
    english = sorted({e for fr, es in groups.items() if split[fr] == "train" for e in es
                      if e not in index})
    return pool, queries, [relevant[q] for q in queries], pairs, english


def retrieval(ckpt: str, work: Path, steps: int, quick: bool) -> tuple[list, dict]:
    """(b): recall@1, recall@10 and MRR of four rankings of the test pool."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nanonlp.bert import finetune as ft
    from nanonlp.bert.embed import embed, retrieval_scores, unit
    from nanonlp.bert.model import load_bert
    from nanonlp.word2vec import Corpus, Word2VecConfig, fit, tokenize

    pool, queries, relevant, pairs, english = paraphrases()
    if quick:
        queries, relevant = queries[:200], relevant[:200]
        pairs["train"] = pairs["train"][:2000]

    def scores(vecs) -> dict:  # vecs (N, C) rows of the pool, dense or sparse
        q = vecs[queries]
        sims = q @ vecs.T
        sims = sims.toarray() if hasattr(sims, "toarray") else sims
        return retrieval_scores(np.asarray(sims), relevant, exclude=queries)

    out = {}
    with Timer() as t:
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(english)
        out["tfidf"] = scores(tfidf.transform(pool))  # rows are unit length already
    out["tfidf"]["seconds"] = t.seconds
    with Timer() as t:
        wv = fit(Corpus.from_sentences([tokenize(e) for e in english]),
                 Word2VecConfig(dim=100, epochs=5 if not quick else 1, min_count=2, workers=2))
        means = np.zeros((len(pool), wv.dim), np.float32)
        for i, e in enumerate(pool):
            known = [wv[w] for w in tokenize(e) if w in wv]
            if known:
                means[i] = np.mean(known, axis=0)
        out["word2vec"] = scores(unit(means))
    out["word2vec"]["seconds"] = t.seconds
    tok = load_tokenizer(ckpt)
    with Timer() as t:
        out["bert_mlm"] = scores(unit(embed(load_bert(ckpt), tok, pool, batch_size=128)))
    out["bert_mlm"]["seconds"] = t.seconds
    cfg = contrastive_task(pairs, work / "pairs")
    _, sec = finetune(cfg, ckpt, ft.load_records(cfg), steps, work / "ft-contrastive")
    tuned = load_bert(work / "ft-contrastive" / "last")
    out["bert_simcse"] = scores(unit(embed(tuned, tok, pool, batch_size=128)))
    out["bert_simcse"]["train_seconds"] = sec
    case = (f"eng-fra paraphrases: {len(queries):,} queries ranking {len(pool):,} test "
            f"sentences")
    rows = []
    for name, label in (("bert_simcse", "BERT + SimCSE"), ("bert_mlm", "BERT (MLM only)"),
                        ("word2vec", "mean of word2vec")):
        for metric in ("mrr", "recall@1", "recall@10"):
            rows.append(result("bert-owndata", f"{case}, {label}", metric, out[name][metric],
                               out["tfidf"][metric], "TF-IDF 1-2 grams cosine",
                               better="higher"))
    notes = {"pairs": {s: len(p) for s, p in pairs.items()}, "scores": out}
    return rows, notes


def throughput(ckpt: str, quick: bool) -> tuple[list, dict]:
    """(c): encoder forward + mean pooling, sentences/s, ours vs HF BertModel, same shape."""
    from transformers import BertConfig as HFConfig
    from transformers import BertModel

    from nanonlp import datasets as D
    from nanonlp.bert.contrastive import pool
    from nanonlp.bert.data import special_ids
    from nanonlp.bert.embed import embed
    from nanonlp.bert.model import load_bert

    ours = load_bert(ckpt).eval()
    c = ours.config
    hf = BertModel(HFConfig(vocab_size=c.vocab_size, hidden_size=c.n_embd,
                            num_hidden_layers=c.n_layer, num_attention_heads=c.n_head,
                            intermediate_size=c.n_inner or 4 * c.n_embd,
                            max_position_embeddings=c.block_size, hidden_act="gelu",
                            pad_token_id=c.pad_id, attn_implementation="sdpa"),
                   add_pooling_layer=False).eval()
    tok = load_tokenizer(ckpt)
    ids = special_ids(tok)
    # distinct sentences: embed() encodes a repeated line once, which would flatter its rate
    lines = list(dict.fromkeys(p.source for p in D.load("eng-fra")))[:2000 if quick else 8000]
    embed(ours, tok, lines[:256], batch_size=128)  # warm-up
    with Timer() as t:
        embed(ours, tok, lines, batch_size=128)
    end_to_end = len(lines) / t.seconds
    enc = sorted((encode_text(tok, s, ids, c.block_size, c.lowercase) for s in lines), key=len)
    batches = []
    for s in range(0, len(enc), 128):
        rows = enc[s:s + 128]
        x = torch.full((len(rows), max(map(len, rows))), c.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            x[i, :len(r)] = torch.tensor(r)
        batches.append(x)

    @torch.no_grad()
    def run_ours():
        for x in batches:
            pool(ours.bert(x), x, c.pad_id)

    @torch.no_grad()
    def run_hf():
        for x in batches:
            mask = x != c.pad_id
            pool(hf(input_ids=x, attention_mask=mask.long()).last_hidden_state, x, c.pad_id)

    seconds = {"ours": 0.0, "hf": 0.0}
    run_ours(), run_hf()  # warm-up
    for _ in range(3):
        for name, fn in (("ours", run_ours), ("hf", run_hf)):
            t0 = time.perf_counter()
            fn()
            seconds[name] += time.perf_counter() - t0
    rate = {k: 3 * len(lines) / v for k, v in seconds.items()}
    shape = f"{c.n_layer} x {c.n_embd}, {c.n_head} heads"
    rows = [result("bert-owndata", f"embed forward + mean pooling, {shape}, batches of 128 "
                   f"length-sorted eng-fra sentences", "sentences/s", rate["ours"], rate["hf"],
                   "transformers BertModel (same shape, same batches)", better="higher")]
    return rows, {"embed_end_to_end_sentences_per_s": end_to_end}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="a BERT checkpoint (default: benchmarks/bert.py's "
                   "pretraining, cached in --work)")
    p.add_argument("--pretrain-min", type=float, default=15.0, help="its budget, minutes")
    p.add_argument("--work", default="/tmp/nanonlp-owndata-bench", help="folder (reused)")
    p.add_argument("--ft-steps", type=int, default=1000, help="classification fine-tuning steps")
    p.add_argument("--cl-steps", type=int, default=1500, help="contrastive training steps")
    phase_flag(p, PHASES)
    args = p.parse_args()
    data_dir()
    torch.set_num_threads(2)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pre: dict = {}

    def model() -> str:  # pretrained on first use: a rerun of kept phases trains nothing
        if args.checkpoint is not None:
            return args.checkpoint
        if not pre:
            from bert import pretrain

            pre.update(pretrain(work, 0.5 if args.quick else args.pretrain_min, args.quick,
                                "tiny"))
        return pre["checkpoint"]

    steps = 30 if args.quick else args.ft_steps
    phases = {"classification": lambda: classification(model(), work, steps, args.quick),
              "retrieval": lambda: retrieval(model(), work, 30 if args.quick else args.cl_steps,
                                             args.quick),
              "throughput": lambda: throughput(model(), args.quick)}
    rows, by_phase = run_phases(phases, work, args.phase, args.record)
    notes = {k: v for n in by_phase.values() for k, v in n.items()}
    (work / "notes.json").write_text(json.dumps(notes, indent=1, default=str))
    if args.record:
        if args.checkpoint is None and not (work / "pretrain" / "result.json").exists():
            sys.exit(f"--record: {work} keeps no pretraining to describe; run the phases "
                     "first, without --record")
        ckpt = model()  # without --checkpoint: the kept pretraining, read back for its figures
        record("bert-owndata", rows, describe(pre or None, ckpt, notes, args))


def describe(pre: dict | None, ckpt: str, notes: dict, args) -> str:
    """The section's text: what was trained, on what, and the figures behind the table."""
    if pre is not None:
        what = (f"The BERT: benchmarks/bert.py's tiny recipe (uncased, pre-norm, 40% masking) "
                f"pretrained {pre['minutes']:g} min on the CPU ({pre['steps']:,} steps; val "
                f"masked-token accuracy {100 * pre['mlm_val']['accuracy']:.1f}%).")
    else:
        what = f"The BERT: {ckpt}."
    s = notes["scores"]
    same = all(notes[f"{t} file"]["accuracy"] == notes[f"{t} named"]["accuracy"]
               for t in ("sentence_polarity", "sst2"))
    return "\n".join([
        what,
        f"(a) Fine-tuning: {args.ft_steps} steps of 32, lr 1e-3, 10% warmup, cosine, dropout "
        "0.1, [CLS] pooling; the file arm and the named arm read the same rows and give "
        f"{'the same accuracy to the last digit' if same else 'DIFFERENT accuracies'}: "
        + "; ".join(
            f"{k}: {100 * v['accuracy']:.2f}% ({v['seconds']} s)" for k, v in notes.items()
            if isinstance(v, dict) and "accuracy" in v) + ".",
        f"(b) SimCSE: {args.cl_steps} steps of 32 anchor/positive pairs (in-batch negatives, "
        f"temperature 0.05, mean pooling, lr 1e-3), {notes['pairs']['train']:,} training "
        f"pairs from the training groups. MRR / recall@1 / recall@10: " + "; ".join(
            f"{k} {v['mrr']:.4f} / {v['recall@1']:.4f} / {v['recall@10']:.4f}"
            for k, v in s.items()) + ".",
        f"(c) embed() end to end (BPE encoding, batching, forward, pooling): "
        f"{notes['embed_end_to_end_sentences_per_s']:,.0f} sentences/s.",
    ])


if __name__ == "__main__":
    main()
