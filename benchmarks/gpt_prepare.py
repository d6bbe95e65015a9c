"""``gpt prepare`` on a corpus beyond memory: ours against nanoGPT's OpenWebText recipe.

The corpus is built from the shared data sets (wikitext-2 articles, tinyshakespeare
paragraphs, movie_reviews and brown files: about 10 MB of distinct documents), each document
drawn again and again with a seeded RNG and written, shuffled, as JSON lines (``{"text": ...}``)
into files of 64 MB. It measures throughput and memory, not model quality: the documents
repeat.

The anchor is nanoGPT's ``data/openwebtext/prepare.py`` re-done offline on the same files:
``tiktoken`` built from our ranks (``nanonlp.bpe.export.to_tiktoken``), ``encode_ordinary``
plus the end-of-text token over the documents in a ``multiprocessing.Pool`` of the same worker
count, the ids kept on disk as they come (HF ``datasets`` keeps them in its Arrow cache), then
one ``np.memmap`` of the total length filled in 1,024 batches. Before any timing, both encode
the first file and the ids are checked identical (ours: train then val by the document hash;
the anchor's split by the same hash).

Figures: MB/s of input (JSON lines bytes), the peak memory of all processes together (the sum
of each process's PSS, so pages forked workers share count once; sampled every 50 ms), at
each corpus size. Then training throughput (ms per step, ``tiny`` preset on CPU) on the shards
against the same ids as one ``train.bin`` (a one-layer GPT 32 wide, so that drawing the windows
is a visible part of a step; one torch thread; the median of 5 interleaved runs of 100
steps).

    nice -n 10 python benchmarks/gpt_prepare.py [--quick] [--record] [--sizes_mb 200 1000]
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from harness import data_dir, parser, record, result

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.gpt import shards as S
from nanonlp.gpt.data import PrepareConfig, prepare

FILE_BYTES = 64 << 20  # one JSON-lines file of the corpus
SHARD = 20_000_000  # ids per shard (40 MB): a 1 GB corpus makes a dozen


# ----------------------------------------------------------------------------------------------
# the corpus


def document_pool(data: Path) -> list[str]:
    """Distinct documents of the shared data sets (about 10 MB)."""
    docs = []
    wiki = "\n".join((data / "wikitext-2" / f).read_text(encoding="utf-8")
                     for f in ("valid.txt", "test.txt"))
    article: list[str] = []
    for line in wiki.split("\n"):
        s = line.strip()
        if s.startswith("= ") and s.endswith(" =") and not s.startswith("= ="):  # a new title
            if article:
                docs.append("\n".join(article).strip())
            article = []
        article.append(line)
    docs.append("\n".join(article).strip())
    shakes = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    docs += [p for p in shakes.split("\n\n") if p.strip()]
    for z in (data / "movie_reviews" / "movie_reviews.zip", data / "brown" / "brown.zip"):
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                if not name.endswith("/"):
                    text = zf.read(name).decode("utf-8", errors="replace").strip()
                    if len(text) > 50:
                        docs.append(text)
    return [d for d in docs if d]


def build_corpus(pool: list[str], folder: Path, total_bytes: int, seed: int = 0) -> int:
    """JSON-lines files of documents drawn from the pool with a seeded RNG, until
    ``total_bytes``; returns the bytes written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": d}, ensure_ascii=False).encode() + b"\n" for d in pool]
    written, k = 0, 0
    while written < total_bytes:
        with open(folder / f"part_{k:04d}.jsonl", "wb") as f:
            n = 0
            while n < FILE_BYTES and written + n < total_bytes:
                line = lines[rng.randrange(len(lines))]
                f.write(line)
                n += len(line)
        written += n
        k += 1
    return written


# ----------------------------------------------------------------------------------------------
# the anchor: nanoGPT's openwebtext/prepare.py, offline


_enc = None


def _anchor_init(tok_path: str) -> None:
    global _enc
    from nanonlp.bpe.export import to_tiktoken

    _enc = to_tiktoken(Tokenizer.load(tok_path))


def _anchor_process(text: str) -> np.ndarray:
    ids = _enc.encode_ordinary(text)  # as nanoGPT: ordinary tokens, then end-of-text
    ids.append(_enc.eot_token)
    return np.asarray(ids, dtype=np.uint16)


