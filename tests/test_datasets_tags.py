"""Tag schemes: every scheme's encoding of the same entities converts to the same BIO and spans;
a tag that breaks its scheme is an error, never repaired. No spaCy needed."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanonlp.datasets import tags as T

# A sentence as segments: None is an O token, (type, length) an entity.
SEGMENTS = st.lists(st.one_of(st.none(), st.tuples(st.sampled_from(["PER", "LOC"]),
                                                   st.integers(1, 3))), max_size=12)


def encode(segments) -> dict[str, list[str]]:
    """The tags of ``segments`` in each scheme, written out from the schemes' definitions,
    and the entity spans."""
    out = {"bio": [], "iob1": [], "bilou": [], "spans": []}
    prev_type = None  # type of the entity that ends on the previous token
    for seg in segments:
        i = len(out["bio"])
        if seg is None:
            for scheme in ("bio", "iob1", "bilou"):
                out[scheme].append("O")
            prev_type = None
            continue
        etype, n = seg
        out["spans"].append((i, i + n, etype))
        out["bio"] += [f"B-{etype}"] + [f"I-{etype}"] * (n - 1)
        # IOB1: B- only where an entity directly follows one of the same type
        out["iob1"] += [f"{'B' if prev_type == etype else 'I'}-{etype}"] + [f"I-{etype}"] * (n - 1)
        out["bilou"] += ([f"U-{etype}"] if n == 1 else
                         [f"B-{etype}"] + [f"I-{etype}"] * (n - 2) + [f"L-{etype}"])
        prev_type = etype
    return out


@given(SEGMENTS)
def test_every_scheme_gives_the_same_bio_and_spans(segments):
    enc = encode(segments)
    for scheme in T.SCHEMES:
        assert T.to_bio(enc[scheme], scheme) == enc["bio"], scheme
    assert T.iob1_to_bio(enc["iob1"]) == enc["bio"]
    assert T.bilou_to_bio(enc["bilou"]) == enc["bio"]
    assert T.check_bio(enc["bio"]) == enc["bio"]
    assert T.bio_spans(enc["bio"]) == enc["spans"]


def test_known_answers():
    # CoNLL-2003's IOB1: I- after O opens an entity, B- splits two of the same type
    assert T.iob1_to_bio(["I-ORG", "O", "I-PER", "I-PER", "B-PER", "I-LOC"]) == \
        ["B-ORG", "O", "B-PER", "I-PER", "B-PER", "B-LOC"]
    assert T.bilou_to_bio(["U-PER", "B-LOC", "L-LOC"]) == ["B-PER", "B-LOC", "I-LOC"]
    # bio_spans also reads an I- that opens a span (as IOB1 would), without raising
    assert T.bio_spans(["I-PER", "I-LOC", "O"]) == [(0, 1, "PER"), (1, 2, "LOC")]
    assert T.to_bio([], "bilou") == [] and T.bio_spans([]) == []
    assert T.split_tag("O", "BI") == ("O", "")
    assert T.split_tag("L-WORK_OF_ART", "BILU") == ("L", "WORK_OF_ART")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: T.check_bio(["O", "I-PER"]), "'I-PER' at token 2 follows 'O'"),
    (lambda: T.check_bio(["B-PER", "I-LOC"]), "'I-LOC' at token 2 follows 'B-PER'"),
    (lambda: T.to_bio(["U-PER"], "bio"), "tag 'U-PER' is not O or B-, I-TYPE"),
    (lambda: T.to_bio(["PER"], "iob1"), "tag 'PER' is not O or B-, I-TYPE"),
    (lambda: T.iob1_to_bio(["X-PER"]), "not an IOB tag: 'X-PER'"),
    (lambda: T.bilou_to_bio(["B-PER", "O"]), "'O' at token 2 follows the unclosed 'B-PER'"),
    (lambda: T.bilou_to_bio(["B-PER"]), "'B-PER' is not closed at the end"),
    (lambda: T.bilou_to_bio(["I-PER"]), "'I-PER' at token 1 has no opening B-"),
    (lambda: T.split_tag("B-", "BI"), "tag 'B-' is not O"),
    (lambda: T.split_tag("BI-PER", "BI"), "tag 'BI-PER' is not O"),
    (lambda: T.to_bio(["O"], "bioes"), "unknown tag scheme 'bioes'"),
])
def test_broken_tags_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples():
    assert doctest.testmod(T).failed == 0


def test_pure_python_no_spacy():
    # the module is shared by datasets (no spaCy) and ner: it must import nothing heavy
    tree = ast.parse(Path(T.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "typing"}
