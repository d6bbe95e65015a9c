"""BPE benchmark: training time, encode throughput and compression against HF and tiktoken.

Corpora: tinyshakespeare, and a ~20 MB English corpus assembled reproducibly from the shared
data (text8 prefix, WikiText-2 valid+test, movie reviews, Brown with its POS tags stripped,
in that order, cut at 20,000,000 characters), written to a temporary file. GPT-4 split
pattern, vocab sizes 4,096 and 32,768, one special token ``<|endoftext|>``.

* train_s: ours (``Tokenizer.train(files=...)``, all cores for counting) vs HF ``tokenizers``
  ``BpeTrainer`` over the same Split(GPT-4 regex) + ByteLevel pre-tokenizer (all cores).
* encode MB/s: the corpus as ~64 KB blocks (cut where the pattern cuts), one process and all
  cores: ours vs tiktoken built from our ranks vs HF ``tokenizers`` loaded from our export.
  The ids are checked to be identical.
* bytes/token: ours vs HF's own trained tokenizer at the same vocab size, on the corpus.

    python benchmarks/bpe.py [--quick] [--skip-large] [--train-only] [--record]
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from itertools import chain
from pathlib import Path

import numpy as np
from harness import ROOT, alternate, data_dir, parser, record, result

NAME = "bpe"
HF = "HF tokenizers"
# each timing: the median of this many runs, ours and the anchors in turn (identical work
# timed twice in one run of 3 differed by up to 1.5x on the shared 2-core VM)
REPEATS = 5


def english_corpus(data: Path, out: Path, limit: int) -> Path:
    """Concatenate the English sources (documents joined by newlines) up to ``limit`` chars."""
    from nanonlp import datasets

    def sources():
        yield from datasets.text("text8", "head")
        yield from datasets.text("wikitext-2", "valid")
        yield from datasets.text("wikitext-2", "test")
        yield from datasets.text("movie_reviews")
        with zipfile.ZipFile(data / "brown" / "brown.zip") as zf:
            for name in sorted(zf.namelist()):
                base = name.rsplit("/", 1)[-1]
                if len(base) == 4 and base[:2].isalpha() and base[2:].isdigit():
                    for line in zf.read(name).decode("utf-8").splitlines():
                        words = [w.rsplit("/", 1)[0] for w in line.split()]
                        if words:
                            yield " ".join(words)

    size = 0
    with open(out, "w", encoding="utf-8") as f:
        for text in sources():
            text = text[: limit - size] + "\n"
            f.write(text)
            size += len(text)
            if size >= limit:
                break
    return out


def hf_train(path: Path, vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    from nanonlp.bpe import GPT4_PATTERN

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT4_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  min_frequency=0, show_progress=False)
    tok.train([str(path)], trainer)
    return tok


def warm_numba_cache() -> None:
    """Fill numba's on-disk cache of the training kernel in a child process, so that no timed
    run pays the one-time compilation (~10 s after a checkout or an edit). The timed runs still
    pay what every new process pays: importing numba and loading the compiled code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    code = "from nanonlp.bpe.fasttrain import learn_merges_numba as f; f([b'ab'], [1], 1)"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def bench_case(case: str, path: Path, vocab_size: int, rows: list[dict], encode: bool,
               train_only: bool = False) -> None:
    import tiktoken  # noqa: F401  (fail early if missing)

    from nanonlp.bpe import BPEConfig, Tokenizer
    from nanonlp.bpe.export import to_hf, to_tiktoken
    from nanonlp.bpe.stream import iter_pieces

    cases = f"{case}/{vocab_size}"
    trained = {}

    def train_ours():
        trained["ours"] = Tokenizer.train(files=[path], config=BPEConfig(vocab_size=vocab_size))

    def train_hf():
        trained["hf"] = hf_train(path, vocab_size)

    # no warm-up: the first call's start-up costs count, as in a process that trains once
    med = alternate({"ours": train_ours, "hf": train_hf}, REPEATS, warmup=False)
    ours, hf_own = trained["ours"], trained["hf"]
    rows.append(result(NAME, cases, "train_s", med["ours"], med["hf"], HF))
    if train_only:
        return

    blocks = list(iter_pieces(path, piece_chars=1 << 16))
    mb = sum(len(b.encode("utf-8")) for b in blocks) / 1e6
    n_ours = sum(len(ids) for ids in ours.encode_batch(blocks))
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    n_hf = sum(len(e.ids) for e in hf_own.encode_batch(blocks))
    rows.append(result(NAME, cases, "bytes_per_token", mb * 1e6 / n_ours, mb * 1e6 / n_hf,
                       f"{HF} (own training)", better="higher"))
    if not encode:
        return

    cores = os.cpu_count() or 1
    enc, hf = to_tiktoken(ours), to_hf(ours)
    digests: dict[str, set[str]] = {}

    def keep(name: str, id_lists) -> None:  # a digest, so the process keeps no side's output
        if id_lists is not None:
            lengths = np.array([len(ids) for ids in id_lists], dtype=np.int64)
            flat = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64)
            digest = hashlib.sha256(lengths.tobytes() + flat.tobytes()).hexdigest()
            digests.setdefault(name, set()).add(digest)

    def fresh():  # a tokenizer with a cold chunk cache, as a new process has
        return Tokenizer(ours.merges, ours.pattern, ours.special_tokens)

    def hf_batch(parallel: bool):
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if parallel else "false"
        return [e.ids for e in hf.encode_batch(blocks)]

    def ours_one():
        tok = fresh()
        return [tok.encode_ordinary(b) for b in blocks]

    fns = {
        "ours_1": ours_one,
        "ours_all": lambda: fresh().encode_batch(blocks, workers=cores),
        "tt_1": lambda: enc.encode_ordinary_batch(blocks, num_threads=1),
        "tt_all": lambda: enc.encode_ordinary_batch(blocks, num_threads=cores),
        "hf_1": lambda: hf_batch(False),
        "hf_all": lambda: hf_batch(True),
    }
    mbps = {k: mb / s for k, s in alternate(fns, REPEATS, warmup=False, keep=keep).items()}
    one_ours, all_ours, one_tt = mbps["ours_1"], mbps["ours_all"], mbps["tt_1"]
    all_tt, one_hf, all_hf = mbps["tt_all"], mbps["hf_1"], mbps["hf_all"]
    if len(set().union(*digests.values())) != 1:
        raise SystemExit(f"{cases}: ids differ between ours (1 and {cores} processes), "
                         "tiktoken and HF")
    rows.append(result(NAME, cases, "encode_MBps_1proc", one_ours, one_tt, "tiktoken (our ranks)",
                       better="higher"))
    rows.append(result(NAME, cases, "encode_MBps_1proc", one_ours, one_hf, f"{HF} (our export)",
                       better="higher"))
    rows.append(result(NAME, cases, f"encode_MBps_{cores}cores", all_ours, all_tt,
                       "tiktoken (our ranks)", better="higher"))
    rows.append(result(NAME, cases, f"encode_MBps_{cores}cores", all_ours, all_hf,
                       f"{HF} (our export)", better="higher"))
    rows.append(result(NAME, cases, f"encode_MBps_{cores}cores", all_ours, one_ours,
                       "ours, 1 process", better="higher"))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--skip-large", action="store_true", help="tinyshakespeare only")
    p.add_argument("--train-only", action="store_true", help="the train_s rows only")
    args = p.parse_args()
    if args.record and args.train_only:
        p.error("--record writes the whole section: run it without --train-only")
    warm_numba_cache()
    data = data_dir()
    rows: list[dict] = []
    vocabs = (512, 1024) if args.quick else (4096, 32768)
    with tempfile.TemporaryDirectory() as tmp:
        shakespeare = data / "tinyshakespeare" / "input.txt"
        if args.quick:
            small = Path(tmp) / "shakespeare_200k.txt"
            small.write_text(shakespeare.read_text()[:200_000])
            shakespeare = small
        for v in vocabs:
            bench_case("tinyshakespeare", shakespeare, v, rows, encode=True,
                       train_only=args.train_only)
        if not args.skip_large:
            limit = 2_000_000 if args.quick else 20_000_000
            english = english_corpus(data, Path(tmp) / "english.txt", limit)
            for v in vocabs:
                bench_case(f"english{limit // 1_000_000}MB", english, v, rows,
                           encode=(v == vocabs[0]), train_only=args.train_only)
    if args.record:
        record(NAME, rows, notes=NOTES)


