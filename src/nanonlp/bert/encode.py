"""How text becomes encoder input, for fine-tuning and for inference alike (Devlin et al.
2019, section 3 and figure 2).

* A text is ``[CLS] text [SEP]``; a sentence pair is ``[CLS] a [SEP] b [SEP]`` with token types
  0 through the first [SEP] and 1 after, and an over-long pair loses tokens from the longer
  text first (:func:`truncate_pair`, BERT's and HF's ``longest_first``).
* A sentence of words (a token task) encodes each word separately, with the leading space a
  word has in running text, and puts the word's tag at its first sub-word and -1 (ignored)
  everywhere else, the alignment of the BERT paper's NER experiment (:func:`encode_words`).
* Rows of different lengths are padded to the longest row of their batch (:func:`collate`),
  never to the position table, so a batch of short sentences costs what short sentences cost.

Everything is cut to ``block_size``; ``lower`` lower-cases first (an uncased model of ours; an
imported WordPiece folds case itself). A literal "[MASK]" in a text stays ordinary text.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nanonlp.errors import DataError


def truncate_pair(a: list[int], b: list[int], room: int) -> tuple[list[int], list[int]]:
    """Cut the longer of two token lists by one token at a time until both fit in ``room``
    (the ``longest_first`` rule of BERT's and HF's pair encoding).

    >>> truncate_pair([1, 2, 3, 4, 5], [6, 7, 8], 5)
    ([1, 2, 3], [6, 7])
    """
    a, b = list(a), list(b)
    while len(a) + len(b) > room:
        (a if len(a) > len(b) else b).pop()  # a tie cuts the second (BERT's rule)
    return a, b


def encode_example(tok, text: str, pair: str | None, ids: dict[str, int], block_size: int,
                   lower: bool = False) -> tuple[list[int], list[int] | None, bool]:
    """``[CLS] text [SEP]``, or ``[CLS] text [SEP] pair [SEP]`` with token types (0 through
    the first [SEP], 1 after), cut to ``block_size``; also whether anything was cut."""
    def enc(t: str) -> list[int]:
        return tok.encode(t.lower() if lower else t, disallowed_special=())

    a = enc(text)
    if pair is None:
        body = a[:block_size - 2]
        return [ids["cls_id"], *body, ids["sep_id"]], None, len(body) < len(a)
    b = enc(pair)
    ca, cb = truncate_pair(a, b, block_size - 3)
    x = [ids["cls_id"], *ca, ids["sep_id"], *cb, ids["sep_id"]]
    types = [0] * (len(ca) + 2) + [1] * (len(cb) + 1)  # segment A: [CLS] a [SEP]; B: b [SEP]
    return x, types, len(ca) + len(cb) < len(a) + len(b)


def encode_text(tok, text: str, ids: dict[str, int], block_size: int,
                lower: bool = False) -> list[int]:
    """``[CLS] text [SEP]``, the text cut to fit ``block_size``."""
    return encode_example(tok, text, None, ids, block_size, lower)[0]


def encode_words(tok, words: Sequence[str], tags: Sequence[int] | None,
                 ids: dict[str, int], block_size: int, lower: bool = False
                 ) -> tuple[list[int], list[int], list[int]]:
    """Sub-word ids of a sentence, first-sub-word targets, and where each word starts.

    Each word is encoded as `` word`` (the form it has after a space in running text). The
    targets hold the word's tag at its first sub-word and -1 elsewhere ([CLS], [SEP], later
    sub-words). ``starts[i]`` is word i's first position, or -1 if the sentence was cut before it.
    """
    out, targets, starts = [ids["cls_id"]], [-1], []
    for i, w in enumerate(words):
        w = w.lower() if lower else w
        pieces = tok.encode(" " + w, disallowed_special=()) or [ids["sep_id"]]
        if len(out) + len(pieces) > block_size - 1:
            starts.extend([-1] * (len(words) - i))
            break
        starts.append(len(out))
        targets += [tags[i] if tags is not None else -1] + [-1] * (len(pieces) - 1)
        out += pieces
    return [*out, ids["sep_id"]], [*targets, -1], starts


def label_index(labels: Sequence[str], found: Sequence[str], where: str) -> list[int]:
    """Map label names to their indices; a name not in ``labels`` is a :class:`DataError`.

    >>> label_index(["neg", "pos"], ["pos", "neg"], "dev")
    [1, 0]
    """
    index = {lab: i for i, lab in enumerate(labels)}
    out = []
    for k, lab in enumerate(found):
        if lab not in index:
            raise DataError(f"{where}: label {lab!r} (item {k}) is not in the label set "
                            f"{list(labels)}")
        out.append(index[lab])
    return out


def collate(rows: list[tuple], pad_id: int, token: bool) -> tuple[torch.Tensor, ...]:
    """Pad rows to the longest one: ``(ids, targets)``, or ``(ids, targets, token_types)``
    when the rows carry types. A row is ``(ids, target)`` or ``(ids, target, types)``; ids
    pad with ``pad_id``, types with 0, and token-task targets (a list per row) with -1.

    >>> x, y = collate([([5, 6, 7], 1), ([5, 7], 0)], pad_id=0, token=False)
    >>> x.tolist(), y.tolist()
    ([[5, 6, 7], [5, 7, 0]], [1, 0])
    """
    T = max(len(r[0]) for r in rows)
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    y = torch.full((len(rows), T), -1, dtype=torch.long) if token \
        else torch.tensor([r[1] for r in rows], dtype=torch.long)
    pairs = len(rows[0]) > 2
    tt = torch.zeros((len(rows), T), dtype=torch.long) if pairs else None
    for i, row in enumerate(rows):
        x[i, :len(row[0])] = torch.tensor(row[0])
        if token:
            y[i, :len(row[1])] = torch.tensor(row[1])
        if pairs:
            tt[i, :len(row[2])] = torch.tensor(row[2])
    return (x, y) if tt is None else (x, y, tt)
