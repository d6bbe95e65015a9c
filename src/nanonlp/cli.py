"""The ``nanonlp`` command: one table of ``nanonlp <group> <verb>`` commands.

Each command is a thin wrapper over a library function: it parses flags (named after config
dataclass fields, see :mod:`nanonlp.cliargs`), calls the library, prints. No logic lives here
that the Python API lacks. This is the only module that exits: a :class:`NanonlpError` (bad
input, missing data) becomes one line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from nanonlp import __version__
from nanonlp.errors import NanonlpError


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    path: tuple[str, ...]  # ("data", "list") is `nanonlp data list`; ("tour",) is top level
    help: str  # one line, shown in the group's --help
    run: Callable[[argparse.Namespace], int | None]
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    description: str = ""  # longer text for the command's own --help


def say(*parts: object) -> None:
    """Print to stdout (the commands' output channel)."""
    print(*parts, flush=True)


#: group description of the config flags of commands that take a --preset
_PRESET_NOTE = "--preset sets some of these (its recipe wins over the defaults shown here); " \
               "a flag given here wins over both"


# ---------------------------------------------------------------------------------------------
# nanonlp data ...


def _data_list(args: argparse.Namespace) -> None:
    from nanonlp import datasets as D

    rows = []
    for ds in D.DATASETS:
        where = _where(ds)
        splits = ",".join(ds.splits) if len(ds.splits) <= 4 else f"{len(ds.splits)} splits"
        rows.append((ds.name, ds.record, splits, where, ds.title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    say(f"{'name':<{widths[0]}}  {'records':<{widths[1]}}  {'splits':<{widths[2]}}  "
        f"{'found in':<{widths[3]}}  title")
    for r in rows:
        say(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
            f"{r[3]:<{widths[3]}}  {r[4]}")


def _where(ds) -> str:
    """Where the default split's files resolve from: NANONLP_DATA, cache, package, or missing."""
    from nanonlp.datasets.store import candidates

    found = set()
    for fname in ds.split_files[ds.default_split]:
        for how, p in candidates(ds, ds.file(fname)):
            if p is not None and p.is_file():
                found.add(how)
                break
        else:
            return "missing"
    return "+".join(sorted(found))


def _data_info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="data set name (see `nanonlp data list`)")
    p.add_argument("--verify", action="store_true", help="hash every file found against its sha256")
    p.add_argument("--head", type=int, default=0, metavar="N",
                   help="also print the first N records of the default split")


def _data_info(args: argparse.Namespace) -> None:
    from itertools import islice

    from nanonlp import datasets as D
    from nanonlp.datasets.store import candidates, sha256_file

    ds = D.get_dataset(args.name)
    say(f"{ds.name}: {ds.title}")
    if ds.aliases:
        say(f"  aliases: {', '.join(ds.aliases)}")
    say(f"  records: {D.RECORD_KINDS[ds.record]}")
    say("  splits:  " + ", ".join(
        f"{s} ({ds.counts[s]:,})" if s in ds.counts else s for s in ds.splits))
    say(f"  source:  {ds.source}")
    say(f"  licence: {ds.licence}")
    if ds.notes:
        say(f"  notes:   {ds.notes}")
    say("  files:")
    for spec in ds.files:
        found = next(((h, p) for h, p in candidates(ds, spec) if p is not None and p.is_file()),
                     None)
        size = f"{spec.size:,} B" if spec.size else "size unknown"
        digest = spec.sha256[:12] + "..." if spec.sha256 else "unknown"
        say(f"    {spec.name}  ({size}, sha256 {digest})")
        say(f"      found:  {f'{found[0]}: {found[1]}' if found else 'no'}")
        for url in spec.urls:
            say(f"      url:    {url}")
        if args.verify and found:
            digest = sha256_file(found[1])
            ok = "ok" if spec.sha256 in (None, digest) else f"MISMATCH (got {digest})"
            say(f"      sha256: {ok}")
    if args.head:
        say(f"  first {args.head} records of {ds.default_split!r}:")
        for rec in islice(D.load(ds.name), args.head):
            say(f"    {rec!r}"[:200])


def _data_path_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="data set name")
    p.add_argument("--split", help="only the files this split reads")


def _data_path(args: argparse.Namespace) -> None:
    from nanonlp import datasets as D

    for path in D.locate(args.name, args.split).values():
        say(path)


def _data_download(args: argparse.Namespace) -> None:
    from nanonlp import datasets as D

    for fname, path in D.download(args.name, split=args.split).items():
        say(f"{fname}\t{path}")


# ---------------------------------------------------------------------------------------------
# nanonlp tour


def _tour_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.tour import TourConfig

    add_config_args(p, TourConfig)


def _tour(args: argparse.Namespace) -> None:
    from nanonlp.cliargs import config_from_args
    from nanonlp.tour import TourConfig, run_tour

    report = run_tour(config_from_args(args, TourConfig))
    say(report)


# ---------------------------------------------------------------------------------------------
# nanonlp bpe ...           (the BPE tokenizer: train, encode, decode, inspect)


def _bpe_sources(sources: list[str]):
    """Split CLI sources into files and data set texts (a name that is not a file)."""
    import os
    from pathlib import Path

    from nanonlp import datasets as D
    from nanonlp.errors import DataError

    files = [s for s in sources if Path(s.split("::")[0]).exists()]
    names = [s for s in sources if s not in files]
    for name in names:
        try:
            D.get_dataset(name)  # unknown name: a one-line error listing the data sets
        except DataError:
            # data set names have no folders or suffixes: this was meant as a file
            if "/" in name or os.sep in name or "::" in name or Path(name).suffix:
                raise DataError(f"{name}: no such file") from None
            raise
    texts = (line + "\n" for name in names for line in D.text(name))
    return files, texts


def _bpe_train_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.bpe import BPEConfig
    from nanonlp.cliargs import add_config_args

    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="text files (.gz, archive.zip::member) or data set names")
    p.add_argument("--out", default="runs/bpe", help="output folder (default: runs/bpe)")
    p.add_argument("--name", default="tokenizer", help="file stem: NAME.model, NAME.vocab, ...")
    p.add_argument("--vocab-size", dest="vocab_size", type=int, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    add_config_args(p, BPEConfig)


def _bpe_train(args: argparse.Namespace) -> None:
    from pathlib import Path

    from tqdm.auto import tqdm

    from nanonlp.bpe import BPEConfig, Tokenizer
    from nanonlp.bpe.export import save_hf, save_tiktoken
    from nanonlp.cliargs import config_from_args

    config = config_from_args(args, BPEConfig)
    files, texts = _bpe_sources(args.sources)
    bar = tqdm(total=config.num_merges, unit="merge", desc="merging", disable=None)
    tok = Tokenizer.train(texts, config, files=files, progress=lambda step: bar.update(1))
    bar.close()
    out = Path(args.out)
    model = tok.save(out / args.name)
    hf = save_hf(tok, out / "tokenizer.json")
    tt = save_tiktoken(tok, out / f"{args.name}.tiktoken")
    say(f"{tok!r}: {len(tok.merges):,} merges")
    for path in (model, model.with_suffix(".vocab"), hf, tt):
        say(f"wrote {path}")


def _bpe_io_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("model", help="a .model file written by `nanonlp bpe train`")
    p.add_argument("--input", "-i", help=f"{what} to read (default: stdin)")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")


def _bpe_encode_args(p: argparse.ArgumentParser) -> None:
    _bpe_io_args(p, "UTF-8 text file")
    p.add_argument("--special", choices=["allow", "text", "error"], default="allow",
                   help="special tokens in the text: encode as special ids (allow), as plain "
                        "text, or fail (error, tiktoken's default)")
    p.add_argument("--workers", type=int, default=1, help="processes (0: all cores)")
    p.description = ("Encodes text to token ids: one line of space-separated ids, or, when "
                     "--output ends in .npy (or .bin: raw uint16/uint32), a memory-mappable "
                     "array for the GPT and BERT trainers.")


def _bpe_stdin_text() -> str:
    """All of stdin as strict UTF-8 (a bad byte is a one-line error naming the line)."""
    from nanonlp.bpe.stream import decode_utf8

    buffer = getattr(sys.stdin, "buffer", None)  # absent when stdin was replaced by a StringIO
    return decode_utf8(buffer.read(), "<stdin>") if buffer is not None else sys.stdin.read()


def _bpe_encode(args: argparse.Namespace) -> None:
    from nanonlp.bpe import Tokenizer
    from nanonlp.errors import ConfigError, DataError

    if args.workers < 0:
        raise ConfigError(f"--workers must be >= 0 (0: all cores), got {args.workers}")
    tok = Tokenizer.load(args.model)
    kwargs = {"allow": {"allowed_special": "all"},
              "text": {"allowed_special": (), "disallowed_special": ()},
              "error": {"allowed_special": (), "disallowed_special": "all"}}[args.special]
    try:
        _bpe_encode_with(args, tok, kwargs)
    except DataError as e:  # the library's hint names Python arguments: say the CLI's
        msg = str(e)
        if "; pass allowed_special=" in msg:
            msg = msg.split("; pass ")[0] + ("; use --special allow to encode it as a special "
                                             "token, or --special text for ordinary text")
            where = f"{args.input}: " if args.input and not msg.startswith(args.input) else ""
            raise DataError(where + msg) from None
        raise


def _bpe_encode_with(args: argparse.Namespace, tok, kwargs: dict) -> None:
    from nanonlp.bpe.tokenfile import write_tokens
    from nanonlp.fileio import atomic_write, read_text

    if args.output and args.output.endswith((".npy", ".bin")):  # the suffix picks the format
        if args.input:
            n = tok.encode_file(args.input, args.output, workers=args.workers, **kwargs)
        else:
            n = write_tokens(args.output, [tok.encode(_bpe_stdin_text(), **kwargs)],
                             tok.vocab_size)
        say(f"wrote {n:,} tokens to {args.output}")
        return
    text = read_text(args.input) if args.input else _bpe_stdin_text()
    line = " ".join(map(str, tok.encode(text, **kwargs)))
    if args.output:
        with atomic_write(args.output) as f:
            f.write(line + "\n")
    else:
        say(line)


def _bpe_decode_args(p: argparse.ArgumentParser) -> None:
    _bpe_io_args(p, "ids (whitespace-separated text, or a .npy / .bin token file)")
    p.add_argument("--errors", choices=["replace", "strict"], default="replace",
                   help="ids that do not form valid UTF-8: U+FFFD (replace) or fail (strict)")


def _bpe_decode(args: argparse.Namespace) -> None:
    from nanonlp.bpe import Tokenizer, read_tokens
    from nanonlp.errors import DataError
    from nanonlp.fileio import atomic_write, read_text

    tok = Tokenizer.load(args.model)
    if args.input and args.input.endswith((".npy", ".bin")):  # the suffix picks the format
        ids = read_tokens(args.input, tok.vocab_size).tolist()
    else:  # a text file, or stdin: whitespace-separated ids
        raw = read_text(args.input) if args.input else _bpe_stdin_text()
        try:
            ids = [int(x) for x in raw.split()]
        except ValueError as e:
            raise DataError(f"{args.input or '<stdin>'}: expected token ids, {e}") from None
    text = tok.decode(ids, errors=args.errors)
    if args.output:
        with atomic_write(args.output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _bpe_inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a .model file written by `nanonlp bpe train`")
    p.add_argument("--text", help="a text file or data set name to measure compression on")
    p.add_argument("--top", type=int, default=10, help="how many merges / longest tokens to show")


def _bpe_inspect(args: argparse.Namespace) -> None:
    from nanonlp.bpe import Tokenizer
    from nanonlp.bpe.patterns import pattern_name
    from nanonlp.bpe.stream import iter_pieces
    from nanonlp.bpe.tokenizer import render_token

    tok = Tokenizer.load(args.model)
    say(f"vocab size {tok.vocab_size:,}: 256 bytes + {len(tok.merges):,} merges + "
        f"{len(tok.special_tokens)} special {list(tok.special_tokens)}")
    say(f"pattern {pattern_name(tok.pattern)}: {tok.pattern!r}")
    if args.text:
        files, texts = _bpe_sources([args.text])
        pieces = [p for f in files for p in iter_pieces(f)] if files else texts
        n_bytes = n_tokens = 0
        for piece in pieces:
            n_bytes += len(piece.encode("utf-8"))
            n_tokens += len(tok.encode(piece, allowed_special="all"))
        say(f"compression on {args.text}: {n_bytes:,} bytes -> {n_tokens:,} tokens = "
            f"{n_bytes / max(n_tokens, 1):.3f} bytes/token")
    say(f"first {args.top} merges:")
    for (a, b), i in list(tok.ranks.items())[: args.top]:
        say(f"  {i:>6}  [{render_token(tok.vocab[a])}] + [{render_token(tok.vocab[b])}]"
            f" -> [{render_token(tok.vocab[i])}]")
    say(f"longest {args.top} tokens:")
    for i in sorted(range(256, len(tok.vocab)), key=lambda i: (-len(tok.vocab[i]), i))[:args.top]:
        say(f"  {i:>6}  {len(tok.vocab[i]):>3} bytes  [{render_token(tok.vocab[i])}]")


# ---------------------------------------------------------------------------------------------
# nanonlp word2vec ...      (word vectors: train, eval, similar, plot)


def _w2v_train_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.word2vec import Word2VecConfig

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
    from nanonlp.cliargs import config_from_args
    from nanonlp.errors import ConfigError
    from nanonlp.word2vec import Corpus, Word2VecConfig, make_trainer

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
    p.add_argument("--restrict_vocab", type=int, default=300_000,
                   help="only the most frequent N words answer analogies (gensim's default)")
    p.add_argument("--method", choices=["add", "mul"], default="add",
                   help="analogy rule: 3CosAdd or 3CosMul")
    p.add_argument("--json", metavar="PATH", help="also write the report to this JSON file")


def _w2v_eval(args: argparse.Namespace) -> None:
    import json

    from nanonlp.fileio import atomic_write
    from nanonlp.word2vec import WordVectors, evaluate

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
    p.add_argument("--topn", type=int, default=10, help="how many neighbours to print")
    p.add_argument("--method", choices=["add", "mul"], default="add",
                   help="3CosAdd (cosine with the mean) or 3CosMul")


def _w2v_similar(args: argparse.Namespace) -> None:
    from nanonlp.word2vec import WordVectors

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
    from nanonlp.word2vec import WordVectors
    from nanonlp.word2vec.plot import plot_words

    wv = WordVectors.load(args.vectors)
    plot_words(wv, args.words, args.out, args.method, args.seed)
    say(f"wrote {args.out}")


# ---------------------------------------------------------------------------------------------
# nanonlp ner ...           (spaCy NER: convert, train, evaluate, tag)


def _ner_convert_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.ner.convert import ConvertConfig

    p.add_argument("input", help="column file, .jsonl, .spacy, or conll2003:train|dev|test")
    p.add_argument("output", help="output .spacy DocBin or .conll columns")
    add_config_args(p, ConvertConfig, skip=("input", "output"))


def _ner_convert(args: argparse.Namespace) -> None:
    from nanonlp.cliargs import config_from_args
    from nanonlp.ner.convert import ConvertConfig, convert

    cfg = config_from_args(args, ConvertConfig, input=args.input, output=args.output)
    report = convert(cfg)
    for line in report.adjusted:
        print(f"nanonlp: warning: {line}", file=sys.stderr)
    ents = ", ".join(f"{k} {v:,}" for k, v in sorted(report.entities.items())) or "none"
    say(f"{cfg.output}: {report.docs:,} docs, {report.sentences:,} sentences, "
        f"{report.tokens:,} tokens; entities: {ents}"
        + (f"; {report.empty} empty skipped" if report.empty else "")
        + (f"; {len(report.adjusted)} spans snapped to tokens" if report.adjusted else ""))


def _ner_train_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.ner.train import TrainConfig

    p.add_argument("train", help="training data (.spacy, see `nanonlp ner convert`)")
    p.add_argument("dev", help="development data (.spacy) for evaluation and early stopping")
    add_config_args(p, TrainConfig, skip=("train", "dev"))


def _ner_train(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm

    from nanonlp.cliargs import config_from_args
    from nanonlp.ner.train import TrainConfig, train

    cfg = config_from_args(args, TrainConfig, train=args.train, dev=args.dev)
    best, last = None, None
    with tqdm(total=cfg.max_steps, unit="step", desc="ner train") as bar:
        for step in train(cfg):
            bar.update(step.step + 1 - bar.n)
            if step.dev_f1 is not None:
                best = step.dev_f1 if best is None else max(best, step.dev_f1)
                bar.set_postfix(loss=f"{step.loss:.1f}", dev_f1=f"{100 * step.dev_f1:.2f}",
                                best=f"{100 * best:.2f}")
            last = step
    if last is not None:
        say(f"stopped: {last.stopped} (step {last.step}, epoch {last.epoch}, "
            f"{last.seconds / 60:.1f} min); best dev F1 {100 * (best or 0):.2f}")
    say(f"pipeline: {cfg.out}/model-best (spacy.load opens it)")


def _ner_evaluate_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.ner.evaluate import EvaluateConfig

    p.add_argument("model", help="pipeline folder, or a training folder (uses model-best)")
    p.add_argument("data", help="gold data: .spacy, conll2003:SPLIT, .jsonl or a column file")
    add_config_args(p, EvaluateConfig, skip=("model", "data"))


def _ner_evaluate(args: argparse.Namespace) -> None:
    from nanonlp.cliargs import config_from_args
    from nanonlp.ner.evaluate import EvaluateConfig, evaluate

    cfg = config_from_args(args, EvaluateConfig, model=args.model, data=args.data)
    report = evaluate(cfg)
    say(report.table())
    say("")
    say(report.confusion_table())
    say("")
    say(f"seqeval F1 {100 * report.seqeval['f1']:.2f} "
        f"({'agrees with' if report.seqeval_agrees else 'DISAGREES with'} spaCy's Scorer); "
        f"{report.words_per_second:,.0f} words/s")


def _ner_tag_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.ner.tag import TagConfig

    p.add_argument("model", help="pipeline folder, or a training folder (uses model-best)")
    add_config_args(p, TagConfig, skip=("model",))


def _ner_tag(args: argparse.Namespace) -> None:
    from nanonlp.cliargs import config_from_args
    from nanonlp.fileio import iter_lines
    from nanonlp.ner.evaluate import load_pipeline
    from nanonlp.ner.tag import TagConfig, format_entities, tag

    cfg = config_from_args(args, TagConfig, model=args.model)
    nlp = load_pipeline(cfg.model)
    lines = (line.rstrip("\n") for line in sys.stdin) if cfg.input == "-" else \
        (line for _, line in iter_lines(cfg.input))
    for text, ents in tag(nlp, lines, cfg.batch_size):
        # text format: one "start end label entity" line per entity, a blank line per text
        say(format_entities(text, ents, cfg.format))


# ---------------------------------------------------------------------------------------------
# nanonlp gpt ...           (decoder-only transformer: prepare, train, sample, evaluate, export)


def _gpt_prepare_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.gpt.data import PrepareConfig

    add_config_args(p, PrepareConfig)


def _gpt_prepare(args: argparse.Namespace) -> None:
    from nanonlp.cliargs import config_from_args
    from nanonlp.gpt.data import PrepareConfig, prepare

    cfg = config_from_args(args, PrepareConfig)
    meta = prepare(cfg)
    say(f"{meta['source']}: {meta['characters']:,} characters -> train {meta['tokens']['train']:,}"
        f" / val {meta['tokens']['val']:,} tokens ({meta['tokenizer']} vocabulary of "
        f"{meta['vocab_size']:,}, {meta['dtype']}) in {cfg.out}")


def _prefixed(args: argparse.Namespace, prefix: str) -> dict:
    """The flags the user gave under ``--prefix.field`` (defaults come from the preset)."""
    return {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith(prefix + ".")}


def _gpt_train_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.gpt.config import PRESETS, GPTConfig
    from nanonlp.training import TrainConfig

    p.add_argument("data", help="folder written by `nanonlp gpt prepare`")
    p.add_argument("--preset", default="nanogpt-cpu",
                   help=f"model + training recipe: {', '.join(PRESETS)} (default: nanogpt-cpu); "
                        "--model.* and --train.* flags override its fields")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder "
                   "(e.g. OUT/last); --train.* flags may extend it, e.g. max_steps")
    add_config_args(p, GPTConfig, prefix="model", skip=("vocab_size",), note=_PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", note=_PRESET_NOTE)


def _gpt_train(args: argparse.Namespace) -> None:
    import dataclasses
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    from nanonlp.fileio import atomic_write
    from nanonlp.gpt.train import make_trainer
    from nanonlp.training.device import pick_device
    from nanonlp.training.distributed import setup, teardown
    from nanonlp.training.metrics import MetricsLog, plot_losses

    train_over = _prefixed(args, "train")
    dist = setup(pick_device(train_over.get("device", "auto")).type)
    try:
        trainer = make_trainer(args.data, args.preset, _prefixed(args, "model"), train_over,
                               resume=args.resume, dist=dist)
        cfg, out = trainer.config, Path(trainer.config.out)
        main_rank = dist.is_main
        log = MetricsLog(out / "metrics.jsonl", resume_step=trainer.step)
        if main_rank:
            with atomic_write(out / "train_config.json") as f:
                json.dump({"preset": args.preset, "data": args.data,
                           "model": trainer.model_config,
                           "train": dataclasses.asdict(cfg)}, f, indent=1)
            say(f"gpt: {trainer.model.num_params():,} parameters on {trainer.device}"
                f"{f' x {dist.world_size} processes' if dist.enabled else ''}; "
                f"step {trainer.step} -> {cfg.max_steps}; writing {out}")
        bar = tqdm(total=cfg.max_steps, initial=trainer.step, unit="step", desc="gpt train",
                   disable=not main_rank)
        try:
            for rec in trainer.run():
                log.add(rec.to_json())
                bar.update(1)
                post = {"loss": f"{rec.loss:.3f}", "tok/s": f"{rec.tokens_per_s:,.0f}",
                        "lr": f"{rec.lr:.1e}"}
                if rec.eval:
                    post["val"] = f"{rec.eval['val']:.3f}"
                    if main_rank:
                        log.flush()
                        plot_losses(log.records, out / "loss.png", f"GPT ({args.preset})")
                        bar.write(f"step {rec.step}: train {rec.eval['train']:.4f}, val "
                                  f"{rec.eval['val']:.4f}{' (best)' if rec.best else ''}")
                bar.set_postfix(post)
        except KeyboardInterrupt:
            bar.close()
            if main_rank:
                log.flush()
                print(f"nanonlp: interrupted at step {trainer.step}; saved {out / 'last'} "
                      f"(resume with --resume {out / 'last'})", file=sys.stderr)
            raise
        bar.close()
        if main_rank:
            log.flush()
            say(f"best val loss {trainer.best_val:.4f}; checkpoints {out / 'best'}, "
                f"{out / 'last'}; metrics {out / 'metrics.jsonl'}, curve {out / 'loss.png'}")
    finally:
        teardown()


def _gpt_sample_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.gpt.sample import SampleConfig

    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    add_config_args(p, SampleConfig)


def _gpt_sample(args: argparse.Namespace) -> None:
    from pathlib import Path

    import torch

    from nanonlp.cliargs import config_from_args
    from nanonlp.errors import DataError
    from nanonlp.gpt.data import TOKENIZER_FILE, load_tokenizer
    from nanonlp.gpt.model import load_gpt
    from nanonlp.gpt.sample import SampleConfig, generate, stop_ids_for, stream_text
    from nanonlp.training.device import pick_device

    cfg = config_from_args(args, SampleConfig)
    model = load_gpt(args.checkpoint, pick_device(cfg.device))
    tok_path = Path(args.checkpoint) / TOKENIZER_FILE
    if not tok_path.exists():
        raise DataError(f"{args.checkpoint}: no {TOKENIZER_FILE} beside the weights")
    tok = load_tokenizer(tok_path)
    prompt = tok.encode(cfg.prompt, allowed_special="all")
    gen = torch.Generator().manual_seed(cfg.seed)
    for k in range(cfg.num_samples):
        if k:
            sys.stdout.write("\n---------------\n")
        sys.stdout.write(cfg.prompt)
        ids = generate(model, prompt, cfg.max_new_tokens, temperature=cfg.temperature,
                       top_k=cfg.top_k, top_p=cfg.top_p, generator=gen,
                       stop_ids=stop_ids_for(tok, cfg.stop), use_cache=cfg.kv_cache)
        for piece in stream_text(tok, ids):
            sys.stdout.write(piece)
            sys.stdout.flush()
    sys.stdout.write("\n")


def _gpt_evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("data", help="folder written by `nanonlp gpt prepare`")
    p.add_argument("--split", default="val", choices=("train", "val"), help="(default: val)")
    p.add_argument("--max_windows", type=int, help="evaluate at most this many windows")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")


def _gpt_evaluate(args: argparse.Namespace) -> None:
    from nanonlp.gpt.train import evaluate

    r = evaluate(args.checkpoint, args.data, args.split, max_windows=args.max_windows,
                 device=args.device)
    say(f"{args.split}: loss {r.loss:.4f} nats/token, perplexity {r.perplexity:.3f}, "
        f"{r.bits_per_token:.4f} bits/token over {r.tokens:,} tokens ({r.windows:,} windows)")


def _gpt_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("out", help="folder for config.json, model.safetensors, tokenizer.json")


def _gpt_export(args: argparse.Namespace) -> None:
    from pathlib import Path

    from nanonlp.gpt.data import TOKENIZER_FILE, load_tokenizer
    from nanonlp.gpt.export import export_hf
    from nanonlp.gpt.model import load_gpt

    model = load_gpt(args.checkpoint)
    tok_path = Path(args.checkpoint) / TOKENIZER_FILE
    tok = load_tokenizer(tok_path) if tok_path.exists() else None
    out = export_hf(model, args.out, tok)
    say(f"{out}: transformers.GPT2LMHeadModel.from_pretrained({str(out)!r})"
        + ("" if tok else " (no tokenizer in the checkpoint: no tokenizer.json)"))


# ---------------------------------------------------------------------------------------------
# nanonlp translate ...     (GRU encoder-decoder with attention: train, evaluate, run)


def _translate_train_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.cliargs import add_config_args
    from nanonlp.seq2seq.config import PRESETS, DataConfig, Seq2SeqConfig
    from nanonlp.training import TrainConfig

    p.add_argument("--preset", default="tutorial",
                   help=f"data + model + training recipe: {', '.join(PRESETS)} (default: "
                        "tutorial); --data.*, --model.* and --train.* flags override its fields")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder "
                   "(e.g. OUT/last); --train.* flags may extend it, e.g. max_steps")
    p.add_argument("--budget_min", type=float, metavar="MIN",
                   help="train for this many minutes (max_steps is fitted to the budget)")
    p.add_argument("--bleu_sentences", type=int, default=500, metavar="N",
                   help="after training, greedy BLEU of best/ on N val sentences (0: skip)")
    add_config_args(p, DataConfig, prefix="data", note=_PRESET_NOTE)
    add_config_args(p, Seq2SeqConfig, prefix="model", skip=("src_vocab", "tgt_vocab"),
                    note=_PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": "runs/translate"},
                    note=_PRESET_NOTE)


def _translate_train(args: argparse.Namespace) -> None:
    import dataclasses
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    from nanonlp.fileio import atomic_write
    from nanonlp.seq2seq.train import configs, evaluate, make_trainer, prepare
    from nanonlp.seq2seq.translate import Translator
    from nanonlp.training import run_for
    from nanonlp.training.metrics import MetricsLog, plot_losses

    if args.budget_min is not None and args.budget_min <= 0:
        from nanonlp.errors import ConfigError

        raise ConfigError(f"budget_min must be > 0, got {args.budget_min}")
    dcfg, mover, tcfg = configs(args.preset, _prefixed(args, "data"), _prefixed(args, "model"),
                                _prefixed(args, "train"), resume=args.resume)
    prep = prepare(dcfg, tcfg.seed)
    trainer = make_trainer(prep, mover, tcfg, resume=args.resume)
    out = Path(tcfg.out)
    log = MetricsLog(out / "metrics.jsonl", resume_step=trainer.step)
    with atomic_write(out / "train_config.json") as f:
        json.dump({"preset": args.preset, "data": dataclasses.asdict(dcfg),
                   "model": trainer.model_config, "train": dataclasses.asdict(tcfg),
                   "stats": prep.stats}, f, indent=1)
    s = prep.stats
    say(f"translate: {s['pairs']['train']:,} train / {s['pairs']['val']:,} val / "
        f"{s['pairs']['test']:,} test pairs, vocabularies {s['src_vocab']:,} -> "
        f"{s['tgt_vocab']:,}; {trainer.model.num_params():,} parameters on {trainer.device}; "
        f"step {trainer.step} -> {tcfg.max_steps}; writing {out}")
    budget = None if args.budget_min is None else args.budget_min * 60
    bar = tqdm(total=tcfg.max_steps, initial=trainer.step, unit="step", desc="translate train")
    try:
        for rec in run_for(trainer, budget):
            log.add(rec.to_json())
            bar.total = trainer.config.max_steps
            bar.update(1)
            post = {"loss": f"{rec.loss:.3f}", "lr": f"{rec.lr:.1e}"}
            if rec.eval:
                post["val"] = f"{rec.eval['val']:.3f}"
                log.flush()
                plot_losses(log.records, out / "loss.png", f"seq2seq ({args.preset})")
                bar.write(f"step {rec.step}: train {rec.eval['train']:.4f}, val "
                          f"{rec.eval['val']:.4f}{' (best)' if rec.best else ''}")
            bar.set_postfix(post)
    except KeyboardInterrupt:
        bar.close()
        log.flush()
        print(f"nanonlp: interrupted at step {trainer.step}; saved {out / 'last'} "
              f"(resume with --resume {out / 'last'})", file=sys.stderr)
        raise
    bar.close()
    log.flush()
    say(f"best val loss {trainer.best_val:.4f}; checkpoints {out / 'best'}, {out / 'last'}; "
        f"metrics {out / 'metrics.jsonl'}, curves {out / 'loss.png'}")
    if args.bleu_sentences > 0:
        rep = evaluate(Translator.load(out / "best"), prep.pairs["val"], "val", beam=1,
                       max_sentences=args.bleu_sentences)
        say(f"val BLEU {rep.bleu:.2f}, chrF {rep.chrf:.1f} (greedy, {rep.sentences} sentences)")


def _translate_evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"),
                   help="held-out split of the checkpoint's data (default: test)")
    p.add_argument("--source", help="score on every pair of a TSV file or of SRC,TGT files "
                   "instead of a split")
    p.add_argument("--beam", type=int, default=5, help="beam width; 1 is greedy (default: 5)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="length normalisation exponent (GNMT); 0: raw log probability")
    p.add_argument("--max_sentences", type=int, help="score only the first N sources")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _translate_evaluate(args: argparse.Namespace) -> None:
    import dataclasses
    import json

    from nanonlp.seq2seq.train import evaluate_checkpoint

    r = evaluate_checkpoint(args.checkpoint, args.split, args.beam, args.alpha,
                            args.max_sentences, args.source)
    if args.json:
        say(json.dumps(dataclasses.asdict(r), indent=1))
        return
    say(f"{args.split}: BLEU {r.bleu:.2f}, chrF {r.chrf:.2f} over {r.sentences:,} sentences "
        f"(up to {r.references} references; beam {r.beam}; {r.seconds:.1f} s)")
    for s in r.samples:
        say(f"  src: {s['source']}\n  ref: {s['reference']}\n  out: {s['translation']}")


def _translate_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("sentences", nargs="*", help="sentences to translate (default: stdin lines)")
    p.add_argument("--beam", type=int, default=5, help="beam width; 1 is greedy (default: 5)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="length normalisation exponent (GNMT); 0: raw log probability")
    p.add_argument("--attention", metavar="PNG", help="also draw the attention heatmaps here")


def _translate_run(args: argparse.Namespace) -> None:
    from nanonlp.errors import DataError
    from nanonlp.seq2seq.plot import plot_attention
    from nanonlp.seq2seq.translate import Translator

    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not sentences:
        raise DataError("nothing to translate: give sentences as arguments or on stdin")
    tr = Translator.load(args.checkpoint)
    results = tr.translate(sentences, beam=args.beam, alpha=args.alpha)
    for r in results:
        say(r.text)
    if args.attention:
        say(f"attention: {plot_attention(results[:8], args.attention)}")



# ---------------------------------------------------------------------------------------------
# nanonlp bert ...          (encoder-only transformer: pretrain, finetune, predict, export)


def _bert_pretrain_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.bert.config import PRESETS, BertConfig
    from nanonlp.bert.pretrain import PretrainConfig
    from nanonlp.cliargs import add_config_args
    from nanonlp.training import TrainConfig

    p.add_argument("--preset", default="mini",
                   help=f"model + training recipe: {', '.join(PRESETS)} (default: mini); "
                        "--model.* and --train.* flags override its fields")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder")
    add_config_args(p, PretrainConfig)
    add_config_args(p, BertConfig, prefix="model",
                    skip=("vocab_size", "pad_id", "mask_id", "cls_id", "sep_id"), note=_PRESET_NOTE)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": "runs/bert"},
                    note=_PRESET_NOTE)


def _bert_run_trainer(trainer, out, desc: str, records=None):
    """Drive a Trainer with a progress bar, metrics.jsonl and loss.png; returns the last record."""
    from tqdm.auto import tqdm

    from nanonlp.training.metrics import MetricsLog, plot_losses

    log = MetricsLog(out / "metrics.jsonl", resume_step=trainer.step)
    bar = tqdm(total=trainer.config.max_steps, initial=trainer.step, unit="step", desc=desc)
    rec = None
    try:
        for rec in (records if records is not None else trainer.run()):
            log.add(rec.to_json())
            bar.total = trainer.config.max_steps  # a time budget refits it after a few steps
            bar.update(1)
            bar.set_postfix({"loss": f"{rec.loss:.3f}", "tok/s": f"{rec.tokens_per_s:,.0f}"})
            if rec.eval:
                log.flush()
                plot_losses(log.records, out / "loss.png", desc)
                bar.write(f"step {rec.step}: train {rec.eval['train']:.4f}, val "
                          f"{rec.eval['val']:.4f}{' (best)' if rec.best else ''}")
    except KeyboardInterrupt:
        bar.close()
        log.flush()
        print(f"nanonlp: interrupted at step {trainer.step}; saved {out / 'last'}",
              file=sys.stderr)
        raise
    bar.close()
    log.flush()
    return rec


def _bert_pretrain(args: argparse.Namespace) -> None:
    from pathlib import Path

    from nanonlp.bert import pretrain as bp
    from nanonlp.cliargs import config_from_args
    from nanonlp.training import run_for

    cfg = config_from_args(args, bp.PretrainConfig)
    trainer = bp.make_trainer(cfg, args.preset, _prefixed(args, "model"), _prefixed(args, "train"),
                           resume=args.resume)
    out = Path(trainer.config.out)
    say(f"bert: {trainer.model.num_params():,} parameters on {trainer.device}; step "
        f"{trainer.step} -> {trainer.config.max_steps}"
        + (f" (or {cfg.budget_min:g} min)" if cfg.budget_min else "") + f"; writing {out}")
    budget = cfg.budget_min * 60 if cfg.budget_min else None
    _bert_run_trainer(trainer, out, f"BERT MLM ({args.preset})", run_for(trainer, budget))
    acc = bp.mlm_accuracy(trainer.model, bp.load_corpus(cfg.data, cfg.mask_prob))
    say(f"val masked-token accuracy {100 * acc['accuracy']:.2f}% (loss {acc['loss']:.4f} over "
        f"{acc['tokens']:,} masked tokens); checkpoints {out / 'best'}, {out / 'last'}")


def _bert_finetune_args(p: argparse.ArgumentParser) -> None:
    from nanonlp.bert.finetune import FinetuneConfig
    from nanonlp.cliargs import add_config_args
    from nanonlp.training import TrainConfig

    p.add_argument("checkpoint", help="pretrained checkpoint (OUT/last of `bert pretrain`); "
                   "gives the shape and the tokenizer even with --init random")
    add_config_args(p, FinetuneConfig)
    add_config_args(p, TrainConfig, prefix="train", defaults={"out": "runs/bert-finetune"},
                    note="the fine-tuning recipe sets some of these; a flag given here wins")


def _bert_finetune(args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    from nanonlp.bert import finetune as ft
    from nanonlp.cliargs import config_from_args

    cfg = config_from_args(args, ft.FinetuneConfig)
    trainer = ft.make_finetuner(args.checkpoint, cfg, _prefixed(args, "train"))
    out = Path(trainer.config.out)
    say(f"bert finetune {cfg.task} ({cfg.init} init): {trainer.model.num_params():,} "
        f"parameters, labels {trainer.model.labels}; writing {out}")
    _bert_run_trainer(trainer, out, f"BERT {cfg.task}")
    tok = ft.checkpoint_tokenizer(args.checkpoint)
    scores = {}
    for split in ft.TASKS[cfg.task][2]:
        if split != "train":
            scores[split] = ft.evaluate(trainer.model, tok,
                                        ft.load_task(cfg.task, split, cfg.dev_fraction))
    say(json.dumps({"task": cfg.task, "init": cfg.init, "steps": trainer.step,
                    "checkpoint": str(out / "last"), **scores}))


def _bert_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a BERT checkpoint: pretrained (fills [MASK]) or "
                   "fine-tuned (labels sentences or tags words)")
    p.add_argument("--input", help="text file, one input per line (default: stdin)")
    p.add_argument("--top_k", type=int, default=5, help="predictions per [MASK] (default: 5)")


def _bert_predict(args: argparse.Namespace) -> None:
    from nanonlp.bert.predict import predict_lines
    from nanonlp.errors import ConfigError
    from nanonlp.fileio import iter_lines
    from nanonlp.training.checkpoint import read_meta

    if args.top_k < 1:
        raise ConfigError(f"top_k must be >= 1, got {args.top_k}")
    read_meta(args.checkpoint)  # a wrong folder fails before stdin is read
    lines = [line for _, line in iter_lines(args.input)] if args.input \
        else sys.stdin.read().splitlines()
    lines = [line for line in lines if line.strip()]
    for line in predict_lines(args.checkpoint, lines, args.top_k):
        print(line)


def _bert_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="pretrained (MLM) checkpoint folder (OUT/best, OUT/last)")
    p.add_argument("out", help="folder for config.json, model.safetensors, tokenizer.json")


def _bert_export(args: argparse.Namespace) -> None:
    from nanonlp.bert.export import export_hf
    from nanonlp.bert.finetune import checkpoint_tokenizer
    from nanonlp.bert.model import load_bert

    model = load_bert(args.checkpoint)
    out = export_hf(model, args.out, checkpoint_tokenizer(args.checkpoint))
    say(f"{out}: transformers.BertForMaskedLM.from_pretrained({str(out)!r})")


# ---------------------------------------------------------------------------------------------
# The table.

GROUPS: dict[str, str] = {
    "data": "named data sets: list, inspect, locate and download them",
    "bpe": "byte-level BPE tokenizer: train, encode, decode, inspect",
    "word2vec": "word vectors: train (numpy or gensim), evaluate, query, plot",
    "ner": "named-entity recognition with spaCy: convert, train, evaluate, tag",
    "gpt": "decoder-only transformer (GPT): prepare data, train, sample, evaluate, export",
    "translate": "machine translation with a GRU encoder-decoder and attention: train, "
                 "evaluate, translate",
    "bert": "encoder-only transformer (BERT): pretrain, fine-tune, predict, export",
}

COMMANDS: list[Command] = [
    Command(("tour",), "a short end-to-end pass over every part; writes a report folder", _tour,
            _tour_args, "Runs each built capability briefly on the data it can find "
            "(NANONLP_DATA, the cache, or the corpora packaged with gensim) and writes a "
            "markdown report with figures. Parts not built yet are listed as such."),
    Command(("data", "list"), "list the named data sets and where each is found", _data_list),
    Command(("data", "info"), "describe a data set: files, checksums, licence, splits, counts",
            _data_info, _data_info_args),
    Command(("data", "path"), "print the resolved path of each file of a data set", _data_path,
            _data_path_args),
    Command(("data", "download"), "download a data set's files into the cache (checksummed)",
            _data_download, _data_path_args,
            "Streams each missing file to a temporary file, checks its size and sha256, and "
            "renames it into the cache ($NANONLP_CACHE or ~/.cache/nanonlp). A failed or "
            "corrupt transfer leaves nothing behind."),
    Command(("bpe", "train"), "train a byte-level BPE tokenizer on files or data sets",
            _bpe_train, _bpe_train_args,
            "Counts chunks on all cores, learns merges (progress bar), and writes NAME.model "
            "(what the other bpe commands read), NAME.vocab (for people), tokenizer.json "
            "(HF tokenizers) and NAME.tiktoken (tiktoken ranks) into --out."),
    Command(("bpe", "encode"), "text -> token ids (stdin/stdout, or files; .npy arrays)",
            _bpe_encode, _bpe_encode_args),
    Command(("bpe", "decode"), "token ids -> text (stdin/stdout, or files)", _bpe_decode,
            _bpe_decode_args),
    Command(("bpe", "inspect"), "a tokenizer's compression on a text, longest tokens, merges",
            _bpe_inspect, _bpe_inspect_args),
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
    Command(("gpt", "prepare"), "text (a data set or files) -> train/val token arrays",
            _gpt_prepare, _gpt_prepare_args,
            "Tokenizes with a character vocabulary or a nanonlp BPE model and writes "
            "OUT/train.bin, OUT/val.bin (raw uint16/uint32 ids, memory-mappable), "
            "OUT/meta.json and OUT/tokenizer.model. The last val_fraction of the text is val."),
    Command(("gpt", "train"), "train a GPT from a preset (checkpoints, metrics, loss curve)",
            _gpt_train, _gpt_train_args,
            "AdamW with warmup + cosine decay, gradient accumulation and clipping, periodic "
            "evaluation; writes OUT/best and OUT/last (safetensors + JSON, resumable exactly), "
            "OUT/metrics.jsonl and OUT/loss.png. Ctrl-C saves OUT/last. Multi-process: "
            "torchrun --nproc_per_node N -m nanonlp gpt train ..."),
    Command(("gpt", "sample"), "generate text from a checkpoint (streams as it goes)",
            _gpt_sample, _gpt_sample_args),
    Command(("gpt", "evaluate"), "loss, perplexity and bits per token of a checkpoint on a split",
            _gpt_evaluate, _gpt_evaluate_args),
    Command(("gpt", "export"), "export a checkpoint to a transformers GPT2LMHeadModel folder",
            _gpt_export, _gpt_export_args),
    # translate rows
    Command(("translate", "train"), "train a GRU encoder-decoder with attention from a preset",
            _translate_train, _translate_train_args,
            "Reads eng-fra (the PyTorch tutorial's filter, or all pairs), Multi30k or your own "
            "pair files, builds word (min_freq) or BPE vocabularies, and trains on the shared "
            "training core: OUT/best and OUT/last (safetensors + JSON + vocabularies, resumable "
            "exactly), OUT/metrics.jsonl and OUT/loss.png. --budget_min fits the run to a "
            "wall-clock budget. Ctrl-C saves OUT/last."),
    Command(("translate", "evaluate"), "sacreBLEU BLEU and chrF of a checkpoint on a held-out "
            "split", _translate_evaluate, _translate_evaluate_args),
    Command(("translate", "run"), "translate sentences (arguments or stdin lines); beam or "
            "greedy; attention PNG", _translate_run, _translate_run_args),

    # bert rows
    Command(("bert", "pretrain"), "pretrain a BERT with masked-LM on data sets or text files",
            _bert_pretrain, _bert_pretrain_args,
            "Trains a BPE tokenizer with [CLS] [SEP] [MASK] [PAD] (or takes --tokenizer), packs "
            "the lines into blocks (cached in --data), and trains with dynamic 15% masking: "
            "OUT/best and OUT/last checkpoints carry the tokenizer; --budget_min trains for a "
            "wall-clock budget instead of max_steps."),
    Command(("bert", "finetune"), "fine-tune a BERT for SST-2, sentence polarity or CoNLL NER",
            _bert_finetune, _bert_finetune_args,
            "Sequence classification on [CLS] (sst2, sentence_polarity) or token classification "
            "with first-sub-word labels (conll2003); prints dev (and test) accuracy or span F1."),
    Command(("bert", "predict"), "fill [MASK], label sentences or tag words with a checkpoint",
            _bert_predict, _bert_predict_args),
    Command(("bert", "export"), "export a pretrained checkpoint to a transformers "
            "BertForMaskedLM folder", _bert_export, _bert_export_args),

]


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree for every command in the table."""
    parser = argparse.ArgumentParser(
        prog="nanonlp",
        description="Deep learning for NLP from scratch: BPE, word2vec, NER, translation, GPT, "
                    "BERT. Data sets are found through $NANONLP_DATA, the cache, or packages.",
    )
    parser.add_argument("--version", action="version", version=f"nanonlp {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in COMMANDS:
        if len(cmd.path) == 1:
            sub = top.add_parser(cmd.path[0], help=cmd.help,
                                 description=cmd.description or cmd.help)
        else:
            group, verb = cmd.path
            if group not in groups:
                gp = top.add_parser(group, help=GROUPS[group], description=GROUPS[group])
                gp.set_defaults(_group_parser=gp)
                groups[group] = gp.add_subparsers(dest="verb", metavar="VERB")
            sub = groups[group].add_parser(verb, help=cmd.help,
                                           description=cmd.description or cmd.help)
        if cmd.configure is not None:
            cmd.configure(sub)
        sub.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nanonlp`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        (getattr(args, "_group_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(run(args) or 0)
    except NanonlpError as e:
        print(f"nanonlp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nanonlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nanonlp ... | head` closed the pipe: not an error
        return 0
    except OSError as e:  # a path the user gave: missing, a folder, read-only, disk full, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"nanonlp: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
