"""BPE core: known answers, fast trainer == reference trainer, round trips, special tokens."""

from __future__ import annotations

import gc
import pickle
from collections import Counter
from itertools import chain, pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonlp.bpe import BPEConfig, CharTokenizer, Tokenizer, fastmerge, read_tokens
from nanonlp.bpe import tokenizer as tokenizer_module
from nanonlp.bpe.patterns import (
    ASCII_TWINS,
    GPT2_PATTERN,
    GPT4_PATTERN,
    Chunker,
    resolve_pattern,
    split_chunks,
)
from nanonlp.bpe.reference import get_stats, merge, train_reference
from nanonlp.bpe.stream import iter_pieces
from nanonlp.bpe.train import count_chunks, learn_merges
from nanonlp.errors import ConfigError, DataError

EDGE_CASES = [
    "", " ", "   ", "\n", "\n\n\n", "\r\n", "a\r\nb\r\n", "\t \t", "\x00", "a\x00b",
    "hello world", "  hello   world  ", "Hello, World!!! 123456789",
    "emoji 👍🏽 family 👨‍👩‍👧 flag 🇫🇷", "e\u0301 a\u0308 combining", "日本語のテキスト、中文文本。",
    "مرحبا بالعالم", "שלום עולם", "Привет, мир!", "it's I'M we'LL", "ﬁ ligature ½ ²",
    "\u200b zero width \ufeff bom", "mixed\u2028line\u2029sep", "x" * 500,
]

CORPUS = ("the quick brown fox jumps over the lazy dog. " * 5 + "\n"
          "aaaaaaa bbbb aaaa abab abababab\n"
          + " ".join(EDGE_CASES) + "\n"
          + "low lower lowest newer newest wider wildest\n" * 3)


def test_known_answer_three_merges():
    tok = Tokenizer.train("aaabdaaabac", BPEConfig(vocab_size=259, pattern="none", special=()))
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.decode([258, 100, 258, 97, 99]) == "aaabdaaabac"


def test_reference_helpers():
    assert get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([5, 5, 5, 5, 5], (5, 5), 6) == [6, 6, 5]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=20), st.integers(0, 3), st.integers(0, 3))
def test_merge_is_left_to_right_replacement(ids, a, b):
    # str.replace scans left to right without overlaps: the rule merge follows (new id 4)
    expected = [ord(c) for c in "".join(map(chr, ids)).replace(chr(a) + chr(b), chr(4))]
    assert merge(ids, (a, b), 4) == expected
    # the fast trainer reads "no occurrence" from an unchanged length
    assert (len(merge(ids, (a, b), 4)) == len(ids)) == ((a, b) not in set(pairwise(ids)))


@pytest.mark.parametrize("compiled", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("pattern", ["gpt2", "gpt4", "none"])
def test_fast_trainer_equals_reference(pattern, compiled):
    regex = resolve_pattern(pattern)
    text = CORPUS if pattern != "none" else CORPUS[:400]
    chunks = [c.encode() for c in split_chunks(text, regex)]
    ref = train_reference(chunks, 150)
    counts = count_chunks([text], regex)
    steps = list(learn_merges({k.encode(): v for k, v in counts.items()}, 150, fast=compiled))
    assert [s.pair for s in steps] == ref
    assert [s.new_id for s in steps] == list(range(256, 256 + len(ref)))
    assert len(ref) == 150 or pattern == "none"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="ab c\n", max_size=30), max_size=8), st.integers(1, 40))
def test_fast_trainer_equals_reference_property(texts, n):
    # a tiny alphabet makes long runs and many ties: the cases where tie-breaks matter
    chunks = [c.encode() for t in texts for c in split_chunks(t, GPT4_PATTERN)]
    counts = count_chunks(texts, GPT4_PATTERN)
    chunk_counts = {k.encode(): v for k, v in counts.items()}
    python = list(learn_merges(chunk_counts, n, fast=False))
    assert [s.pair for s in python] == train_reference(chunks, n)
    assert list(learn_merges(chunk_counts, n, fast=True)) == python  # counts too


def test_compiled_merging_is_chosen_by_size(monkeypatch):
    from nanonlp.bpe import fasttrain
    from nanonlp.bpe import train as T

    calls = []
    real = fasttrain.learn_merges_numba
    monkeypatch.setattr(fasttrain, "learn_merges_numba", lambda *a: calls.append(1) or real(*a))
    chunk_counts = {b"abcabc": 3, b"ab": 1}
    assert list(learn_merges(chunk_counts, 5)) == list(learn_merges(chunk_counts, 5, fast=False))
    assert calls == []  # 8 bytes: the Python loop
    monkeypatch.setattr(T, "NUMBA_MIN_BYTES", 8)
    assert list(learn_merges(chunk_counts, 5)) == list(learn_merges(chunk_counts, 5, fast=False))
    assert calls == [1]