def _texts(files: list[Path]):
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                yield json.loads(line)["text"]


def anchor(files: list[Path], tok_path: Path, workers: int, out: Path) -> int:
    """All documents' ids into ``out/all.bin`` the nanoGPT way; returns the token count."""
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache.bin"  # what HF datasets' Arrow cache holds after .map
    n = 0
    with mp.get_context("fork").Pool(workers, _anchor_init, (str(tok_path),)) as pool, \
            open(cache, "wb") as f:
        for ids in pool.imap(_anchor_process, _texts(files), chunksize=64):
            ids.tofile(f)
            n += len(ids)
    src = np.memmap(cache, dtype=np.uint16, mode="r")
    arr = np.memmap(out / "all.bin", dtype=np.uint16, mode="w+", shape=(n,))
    idx = 0
    for batch in np.array_split(np.arange(n), 1024):  # nanoGPT writes in 1,024 shards
        if len(batch):
            arr[idx:idx + len(batch)] = src[batch[0]:batch[-1] + 1]
            idx += len(batch)
    arr.flush()
    del src, arr
    cache.unlink()
    return n


# ----------------------------------------------------------------------------------------------
# measuring


class PeakMemory:
    """The peak of the summed PSS of this process and all its children, sampled."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _pss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(Exception):  # a worker that just ended
                total += p.memory_full_info().pss
        return total

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._pss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def ours(folder: Path, tok_path: Path, workers: int, out: Path) -> dict:
    return prepare(PrepareConfig(source=str(folder), out=str(out), tokenizer=str(tok_path),
                                 workers=workers, val_fraction=0.005, shard_tokens=SHARD))


def check_identical(folder: Path, tok_path: Path, workers: int, tmp: Path) -> None:
    """Ours (train + val by the document hash) == the anchor's ids split by the same hash."""
    files = sorted(folder.glob("*.jsonl"))[:1]
    (tmp / "one").mkdir()
    os.symlink(files[0], tmp / "one" / files[0].name)
    meta = ours(tmp / "one", tok_path, workers, tmp / "ours")
    n = anchor(files, tok_path, workers, tmp / "anchor")
    ids = np.fromfile(tmp / "anchor" / "all.bin", dtype=np.uint16)
    eot = meta["end_of_text"]
    ends = np.flatnonzero(ids == eot) + 1
    per_doc = np.split(ids, ends[:-1])
    want = {"train": [], "val": []}
    for text, doc in zip(_texts(files), per_doc, strict=True):
        want["val" if S.in_val(text.encode(), 0.005) else "train"].append(doc)
    for split in ("train", "val"):
        got = np.concatenate([np.fromfile(tmp / "ours" / s["file"], dtype=np.uint16)
                              for s in meta["shards"][split]] or [np.zeros(0, np.uint16)])
        if not np.array_equal(got, np.concatenate(want[split] or [np.zeros(0, np.uint16)])):
            raise SystemExit(f"ids differ from the anchor's ({split})")
    print(f"ids identical on {files[0].name}: {n:,} tokens", flush=True)
    for p in ("one", "ours", "anchor"):
        shutil.rmtree(tmp / p)


def train_ms_per_step(data: Path, steps: int, vocab_size: int | None = None) -> float:
    """Milliseconds per optimizer step of a small GPT on CPU (after 5 warm-up steps): one
    layer, 32 wide, so that drawing the windows is a visible part of a step."""
    from nanonlp.gpt.train import make_trainer

    trainer = make_trainer(data, "tiny", model=dict(n_layer=1, n_head=2, n_embd=32,
                                                    block_size=64),
                           # 10 steps to spare: the last step's evaluation is never timed
                           train=dict(max_steps=steps + 15, device="cpu", batch_size=12,
                                      eval_interval=10 ** 6, eval_steps=1, out=str(data / "r")),
                           vocab_size=vocab_size)
    run = trainer.run()
    for _ in range(5):
        next(run)
    t0 = time.perf_counter()
    for _ in range(steps):
        next(run)
    return (time.perf_counter() - t0) / steps * 1000


