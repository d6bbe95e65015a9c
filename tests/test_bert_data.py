"""BERT data: special tokens, packing, dynamic masking, label alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nanonlp.bert.data import MLMData, mask_tokens, pack_sentences, special_ids
from nanonlp.bert.encode import collate, encode_words, label_index
from nanonlp.bpe import Tokenizer
from nanonlp.errors import DataError

SPECIALS = ["[CLS]", "[SEP]", "[MASK]", "[PAD]"]


def test_special_ids_known_answer():
    tok = Tokenizer(special_tokens=SPECIALS)
    assert special_ids(tok) == {"cls_id": 256, "sep_id": 257, "mask_id": 258, "pad_id": 259}


def test_tokenizer_without_specials_is_a_clear_error():
    tok = Tokenizer(special_tokens=["<|endoftext|>", "[CLS]"])
    with pytest.raises(DataError, match=r"my\.model: lacks the special token\(s\) \[SEP\] "
                                        r"\[MASK\] \[PAD\]"):
        special_ids(tok, "my.model")


def test_pack_sentences_known_answer_and_long_sentence():
    rows = pack_sentences([[5, 6], [7], [8, 9, 10]], 6, cls_id=1, sep_id=2, pad_id=0)
    assert rows.tolist() == [[1, 5, 6, 2, 7, 2], [1, 8, 9, 10, 2, 0]]
    # a sentence longer than a row is cut into full rows; empty sentences vanish
    rows = pack_sentences([[], list(range(10, 20))], 6, cls_id=1, sep_id=2, pad_id=0)
    assert rows.tolist() == [[1, 10, 11, 12, 13, 2], [1, 14, 15, 16, 17, 2],
                             [1, 18, 19, 2, 0, 0]]


def test_masking_proportions_at_fixed_seed():
    V, mask, cls, sep, pad = 100, 97, 96, 98, 99
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 96, (400, 128), generator=g)
    ids[:, 0], ids[:, 64], ids[:, 100:] = cls, sep, pad  # specials and padding
    x, y = mask_tokens(ids, mask_id=mask, special=[cls, sep, mask, pad], vocab_size=V,
                       generator=torch.Generator().manual_seed(1))
    ordinary = (ids != cls) & (ids != sep) & (ids != pad)
    chosen = y != -1
    assert not (chosen & ~ordinary).any()  # special and padding tokens never predicted
    assert torch.equal(x[~ordinary], ids[~ordinary])  # ... and never changed
    assert torch.equal(y[chosen], ids[chosen])  # targets are the original ids
    assert torch.equal(x[~chosen], ids[~chosen])  # only chosen positions change
    rate = chosen.sum().item() / ordinary.sum().item()
    assert abs(rate - 0.15) < 0.005
    n = chosen.sum().item()
    masked = (x[chosen] == mask).sum().item() / n
    kept = (x[chosen] == ids[chosen]).sum().item() / n
    replaced = 1 - masked - kept
    assert abs(masked - 0.8) < 0.015
    assert abs(kept - 0.1) < 0.015  # (a random token equal to the original counts as kept)
    assert abs(replaced - 0.1) < 0.015
    assert not torch.isin(x[chosen & (x != mask)], torch.tensor([cls, sep, pad])).any()


def test_mlm_batches_are_reproducible_and_fresh():
    rows = pack_sentences([list(range(10, 40))] * 20, 16, cls_id=1, sep_id=2, pad_id=0)
    data = MLMData({"train": rows, "val": rows[:2]}, vocab_size=50, cls_id=1, sep_id=2,
                   mask_id=3, pad_id=0)
    a = data.batch("train", 8, torch.Generator().manual_seed(5))
    b = data.batch("train", 8, torch.Generator().manual_seed(5))
    assert torch.equal(a[0][0], b[0][0]) and torch.equal(a[1], b[1])
    g = torch.Generator().manual_seed(5)
    first, second = data.batch("train", 8, g), data.batch("train", 8, g)
    assert not torch.equal(first[1], second[1])  # dynamic masking: a new draw each batch
    assert a[0][0].shape == a[1].shape == (8, 16)


def test_mlm_data_rejects_ids_outside_vocabulary():
    with pytest.raises(DataError, match="token id 60 is outside the vocabulary"):
        MLMData({"train": np.array([[1, 60, 2]])}, vocab_size=50, cls_id=1, sep_id=2,
                mask_id=3, pad_id=0)


def test_first_subword_alignment():
    tok = Tokenizer.train(["the cat sat"] * 3, _cfg(270))
    ids = special_ids(tok)
    x, y, starts = encode_words(tok, ["the", "Zanzibar", "cat"], [0, 1, 2], ids, 64)
    pieces = [tok.encode(" " + w) for w in ["the", "Zanzibar", "cat"]]
    assert len(pieces[1]) > 1  # an unseen word falls apart into several sub-words
    assert x == [ids["cls_id"], *pieces[0], *pieces[1], *pieces[2], ids["sep_id"]]
    assert starts == [1, 1 + len(pieces[0]), 1 + len(pieces[0]) + len(pieces[1])]
    assert [y[s] for s in starts] == [0, 1, 2]
    assert sum(t != -1 for t in y) == 3  # only first sub-words carry a label
    # a sentence cut by the position table: the words that did not fit have no position
    _, _, starts = encode_words(tok, ["the", "Zanzibar", "cat"], None, ids, 2 + len(pieces[0]))
    assert starts == [1, -1, -1]


def test_unknown_label_is_a_clear_error():
    assert label_index(["neg", "pos"], ["pos", "neg"], "dev") == [1, 0]
    with pytest.raises(DataError, match=r"sst2 val: label 'neutral' \(item 1\) is not in the "
                                        r"label set \['neg', 'pos'\]"):
        label_index(["neg", "pos"], ["pos", "neutral"], "sst2 val")


def test_labelled_batches_pad_ids_and_targets():
    x, y = collate([([1, 5, 2], [-1, 0, -1]), ([1, 5, 6, 7, 2], [-1, 1, 0, 0, -1])],
                   pad_id=9, token=True)
    assert x.tolist() == [[1, 5, 2, 9, 9], [1, 5, 6, 7, 2]]
    assert y.tolist() == [[-1, 0, -1, -1, -1], [-1, 1, 0, 0, -1]]


def _cfg(vocab):
    from nanonlp.bpe import BPEConfig

    return BPEConfig(vocab_size=vocab, special=tuple(SPECIALS), workers=1)