def test_parallel_counting_equals_serial(monkeypatch):
    texts = [CORPUS[i:i + 50] for i in range(0, len(CORPUS), 50)] * 40
    serial = count_chunks(texts, GPT4_PATTERN, workers=1)
    from nanonlp.bpe import train as T

    started = []
    real_pool = T.process_pool
    monkeypatch.setattr(T, "BATCH_CHARS", 3000)  # several batches, and
    monkeypatch.setattr(T, "MIN_PARALLEL_CHARS", 0)  # no size floor: the process pool runs
    monkeypatch.setattr(T, "process_pool", lambda *a: started.append(a) or real_pool(*a))
    parallel = count_chunks(iter(texts), GPT4_PATTERN, workers=2)
    assert started and parallel == serial


def test_pool_workers_leave_the_inherited_heap_out_of_collections():
    # a forked worker must not walk (and copy) the parent's objects in its collections
    from nanonlp.bpe.pool import process_pool

    with process_pool(1, int) as pool:  # int(): an initializer that does nothing
        assert pool.apply(gc.get_freeze_count) > 0
    assert gc.get_freeze_count() == 0  # and the parent's own collections are unchanged


def test_pool_hands_the_free_heap_back_before_forking(monkeypatch):
    import multiprocessing as mp
    import platform

    from nanonlp.bpe import pool

    calls = []
    real = pool.release_free_heap
    monkeypatch.setattr(pool, "release_free_heap", lambda: calls.append("trim"))
    with pool.process_pool(1, int) as p:
        assert p.apply(int) == 0
    assert calls == (["trim"] if "fork" in mp.get_all_start_methods() else [])
    assert real() == (platform.libc_ver()[0] == "glibc")


def test_small_corpus_is_counted_in_process(monkeypatch):
    from nanonlp.bpe import train as T

    monkeypatch.setattr(T, "BATCH_CHARS", 3000)  # several batches, but under MIN_PARALLEL_CHARS
    monkeypatch.setattr(T, "process_pool", lambda *a: pytest.fail("a pool started"))
    texts = [CORPUS] * 10
    assert count_chunks(texts, GPT4_PATTERN, workers=2) == count_chunks(texts, GPT4_PATTERN,
                                                                         workers=1)


@pytest.mark.parametrize("stream", [False, True])
def test_counting_on_three_processes_equals_one(monkeypatch, stream):
    # a corpus that fits in one task per worker is cut into equal tasks, this process taking
    # one; a bigger one streams through the pool batch by batch
    from nanonlp.bpe import train as T

    texts = [CORPUS * 7, "<|eot|>".join([CORPUS] * 5), CORPUS[:100]]
    serial = count_chunks(texts, GPT4_PATTERN, ["<|eot|>"], workers=1)
    started = []
    real_pool = T.process_pool
    monkeypatch.setattr(T, "process_pool", lambda n, *a: started.append(n) or real_pool(n, *a))
    monkeypatch.setattr(T, "MIN_PARALLEL_CHARS", 1000)
    if stream:
        monkeypatch.setattr(T, "BATCH_CHARS", 2000)
        monkeypatch.setattr(T, "FAST_SPLIT_CORPUS_CHARS", 4000)
    assert count_chunks(iter(texts), GPT4_PATTERN, ["<|eot|>"], workers=3) == serial
    assert started == ([3] if stream else [2])


def test_even_batches_cut_only_where_the_chunks_stay_the_same():
    from nanonlp.bpe.train import count_chunks_in, even_batches

    texts = [CORPUS * 3, "x" * 2000, "<|eot|>".join([CORPUS] * 4)]
    for n in (2, 3, 5):
        batches = even_batches(texts, n, cut=True, specials=["<|eot|>"])
        assert 1 < len(batches) <= n
        assert "".join(chain.from_iterable(batches)) == "".join(texts)
        sizes = [sum(map(len, b)) for b in batches]
        assert max(sizes) - min(sizes) <= 2000  # ("x" * 2000 cannot be cut)
        per_batch = Counter()
        for b in batches:
            per_batch.update(count_chunks_in(b, GPT4_PATTERN, ["<|eot|>"]))
        assert per_batch == count_chunks_in(texts, GPT4_PATTERN, ["<|eot|>"])
    # uncut, a batch ends before or after a text, whichever is nearer its share
    assert even_batches(texts, 2, cut=False) == [texts[:2], texts[2:]]
    assert even_batches(texts, 3, cut=False) == [[t] for t in texts]
    assert even_batches(texts, 2, cut=True)[0][:2] == texts[:2]  # ("x" * 2000 has no cut)


