"""Fuzz of the readers added since the first hardening round (issue #30): the embeddings index
(``bert search``'s ``vecs.npy`` and its ``vecs.npy.json``) and the own-data readers of ``bert
finetune --train`` (TSV, CSV, JSONL, sentence pairs). Whatever the bytes, they return or raise
a :class:`~nanonlp.errors.NanonlpError`: never numpy's, json's or csv's own exceptions.

Bounded (200 examples each, derandomized) so the file runs in seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nanonlp.errors import NanonlpError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


GOOD_NPY = _npy(np.arange(6, dtype=np.float32).reshape(3, 2))


@st.composite
def npy_bytes(draw) -> bytes:
    """A real .npy of a random array (dtype, shape, object or not), then perhaps cut short,
    a byte flipped, or its header rewritten; or random bytes after the magic string."""
    kind = draw(st.sampled_from(["array", "header", "random"]))
    if kind == "random":
        return b"\x93NUMPY" + draw(st.binary(max_size=200))
    if kind == "header":  # a hand-written header announcing any shape or dtype
        descr = draw(st.sampled_from(["<f4", ">f8", "<f2", "<i8", "|O", "|b1", "<c8", "V8",
                                      "[('a', '<f4')]", "'x'", "5"]))
        shape = draw(st.lists(st.integers(-2, 10**12), max_size=3).map(tuple))
        header = f"{{'descr': {descr if descr[0] in '[5' else repr(descr)}, " \
                 f"'fortran_order': {draw(st.booleans())}, 'shape': {shape}, }}"
        head = header.encode("latin1")
        head += b" " * (-(10 + len(head) + 1) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + \
            draw(st.binary(max_size=64))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, np.int32, object]))
    shape = draw(st.lists(st.integers(0, 4), max_size=3).map(tuple))
    fill = draw(st.sampled_from([0.5, np.nan, np.inf, 1])) if dtype not in (np.int32, object) \
        else 1
    values = np.full(shape, fill, dtype=dtype)
    data = bytearray(_npy(values))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    if data and draw(st.booleans()):
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                        lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=10)


def _load_index(npy: bytes, sidecar: bytes) -> None:
    from nanonlp.bert.embed import load_index

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "vecs.npy").write_bytes(npy)
        (Path(d) / "vecs.npy.json").write_bytes(sidecar)
        with contextlib.suppress(NanonlpError):  # the one kind of error allowed
            vecs, lines, meta = load_index(Path(d) / "vecs.npy")
            # what load_index returns is what search relies on
            assert vecs.ndim == 2 and vecs.dtype == np.float32 and len(vecs) == len(lines) > 0
            assert np.isfinite(vecs).all() and all(isinstance(t, str) for t in lines)


@FUZZ
@given(npy_bytes(), st.one_of(st.none(), st.lists(st.text(max_size=8), max_size=5)))
def test_fuzz_index_matrix(npy, lines):
    """Any matrix bytes, with a sidecar whose hash matches them (a hand-edited index)."""
    meta = {"format": "nanonlp-embeddings", "version": 1, "pooling": "mean",
            "npy_sha256": hashlib.sha256(npy).hexdigest()}
    if lines is not None:
        meta["lines"] = lines
    _load_index(npy, json.dumps(meta).encode())


@FUZZ
@given(st.one_of(
    st.binary(max_size=200),
    _json_values().map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["version", "pooling", "lines", "rows", "dim", "checkpoint"]),
                    _json_values())
    .map(lambda d: json.dumps({"format": "nanonlp-embeddings",
                               "npy_sha256": hashlib.sha256(GOOD_NPY).hexdigest(), **d})
         .encode())))
def test_fuzz_index_sidecar(sidecar):
    """Any sidecar beside a good matrix."""
    _load_index(GOOD_NPY, sidecar)


def _with_prefixes(*prefixes: bytes):
    """Random bytes, or a plausible start of the format followed by random bytes or text."""
    return st.one_of(st.binary(max_size=300),
                     st.builds(lambda p, b: p + b, st.sampled_from(prefixes),
                               st.binary(max_size=300)),
                     st.builds(lambda p, t: p + t.encode("utf-8", "surrogatepass")[:300],
                               st.sampled_from(prefixes), st.text(max_size=100)))


def _own_readers():
    from nanonlp.datasets.labelled import read_labelled, read_pairs

    tsv = (b"sentence\tlabel\n", b"\xef\xbb\xbfa cat\tpos\n", b"a\tb\tpos\n", b"a cat\tpos\n")
    csv = (b"text,label\n", b'"a, cat",pos\n', b'\xef\xbb\xbftext,label\n"unclosed', b"a,b,c\n")
    jsonl = (b'{"text": "a", "label": "x"}\n', b'{"text": "a", "text_pair": "b", "label": 1}\n',
             b'\xef\xbb\xbf{"text": "a", "label": NaN}\n', b"[1, 2]\n")
    return {
        "tsv": (".tsv", _with_prefixes(*tsv), read_labelled),
        "tsv-columns": (".tsv", _with_prefixes(*tsv), lambda p: read_labelled(
            p, text_column="1", label_column="label", text_pair_column="-1")),
        "csv": (".csv", _with_prefixes(*csv), read_labelled),
        "csv-headerless": (".csv", _with_prefixes(*csv), lambda p: read_labelled(
            p, header=False)),
        "jsonl": (".jsonl", _with_prefixes(*jsonl), read_labelled),
        "jsonl-named": (".jsonl", _with_prefixes(*jsonl), lambda p: read_labelled(
            p, text_column="text", text_pair_column="text_pair", label_column="label")),
        "pairs": (".tsv", _with_prefixes(*tsv), read_pairs),
    }


@pytest.mark.parametrize("name", sorted(_own_readers()))
def test_fuzz_own_data_reader(name):
    suffix, strategy, read = _own_readers()[name]

    @FUZZ
    @given(strategy)
    def run(data):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / f"train{suffix}"
            p.write_bytes(data)
            with contextlib.suppress(NanonlpError):  # the one kind of error allowed
                for r in read(p):
                    # what the model is given: text, never a NUL or a BOM glued to it
                    texts = r if isinstance(r, tuple) else (r.text, r.label)
                    assert all(isinstance(t, str) and t and "\0" not in t for t in texts) \
                        or name == "pairs"

    run()
