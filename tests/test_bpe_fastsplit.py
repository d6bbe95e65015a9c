"""The compiled GPT-4 split (bpe.fastsplit) gives regex.findall's chunks, and the tokenizer's
ids do not depend on which split ran."""

from __future__ import annotations

import random

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bpe_core import CORPUS, EDGE_CASES

from nanonlp.bpe import BPEConfig, Tokenizer
from nanonlp.bpe import tokenizer as tokenizer_module
from nanonlp.bpe.fastsplit import LETTER, NEWLINE, OTHER, SPACE, classify, split_gpt4
from nanonlp.bpe.patterns import GPT4_PATTERN

SPLIT = regex.compile(GPT4_PATTERN)
# the characters each rule of the pattern turns on, many times over, so random strings meet
# contractions (long s included), every kind of white space and line break, marks and digits
TRICKY = ("'''   \n\n\r\r\t\x0b\x0c\x85\xa0\u2028\u3000 sdmtlvreSDMTLVRE\u017f\u212a"
          "\u0301\u00e9\u4e2d\u0663\u00bd\U0001F600\ud800\x00\x1c.,!?-_09az")


@pytest.mark.parametrize("text", [*EDGE_CASES, CORPUS, "", "\x00", "'", "'s", "'LL", "a'"])
def test_edge_cases(text):
    assert split_gpt4(text) == SPLIT.findall(text)


def test_random_strings_of_tricky_characters():
    rnd = random.Random(0)
    alphabet = TRICKY + "".join(map(chr, range(128)))
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 40)))
        assert split_gpt4(text) == SPLIT.findall(text), repr(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_any_text(text):
    assert split_gpt4(text) == SPLIT.findall(text)


def test_every_code_point_once():
    # each character between two letters and between two spaces: every class decision
    text = "".join(f"a{chr(c)}a {chr(c)} " for c in range(0, 0x110000, 7))
    assert split_gpt4(text) == SPLIT.findall(text)


def test_classes():
    assert [classify(c) for c in "x \n.\u2028"] == [LETTER, SPACE, NEWLINE, OTHER, SPACE]


def test_tokenizer_ids_do_not_depend_on_the_split(monkeypatch):
    text = (CORPUS * 40)[:70_000]  # over FAST_MIN_CHARS: the compiled split runs
    tok = Tokenizer.train(CORPUS, BPEConfig(vocab_size=300, pattern="gpt4"))
    assert Tokenizer(tok.merges, tok.pattern).split(text) == SPLIT.findall(text)
    fast = Tokenizer(tok.merges, tok.pattern).encode_ordinary(text)
    monkeypatch.setattr(tokenizer_module, "FAST_MIN_CHARS", 10**9)
    monkeypatch.setattr(tokenizer_module, "FAST_MIN_CHUNKS", 10**9)
    slow_tok = Tokenizer(tok.merges, tok.pattern)
    assert slow_tok.encode_ordinary(text) == fast
    assert slow_tok._fast is None  # neither compiled path ran


def test_counting_with_the_compiled_split():
    from nanonlp.bpe.train import count_chunks_in

    texts = [CORPUS * 300, "short text", CORPUS + "<|endoftext|>" + CORPUS * 200]
    slow = count_chunks_in(texts, GPT4_PATTERN, ["<|endoftext|>"])
    assert count_chunks_in(texts, GPT4_PATTERN, ["<|endoftext|>"], fast_split=True) == slow