ASCII = "".join(map(chr, range(128)))


@pytest.mark.parametrize("pattern", [GPT2_PATTERN, GPT4_PATTERN])
def test_ascii_twins_split_like_the_patterns(pattern):
    import random
    import re

    import regex

    twin = re.compile(ASCII_TWINS[pattern], re.ASCII)
    full = regex.compile(pattern)
    # the classes the twins spell out, character by character
    for cls, ascii_cls in ((r"\s", r"\s"), (r"\p{L}", "[A-Za-z]"), (r"\p{N}", "[0-9]")):
        assert ([c for c in ASCII if regex.match(cls, c)]
                == [c for c in ASCII if re.match(ascii_cls, c, re.ASCII)])
    rnd = random.Random(0)
    tricky = "'''   \n\n\r\r\t\x0b\x0c\x1c\x1f\x00 sdmtlvreSDMTLVRE.,!?-_09az" + ASCII
    texts = [CORPUS.encode("ascii", "ignore").decode(), ASCII, ASCII[::-1]] + [
        "".join(rnd.choice(tricky) for _ in range(rnd.randrange(1, 40))) for _ in range(3000)]
    for text in texts:
        assert twin.findall(text) == full.findall(text), repr(text)


def test_chunker_takes_the_twin_for_ascii_only():
    chunker = Chunker(GPT4_PATTERN)
    calls = []
    full, fast = chunker._full, chunker._ascii
    chunker._full = lambda t: calls.append("regex") or full(t)
    chunker._ascii = lambda t: calls.append("re") or fast(t)
    assert chunker.findall("it's 1234 ok") == ["it", "'s", " ", "123", "4", " ok"]
    assert chunker.findall("ça va") == ["ça", " va"]
    assert calls == ["re", "regex"]
    copy = pickle.loads(pickle.dumps(Chunker(GPT4_PATTERN)))
    assert copy.findall("a b") == ["a", " b"] and Chunker("[a-z]+")._ascii is None


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer.train(CORPUS, BPEConfig(vocab_size=400, pattern="gpt4"))


@pytest.mark.parametrize("text", EDGE_CASES)
def test_round_trip_edge_cases(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_round_trip_property(tok, text):
    # st.text includes surrogate-free arbitrary code points: everything valid in UTF-8
    assert tok.decode(tok.encode(text, disallowed_special=())) == text


@pytest.mark.parametrize("text", [*EDGE_CASES, *CORPUS.split()])
def test_chunk_encoder_equals_merging_in_rank_order(tok, text):
    # the encoder's inlined merge loop against the reference merge, lowest rank first
    ids = list(text.encode("utf-8"))
    while ranked := [p for p in pairwise(ids) if p in tok.ranks]:
        best = min(ranked, key=tok.ranks.__getitem__)
        ids = merge(ids, best, tok.ranks[best])
    assert Tokenizer(tok.merges, pattern="none").encode_ordinary(text) == ids


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="ab lowe\n👍é", max_size=60), max_size=20))
def test_compiled_merges_equal_the_reference_loop(tok, texts):
    # fast path == slow path: the numba batch against _encode_chunk, chunk by chunk; the small
    # alphabet makes long merge chains and repeated pairs ("aaaa", "abab") common
    chunks = [c.encode("utf-8") for t in texts for c in split_chunks(t, tok.pattern)]
    chunks += [t.encode("utf-8") for t in texts]  # whole texts too: long chunks (pattern none)
    table = fastmerge.rank_table(tok.ranks)
    ranks = list(range(len(tok.vocab)))
    assert fastmerge.merge_chunks(chunks, table, ranks) == [tok._encode_chunk(c) for c in chunks]


