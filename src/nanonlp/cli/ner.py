"""``nanonlp ner convert|train|evaluate|tag``: spaCy named-entity recognition."""

from __future__ import annotations

import argparse
import warnings

from nanonlp.cli.common import Command, input_lines, say, warn
from nanonlp.cliargs import config_from_args, positional_config_args
from nanonlp.ner.convert import ConvertConfig, convert
from nanonlp.ner.evaluate import EvaluateConfig, evaluate_to_files, load_pipeline
from nanonlp.ner.tag import TagConfig, format_entities, tag
from nanonlp.ner.train import NERTrainConfig, fit

_ner_convert_args = positional_config_args(
    ConvertConfig,
    input="column file, .jsonl, .spacy, or conll2003:train|dev|test",
    output="output .spacy DocBin or .conll columns")


def _ner_convert(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, ConvertConfig, input=args.input, output=args.output)
    report = convert(cfg)
    for line in report.adjusted:
        warn(line)
    ents = ", ".join(f"{k} {v:,}" for k, v in sorted(report.entities.items())) or "none"
    say(f"{cfg.output}: {report.docs:,} docs, {report.sentences:,} sentences, "
        f"{report.tokens:,} tokens; entities: {ents}"
        + (f"; {report.empty} empty skipped" if report.empty else "")
        + (f"; {len(report.adjusted)} spans snapped to tokens" if report.adjusted else ""))


_ner_train_args = positional_config_args(
    NERTrainConfig,
    train="training data (.spacy, see `nanonlp ner convert`)",
    dev="development data (.spacy) for evaluation and early stopping")


def _ner_train(args: argparse.Namespace) -> None:
    if getattr(args, "max_minutes", None) is not None:
        warn("--max_minutes is deprecated and will go: use --budget_min (the same flag as in "
             "every other trainer)")
    with warnings.catch_warnings():  # said once above, on the command line's terms
        warnings.simplefilter("ignore", DeprecationWarning)
        cfg = config_from_args(args, NERTrainConfig, train=args.train, dev=args.dev)
    say(fit(cfg).summary())


_ner_evaluate_args = positional_config_args(
    EvaluateConfig,
    model="pipeline folder, or a training folder (uses model-best)",
    data="gold data: .spacy, conll2003:SPLIT, .jsonl or a column file")


def _ner_evaluate(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, EvaluateConfig, model=args.model, data=args.data)
    report = evaluate_to_files(cfg)
    say(report.table())
    say("")
    say(report.confusion_table())
    say("")
    say(f"seqeval F1 {100 * report.seqeval['f1']:.2f} "
        f"({'agrees with' if report.seqeval_agrees else 'DISAGREES with'} spaCy's Scorer); "
        f"{report.words_per_second:,.0f} words/s")


_ner_tag_args = positional_config_args(
    TagConfig, model="pipeline folder, or a training folder (uses model-best)")


def _ner_tag(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, TagConfig, model=args.model)
    nlp = load_pipeline(cfg.model)
    lines = input_lines(cfg.input)
    for text, ents in tag(nlp, lines, cfg.batch_size):
        # text format: one "start end label entity" line per entity, a blank line per text
        say(format_entities(text, ents, cfg.format))


COMMANDS: list[Command] = [
    Command(("ner", "convert"), "convert CoNLL/column/JSONL files to spaCy DocBin, and back",
            _ner_convert, _ner_convert_args,
            "Reads CoNLL-2003 (conll2003:SPLIT), column files (BIO, IOB1 or BILOU tags), JSONL "
            "with character offsets, or a DocBin; writes a .spacy DocBin or .conll columns. "
            "Malformed lines and misaligned spans are errors naming file:line."),
    Command(("ner", "train"), "train a spaCy NER pipeline (presets, budget, early stopping)",
            _ner_train, _ner_train_args,
            "Trains through spaCy's own training loop from a preset built on `spacy init "
            "config`, with optional static vectors from a word2vec text file. Writes "
            "OUT/model-best and OUT/model-last (ordinary spaCy pipelines) and OUT/config.cfg."),
    Command(("ner", "evaluate"), "per-type P/R/F1 (spaCy Scorer, checked by seqeval), confusion",
            _ner_evaluate, _ner_evaluate_args),
    Command(("ner", "tag"), "tag text (stdin or a file, one text per line) with a NER pipeline",
            _ner_tag, _ner_tag_args),
]