def main():
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--sizes_mb", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tmp", default=None, help="where the corpus goes (default: a temp folder)")
    args = p.parse_args()
    sizes = [20, 50] if args.quick else args.sizes_mb
    data = data_dir()
    tmp = Path(tempfile.mkdtemp(prefix="gpt_prepare_", dir=args.tmp))
    rows = []
    try:
        pool = document_pool(data)
        print(f"pool: {len(pool):,} documents, {sum(map(len, pool)) / 1e6:.1f} M characters",
              flush=True)
        tok = Tokenizer.train(pool, BPEConfig(vocab_size=8192, workers=args.workers))
        tok.save(tmp / "bpe")
        tok_path = tmp / "bpe.model"
        build_corpus(pool, tmp / "check", 8 << 20, seed=1)
        check_identical(tmp / "check", tok_path, args.workers, tmp)
        shutil.rmtree(tmp / "check")
        for mb in sizes:
            corpus = tmp / f"corpus_{mb}"
            nbytes = build_corpus(pool, corpus, mb * 10 ** 6)
            files = sorted(corpus.glob("*.jsonl"))
            figures = {}
            sides = {"ours": (ours, corpus, tmp / "o"), "anchor": (anchor, files, tmp / "a")}
            for name, (fn, src, out) in sides.items():
                load0 = os.getloadavg()[0]
                with PeakMemory() as mem:
                    t0 = time.perf_counter()
                    fn(src, tok_path, args.workers, out)
                    secs = time.perf_counter() - t0
                figures[name] = (nbytes / 1e6 / secs, mem.peak / 2 ** 30, load0)
                print(f"{mb} MB {name}: {secs:.1f} s, {figures[name][0]:.2f} MB/s, peak "
                      f"{figures[name][1]:.2f} GiB PSS, load {load0:.1f}", flush=True)
                if name == "anchor" or mb != sizes[-1]:  # the last shards train below
                    shutil.rmtree(out)
            case = f"{mb} MB JSONL, {args.workers} workers"
            rows.append(result("gpt-prepare", case, "MB/s", figures["ours"][0],
                               figures["anchor"][0], "nanoGPT owt recipe (tiktoken, Pool)",
                               better="higher"))
            rows.append(result("gpt-prepare", case, "peak PSS GiB", figures["ours"][1],
                               figures["anchor"][1], "nanoGPT owt recipe (tiktoken, Pool)"))
            if mb != sizes[-1]:
                shutil.rmtree(corpus)
        # training on shards against the same ids as one train.bin
        rows += train_rows(tmp, tmp / "o", args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.record:
        record("gpt-prepare", rows, notes=NOTES)


def train_rows(tmp: Path, shards: Path, quick: bool) -> list:
    """ms per step on the shards against the same ids concatenated into one train.bin."""
    meta = json.loads((shards / "meta.json").read_text())
    one = tmp / "one"
    one.mkdir()
    for split in ("train", "val"):
        with open(one / f"{split}.bin", "wb") as f:
            for s in meta["shards"][split]:
                with open(shards / s["file"], "rb") as g:
                    shutil.copyfileobj(g, f)
    import torch

    torch.set_num_threads(1)  # two cores shared: more threads spin against each other
    steps = 20 if quick else 100
    ms: dict[str, list[float]] = {"shards": [], "one": []}
    for _ in range(5):  # interleaved, so a busy moment falls on both
        ms["shards"].append(train_ms_per_step(shards, steps))
        ms["one"].append(train_ms_per_step(one, steps, meta["vocab_size"]))
    n = len(meta["shards"]["train"])
    case = f"train (1 layer x 32, batch 12 x 64): {n} shards vs one train.bin"
    return [result("gpt-prepare", case,
                   "ms/step", statistics.median(ms["shards"]), statistics.median(ms["one"]),
                   "the same ids as one train.bin")]


NOTES = """The corpus repeats about 10 MB of distinct documents from the shared data sets
(drawn with a seeded RNG, shuffled into 64 MB JSON-lines files): it measures throughput and
memory, not model quality. The ids of both sides were checked identical on one file before
the timings. Peak memory is the summed PSS of the main process and its workers."""


if __name__ == "__main__":
    main()