def test_encode_takes_the_compiled_path_for_big_batches(tok, monkeypatch):
    text = CORPUS * 2 + "".join(chr(c) for c in range(0x400, 0x600))
    slow = Tokenizer(tok.merges, tok.pattern).encode_ordinary(text)
    monkeypatch.setattr(tokenizer_module, "FAST_MIN_CHUNKS", 1)
    fast_tok = Tokenizer(tok.merges, tok.pattern)
    assert fast_tok.encode_ordinary(text) == slow
    assert fast_tok._fast is not None  # the compiled path ran
    assert fast_tok.encode_ordinary(text) == slow  # again, from the cache
    # a tokenizer with its own ids (as from_hf makes them): the fast path maps them too
    ids = list(range(len(tok.vocab)))[::-1]
    monkeypatch.setattr(tokenizer_module, "FAST_MIN_CHUNKS", 10**9)
    slow = Tokenizer(tok.merges, tok.pattern, ids=ids).encode_ordinary(text)
    monkeypatch.setattr(tokenizer_module, "FAST_MIN_CHUNKS", 1)
    assert Tokenizer(tok.merges, tok.pattern, ids=ids).encode_ordinary(text) == slow


def test_a_full_chunk_cache_is_cleared_without_changing_ids(tok, monkeypatch):
    expected = Tokenizer(tok.merges, tok.pattern).encode_ordinary(CORPUS)
    monkeypatch.setattr(tokenizer_module, "CACHE_SIZE", 8)  # far fewer than CORPUS's chunks
    small = Tokenizer(tok.merges, tok.pattern)
    small.encode_ordinary("the quick brown fox")  # some chunks cached before the big text
    assert small.encode_ordinary(CORPUS) == expected
    assert small.encode_ordinary(CORPUS) == expected


def test_merges_shrink_and_cache_is_consistent(tok):
    text = "the quick brown fox jumps over the lazy dog"
    first = tok.encode(text)
    assert len(first) < len(text.encode())
    assert tok.encode(text) == first  # now from the chunk cache


def test_decode_invalid_bytes(tok):
    e_acute = "é".encode()  # two bytes, each alone is invalid UTF-8
    assert tok.decode([e_acute[0]]) == "\ufffd"
    with pytest.raises(DataError, match="invalid UTF-8 at byte 0"):
        tok.decode([e_acute[0]], errors="strict")
    with pytest.raises(DataError, match="token id 99999 is not in the vocabulary"):
        tok.decode([99999])


def test_special_tokens_follow_tiktoken(tok):
    eot = tok.special_tokens["<|endoftext|>"]
    assert eot == tok.vocab_size - 1
    text = "hello<|endoftext|>world"
    with pytest.raises(DataError, match=r"contains special token '<\|endoftext\|>' at character 5"):
        tok.encode(text)
    ids = tok.encode(text, allowed_special="all")
    assert ids == [*tok.encode("hello"), eot, *tok.encode("world")]
    assert tok.encode(text, allowed_special={"<|endoftext|>"}) == ids
    plain = tok.encode(text, disallowed_special=())
    assert eot not in plain and tok.decode(plain) == text
    assert tok.decode(ids) == text
    with pytest.raises(ConfigError, match="lacks"):
        tok.encode("x", allowed_special={"<|nope|>"})


def test_special_tokens_separate_training_documents():
    # without the special token "ab" would be a frequent pair across the boundary
    tok = Tokenizer.train("a<|endoftext|>b" * 50, BPEConfig(vocab_size=300, pattern="none"))
    assert tok.merges[0] != (97, 98)
    assert all(b"<|" not in t for t in tok.vocab)


def test_training_stops_when_pairs_run_out():
    tok = Tokenizer.train("ab", BPEConfig(vocab_size=1000, special=("<s>",)))
    assert tok.merges == [(97, 98)]
    assert tok.special_tokens == {"<s>": 257} and tok.vocab_size == 258


@pytest.fixture
def parallel_for_small_inputs(monkeypatch):
    """Let a few hundred KB go to worker processes (the default keeps under 4 MB in one)."""
    from nanonlp.bpe import tokenizer

    monkeypatch.setattr(tokenizer, "MIN_PARALLEL_CHARS", 0)


def test_encode_batch_in_processes(tok, parallel_for_small_inputs):
    texts = EDGE_CASES * 3
    assert tok.encode_batch(texts, workers=2) == [tok.encode(t) for t in texts]
    # enough text for several shards (64 K characters at least each), cut between texts
    texts = [CORPUS[i:] for i in range(0, 400, 7)] * 5
    assert sum(map(len, texts)) > 3 * 65536
    assert tok.encode_batch(texts, workers=2) == [tok.encode(t) for t in texts]