NOTES = """\
GPT-4 split pattern, special token `<|endoftext|>`, ids checked identical between ours,
tiktoken (built from our ranks) and HF (loaded from our `tokenizer.json`) before timing is
reported. Every time is the median of 5 runs, ours and the anchors in turn
(training with no warm-up; each encoding run of ours starts from a cold chunk cache). Our
trainer counts chunks in one process under 2 M characters, on all cores (multiprocessing)
above, and from 4 M on GPT-4's split runs as a compiled scanner (`bpe.fastsplit`, the same
chunks as the regex); text that is all ASCII (tinyshakespeare) splits through the pattern's
ASCII twin in the standard library's `re` (the same chunks, about twice as fast as `regex`).
Merging uses incremental pair counts and a lazy heap, in Python under 128 KB of distinct chunks
and as the same loop compiled with numba above (numba's start-up, ~0.5 s, is in train_s; its
one-time compilation is not). Our encoder splits short texts with the pattern (its ASCII twin
where it can) and long ones with the scanner, caches chunk -> ids, and merges the chunks a text
adds to the cache in one numba call. Parallel encoding hands the C heap's free memory back to
the OS (`malloc_trim`), forks one worker per core over ~2.5 MB shards, and each worker leaves
the heap it inherits out of its garbage collections (`gc.freeze`); the row against "ours, 1
process" is that scale-out (under 4 M characters, tinyshakespeare, it stays in one process).
The benchmark keeps a digest of each side's ids, not the ids, so its process stays as lean as a
user's. The machine is a shared 2-core VM whose speed varied by up to 2x during the session;
compare the ratios. Encode throughput on the 20 MB corpus is measured at 4,096 only (32,768
ends the same way).
"""

if __name__ == "__main__":
    main()
