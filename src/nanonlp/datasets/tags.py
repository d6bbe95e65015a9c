"""Entity tag schemes: BIO (IOB2), IOB1 and BILOU, converted to BIO and checked, as pure functions.

The one reader of tagged column files (:func:`nanonlp.datasets.readers.read_conll`) turns its
file's scheme into BIO here, so the rest of nanonlp sees one scheme. A tag is ``O`` or
``PREFIX-TYPE``:

* **BIO** (IOB2): every entity starts with ``B-``, continues with ``I-``;
* **IOB1** (CoNLL-2003's): an entity starts with ``I-``; ``B-`` only starts an entity that
  directly follows another of the same type;
* **BILOU** (BILUO, spaCy's): ``B-`` begins, ``I-`` continues, ``L-`` ends an entity of several
  tokens, ``U-`` is an entity of one token.

Conversion is strict: a tag that breaks its scheme raises :class:`ValueError` (the readers turn
it into a :class:`~nanonlp.errors.DataError` naming the file and line), never a silent repair.
Left out: nested or overlapping entities, which none of these schemes can express.
"""

from __future__ import annotations

from typing import Literal

Scheme = Literal["bio", "iob1", "bilou"]
SCHEMES = ("bio", "iob1", "bilou")
PREFIXES = {"bio": "BI", "iob1": "BI", "bilou": "BILU"}  # tag prefixes each scheme allows


def iob1_to_bio(tags: list[str]) -> list[str]:
    """Convert IOB1 tags (CoNLL-2003's scheme) to BIO (IOB2).

    In IOB1 an entity starts with ``I-``; ``B-`` appears only where an entity directly follows
    another of the same type. In BIO every entity starts with ``B-``.

    >>> iob1_to_bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'B-ORG']
    """
    out = []
    prev = "O"
    for tag in tags:
        if tag == "O":
            out.append(tag)
        else:
            prefix, _, etype = tag.partition("-")
            if prefix not in ("B", "I") or not etype:
                raise ValueError(f"not an IOB tag: {tag!r}")
            starts = prefix == "B" or prev == "O" or prev[2:] != etype
            out.append(("B-" if starts else "I-") + etype)
        prev = tag
    return out


def bilou_to_bio(tags: list[str]) -> list[str]:
    """Convert BILOU (BILUO) tags to BIO, checking that every entity opens and closes.

    ``U-`` (a one-token entity) becomes ``B-``; ``L-`` (the last token) becomes ``I-``.

    >>> bilou_to_bio(["U-PER", "O", "B-ORG", "I-ORG", "L-ORG", "B-LOC", "L-LOC"])
    ['B-PER', 'O', 'B-ORG', 'I-ORG', 'I-ORG', 'B-LOC', 'I-LOC']
    >>> bilou_to_bio(["B-PER", "O"])
    Traceback (most recent call last):
    ...
    ValueError: BILOU tag 'O' at token 2 follows the unclosed 'B-PER'
    """
    out = []
    open_type = None  # type of the entity still open after the previous token
    for i, tag in enumerate([*tags, "O"]):
        prefix, etype = split_tag(tag, "BILU")
        inside = prefix in ("I", "L")
        if open_type is not None and (not inside or etype != open_type):
            where = f"at token {i + 1}" if i < len(tags) else "at the end"
            raise ValueError(f"BILOU tag {tag!r} {where} follows the unclosed 'B-{open_type}'"
                             if i < len(tags) else
                             f"BILOU entity 'B-{open_type}' is not closed {where}")
        if open_type is None and inside:
            raise ValueError(f"BILOU tag {tag!r} at token {i + 1} has no opening B-")
        if i == len(tags):
            break
        out.append("O" if prefix == "O" else ("B-" if prefix in "BU" else "I-") + etype)
        open_type = etype if prefix in ("B", "I") else None
    return out


def check_bio(tags: list[str]) -> list[str]:
    """Return BIO ``tags`` unchanged after checking that each ``I-`` continues its type.

    >>> check_bio(["B-PER", "I-PER", "O"])
    ['B-PER', 'I-PER', 'O']
    >>> check_bio(["O", "I-PER"])
    Traceback (most recent call last):
    ...
    ValueError: BIO tag 'I-PER' at token 2 follows 'O' (an entity must start with B-)
    """
    prev = "O"
    for i, tag in enumerate(tags):
        prefix, etype = split_tag(tag, "BI")
        if prefix == "I" and (prev == "O" or prev[2:] != etype):
            raise ValueError(f"BIO tag {tag!r} at token {i + 1} follows {prev!r} "
                             "(an entity must start with B-)")
        prev = tag
    return tags


def to_bio(tags: list[str], scheme: str) -> list[str]:
    """Convert ``tags`` from ``scheme`` (bio, iob1, bilou) to BIO, raising ValueError if invalid.

    >>> to_bio(["I-PER", "I-LOC", "O", "I-ORG"], "iob1")   # a type switch starts an entity
    ['B-PER', 'B-LOC', 'O', 'B-ORG']
    """
    if scheme == "bio":
        return check_bio(tags)
    if scheme == "iob1":
        for tag in tags:
            split_tag(tag, "BI")
        return iob1_to_bio(tags)
    if scheme == "bilou":
        return bilou_to_bio(tags)
    raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """The entities of a BIO sequence as ``(start, end, label)`` token spans, end exclusive.

    >>> bio_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"])
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC')]
    """
    spans = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (not spans or spans[-1][1] != i
                                                               or spans[-1][2] != tag[2:])):
            spans.append((i, i + 1, tag[2:]))
        elif tag.startswith("I-"):
            spans[-1] = (spans[-1][0], i + 1, spans[-1][2])
    return spans


def split_tag(tag: str, prefixes: str) -> tuple[str, str]:
    """``"B-PER" -> ("B", "PER")``; ``"O" -> ("O", "")``; anything else is a ValueError.

    >>> split_tag("B-PER", "BI")
    ('B', 'PER')
    >>> split_tag("U-PER", "BI")
    Traceback (most recent call last):
    ...
    ValueError: tag 'U-PER' is not O or B-, I-TYPE
    """
    if tag == "O":
        return "O", ""
    prefix, sep, etype = tag.partition("-")
    if not sep or not etype or len(prefix) != 1 or prefix not in prefixes:
        allowed = ", ".join(f"{p}-" for p in prefixes)
        raise ValueError(f"tag {tag!r} is not O or {allowed}TYPE")
    return prefix, etype