def test_encode_file_in_processes_equals_encode(tok, tmp_path, parallel_for_small_inputs):
    text = (CORPUS + "<|endoftext|>") * 120  # several pieces of 64 K characters
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    n = tok.encode_file(src, tmp_path / "out.npy", workers=2)
    assert read_tokens(tmp_path / "out.npy").tolist() == tok.encode(text, allowed_special="all")
    assert n > 0


def test_a_pickled_tokenizer_leaves_its_cache_behind(tok):
    # what a spawned worker gets (macOS, Windows): the same tokenizer with empty caches
    tok.encode(CORPUS)
    copy = pickle.loads(pickle.dumps(tok))
    assert copy._cache == {} and tok._cache
    assert copy.encode(CORPUS) == tok.encode(CORPUS)


def test_file_pieces_split_like_the_whole_file(tmp_path):
    text = ("word  spaced\n\n\n   indented " * 200 + "x<|endoftext|> y" * 50 + " tail   ")
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    pieces = list(iter_pieces(path, specials=["<|endoftext|>"], piece_chars=97))
    assert len(pieces) > 10 and "".join(pieces) == text
    for pat in (GPT2_PATTERN, GPT4_PATTERN):
        assert [c for p in pieces for c in split_chunks(p, pat)] == split_chunks(text, pat)


@pytest.mark.parametrize("suffix", [".npy", ".bin"])
def test_encode_file_equals_encode(tok, tmp_path, suffix):
    text = CORPUS * 3 + "<|endoftext|>" + CORPUS
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    n = tok.encode_file(src, tmp_path / f"out{suffix}", workers=1)
    arr = read_tokens(tmp_path / f"out{suffix}", tok.vocab_size)
    assert arr.dtype == np.uint16 and n == len(arr)
    assert arr.tolist() == tok.encode(text, allowed_special="all")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_train_from_file_equals_train_from_text(tmp_path):
    src = tmp_path / "c.txt"
    src.write_text(CORPUS * 4, encoding="utf-8")
    cfg = BPEConfig(vocab_size=350)
    assert Tokenizer.train(files=[src], config=cfg).merges == \
        Tokenizer.train(CORPUS * 4, cfg).merges


def test_char_tokenizer(tmp_path):
    ct = CharTokenizer.train(["hello world"], special=["<|endoftext|>"])
    assert ct.vocab_size == 8 + 1
    ids = ct.encode("hold<|endoftext|>", allowed_special="all")
    assert ct.decode(ids) == "hold<|endoftext|>" and ids[-1] == 8
    with pytest.raises(DataError, match="character 'z'"):
        ct.encode("zoo")
    again = CharTokenizer.load(ct.save(tmp_path / "c"))
    assert again.chars == ct.chars and again.special_tokens == ct.special_tokens
    src = tmp_path / "in.txt"
    src.write_text("hello world " * 10, encoding="utf-8")
    ct.encode_file(src, tmp_path / "ids.npy")
    assert ct.decode(np.load(tmp_path / "ids.npy").tolist()) == "hello world " * 10


