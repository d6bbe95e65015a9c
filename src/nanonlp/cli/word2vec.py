"""``nanonlp word2vec train|eval|similar|plot``: word vectors."""

from __future__ import annotations

import argparse
import json

from nanonlp.cli.common import Command, at_least, say
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.errors import ConfigError
from nanonlp.fileio import atomic_write
from nanonlp.word2vec import Corpus, Word2VecConfig, WordVectors, evaluate, make_trainer
from nanonlp.word2vec.plot import plot_words


def _w2v_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="UTF-8 text files, one sentence per line "
                   "(.gz/.bz2/.xz or archive.zip::member read in place)")
    p.add_argument("--data", action="append", default=[], metavar="NAME[/SPLIT]",
                   help="a named data set to train on (repeatable), e.g. text8/head")
    p.add_argument("--out", default="runs/word2vec/vectors.bin",
                   help="where to save the vectors: .bin, .txt (word2vec C formats) or .npz")
    p.add_argument("--tokenizer", choices=["words", "split"], default="words",
                   help="'words': lower-cased runs of letters/digits; 'split': whitespace")
    add_config_args(p, Word2VecConfig)


def _w2v_train(args: argparse.Namespace) -> None:
    if not args.files and not args.data:
        raise ConfigError("nothing to train on: give text files or --data NAME (e.g. "
                          "--data lee_corpus)")
    config = config_from_args(args, Word2VecConfig)
    corpus = Corpus.from_datasets(args.data, tokenizer=args.tokenizer)
    if args.files:
        corpus.sources += Corpus.from_files(args.files).sources
    say(f"training {config.model} ({config.backend}) on {corpus.description}")
    trainer = make_trainer(config)
    for record in trainer.train(corpus):
        say(record)
    wv = trainer.vectors()
    path = wv.save(args.out)
    say(f"saved {len(wv):,} vectors of size {wv.dim} to {path}")


def _w2v_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("vectors", help="vectors file (.bin, .txt, .npz)")
    p.add_argument("--analogies", default="words", choices=["words", "phrases", "none"],
                   help="Google analogy questions: single words, phrases, or none")
    p.add_argument("--similarity", default="wordsim353,simlex999,men,rw",
                   help="comma-separated word_similarity splits (see `nanonlp data info "
                        "word_similarity`); sets not available here are listed, not fatal")
    p.add_argument("--restrict_vocab", type=at_least(1), default=300_000,
                   help="only the most frequent N words answer analogies (gensim's default)")
    p.add_argument("--method", choices=["add", "mul"], default="add",
                   help="analogy rule: 3CosAdd or 3CosMul")
    p.add_argument("--json", metavar="PATH", help="also write the report to this JSON file")


def _w2v_eval(args: argparse.Namespace) -> None:
    wv = WordVectors.load(args.vectors)
    report = evaluate(wv, None if args.analogies == "none" else args.analogies,
                      [s for s in args.similarity.split(",") if s], args.restrict_vocab,
                      args.method)
    if args.json:
        with atomic_write(args.json) as f:
            json.dump(report, f, indent=1)
    if report["analogy"]:  # per-section detail only in --json: keep the screen short
        report["analogy"] = {k: v for k, v in report["analogy"].items() if k != "sections"}
    say(json.dumps(report, indent=1))


def _w2v_similar_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="+", metavar="WORD", help="word(s) to find neighbours of")
    p.add_argument("--vectors", required=True, help="vectors file (.bin, .txt, .npz)")
    p.add_argument("--minus", nargs="*", default=[], metavar="WORD",
                   help="words to subtract (analogy: king --minus man ... woman)")
    p.add_argument("--topn", type=at_least(1), default=10, help="how many neighbours to print")
    p.add_argument("--method", choices=["add", "mul"], default="add",
                   help="3CosAdd (cosine with the mean) or 3CosMul")


def _w2v_similar(args: argparse.Namespace) -> None:
    wv = WordVectors.load(args.vectors)
    if args.method == "mul":
        result = wv.most_similar_cosmul(args.words, args.minus, topn=args.topn)
    else:
        result = wv.most_similar(args.words, args.minus, topn=args.topn)
    for word, score in result:
        say(f"{score:.4f}\t{word}")


def _w2v_plot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("vectors", help="vectors file (.bin, .txt, .npz)")
    p.add_argument("--words", nargs="+", required=True, metavar="WORD", help="words to draw")
    p.add_argument("--out", default="words.png", help="PNG to write")
    p.add_argument("--method", choices=["pca", "tsne"], default="pca",
                   help="2-D projection (t-SNE needs scikit-learn)")
    p.add_argument("--seed", type=int, default=0, help="t-SNE's seed")


def _w2v_plot(args: argparse.Namespace) -> None:
    wv = WordVectors.load(args.vectors)
    plot_words(wv, args.words, args.out, args.method, args.seed)
    say(f"wrote {args.out}")


COMMANDS: list[Command] = [
    Command(("word2vec", "train"), "train word vectors (numpy/numba or gensim) on data sets "
            "or files", _w2v_train, _w2v_train_args,
            "Skip-gram or CBOW with negative sampling. Prints progress (loss, words/s) and "
            "saves the vectors in the word2vec C format (.bin/.txt) or .npz."),
    Command(("word2vec", "eval"), "analogy accuracy and similarity Spearman, as one JSON report",
            _w2v_eval, _w2v_eval_args),
    Command(("word2vec", "similar"), "nearest neighbours of a word, or an analogy",
            _w2v_similar, _w2v_similar_args),
    Command(("word2vec", "plot"), "2-D PCA or t-SNE picture of chosen words (PNG)", _w2v_plot,
            _w2v_plot_args),
]