@pytest.mark.parametrize("kwargs, message", [
    ({"vocab_size": 256}, r"vocab_size 256 is below 257 \(256 byte tokens \+ 1 special tokens\)"),
    ({"vocab_size": 300, "pattern": "gpt3"}, "unknown split pattern 'gpt3'"),
    ({"pattern": "(unclosed"}, "is not a valid regex"),
    ({"special": ("<s>", "<s>")}, r"given twice: \['<s>'\]"),
    ({"special": ("",)}, "must not be empty"),
    ({"workers": -1}, "workers must be >= 0"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BPEConfig(**kwargs)


def test_empty_corpus(tmp_path):
    with pytest.raises(DataError, match="nothing to train on"):
        Tokenizer.train([], BPEConfig())
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match=r"nothing to train on: .*empty.txt"):
        Tokenizer.train(files=[empty])


def test_non_utf8_file(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("line one\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt:2: not valid UTF-8 \(byte 0xe9\)"):
        Tokenizer.train(files=[bad])


def test_encode_file_equals_encode_with_pattern_none(tmp_path):
    # "none" makes each text one chunk, so merges may span lines: the file must not be cut
    text = "ab\nab\nab\nab\n" * 20 + "<|endoftext|>ab\nab"
    none = Tokenizer.train(text, BPEConfig(vocab_size=262, pattern="none"))
    assert any(b"\n" in none.vocab[i] and len(none.vocab[i]) > 2 for i in range(256, 262))
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    for kwargs in ({}, {"allowed_special": (), "disallowed_special": ()}):
        n = none.encode_file(src, tmp_path / "out.npy", **kwargs)
        want = none.encode(text, **({"allowed_special": "all"} | kwargs))
        assert np.load(tmp_path / "out.npy").tolist() == want and n == len(want)


def test_encode_batch_rejects_negative_workers(tok):
    with pytest.raises(ConfigError, match="workers must be >= 0"):
        tok.encode_batch(["a"], workers=-1)


def _model_text(tok: Tokenizer, tmp_path) -> list[str]:
    return tok.save(tmp_path / "m").read_text(encoding="utf-8").split("\n")


@pytest.mark.parametrize("line, value, message", [
    (1, "pattern 123", r"m.model:2: the pattern must be a JSON string, got 123"),
    (1, "pattern null", r"m.model:2: the pattern must be a JSON string, got None"),
    (1, 'pattern "(unclosed"', r"m.model: split pattern .* is not a valid regex"),
    (3, "5 400", r"m.model:4: a special token must be a non-empty JSON string, got 5"),
    (3, '"" 400', r"m.model:4: a special token must be a non-empty JSON string"),
    (3, '["<s>"] 400', r"m.model:4: a special token must be a non-empty JSON string"),
    (3, f'"<s>" {10**12}', r"m.model:4: special token id 1000000000000 is out of range"),
    (3, '"<s>" 5', r"m.model: special token '<s>' has id 5, which an ordinary token has"),
])
def test_load_rejects_bad_fields(tok, tmp_path, line, value, message):
    lines = _model_text(tok, tmp_path)
    assert lines[2] == "special 1"
    lines[line] = value
    (tmp_path / "m.model").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        Tokenizer.load(tmp_path / "m.model")


@pytest.mark.parametrize("lines, message", [
    (["chars 1", "5", "special 0"], r"c.model:3: expected a JSON string of one character"),
    (["chars 1", "null", "special 0"], r"c.model:3: expected a JSON string of one character"),
    (["chars 1", '"ab"', "special 0"], r"c.model:3: expected a JSON string of one character"),
    (["chars 1", '"a"', "special 1", "7"], r"c.model:5: expected a JSON string of a non-empty"),
    (["chars 2", '"a"'], r"c.model:4: expected a JSON string of one character"),
    (["chars x"], r"c.model:2: expected 'chars N'"),
    (["chars 2", '"a"', '"a"', "special 0"], r"c.model: a character vocabulary needs distinct"),
])
def test_char_load_rejects_bad_entries(tmp_path, lines, message):
    path = tmp_path / "c.model"
    path.write_text("\n".join(["nanonlp-char 1", *lines]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        CharTokenizer.load(path)


@pytest.mark.parametrize("name, data, message", [
    ("odd.bin", b"\x01\x00\x02", "3 bytes is not a whole number of uint16 token ids"),
    ("empty.npy", b"", "not a .npy token array"),
    ("junk.npy", b"\x93NUMPY garbage", "not a .npy token array"),
])
def test_read_tokens_rejects_bad_files(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DataError, match=f"{name}: {message}"):
        read_tokens(tmp_path / name, 300)


def test_read_tokens_rejects_non_integer_arrays(tmp_path):
    np.save(tmp_path / "f.npy", np.array([1.0, 2.0]))
    with pytest.raises(DataError, match=r"f.npy: expected a 1-D integer array .* float64"):
        read_tokens(tmp_path / "f.npy")
    np.save(tmp_path / "o.npy", np.array([1, "a"], dtype=object))
    with pytest.raises(DataError, match=r"o\.npy: not a \.npy token array"):
        read_tokens(tmp_path / "o.npy")
    (tmp_path / "e.bin").write_bytes(b"")
    assert read_tokens(tmp_path / "e.bin", 300).tolist() == []


def test_small_inputs_stay_in_one_process(tok, tmp_path, monkeypatch):
    """`workers` is a cap: under MIN_PARALLEL_CHARS no pool starts (it would cost more)."""
    from nanonlp.bpe import tokenizer

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started for a small input")

    monkeypatch.setattr(tokenizer, "process_pool", no_pool)
    texts = [CORPUS] * 3
    assert tok.encode_batch(texts, workers=2) == [tok.encode(t) for t in texts]
    src = tmp_path / "in.txt"
    src.write_text(CORPUS, encoding="utf-8")
    tok.encode_file(src, tmp_path / "out.npy", workers=2)
    assert read_tokens(tmp_path / "out.npy").tolist() == tok.encode(CORPUS, allowed_special="all")
