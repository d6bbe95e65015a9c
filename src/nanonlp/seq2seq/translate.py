"""Decoding: batched greedy search and batched beam search, both returning attention.

Greedy takes the most likely word at each step. Beam search (Sutskever et al. 2014; the
length normalisation of Wu et al. 2016, GNMT) keeps the ``beam`` best prefixes per sentence;
a prefix that emits ``<eos>`` is set aside as a finished hypothesis scored
``log p / lp(len)`` with ``lp = ((5 + len) / 6) ** alpha`` (``alpha = 0``: raw log
probability); a sentence is done when it has ``beam`` finished hypotheses, or at ``max_len``
(when its live prefixes are finished as they stand). All sentences of a batch are searched at
once as ``B * beam`` rows; with ``beam = 1`` this is exactly greedy search.

:class:`Translator` puts a checkpoint's model and vocabularies together: raw text in,
translated text (and attention) out.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from nanonlp.errors import ConfigError, DataError
from nanonlp.seq2seq.model import Seq2Seq, load_model
from nanonlp.seq2seq.vocab import BOS, EOS, PAD, UNK, Vocab, load_vocab

SRC_VOCAB, TGT_VOCAB, DATA_FILE = "src_vocab.txt", "tgt_vocab.txt", "data.json"


@dataclass
class Hypothesis:
    tokens: list[int]  # output ids, without <bos> and <eos>
    score: float  # sum of log probabilities (including <eos> when it ended)
    attention: torch.Tensor  # (len(tokens) + 1 if ended else len(tokens), S) weights per step


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha``.

    >>> length_penalty(1, 1.0), length_penalty(7, 1.0), length_penalty(7, 0.0)
    (1.0, 2.0, 1.0)
    """
    return ((5 + length) / 6) ** alpha


def check_alpha(alpha: float) -> float:
    """``alpha`` if it is a finite number: a NaN exponent makes every score NaN, and the beam
    then ranks hypotheses by nothing.

    >>> check_alpha(float("nan"))
    Traceback (most recent call last):
    nanonlp.errors.ConfigError: alpha must be a finite number, got nan
    """
    if not math.isfinite(alpha):
        raise ConfigError(f"alpha must be a finite number, got {alpha}")
    return alpha


@torch.no_grad()
def greedy(model: Seq2Seq, src: torch.Tensor, max_len: int | None = None) -> list[Hypothesis]:
    """Most likely word at every step, for a batch src (B, S); one hypothesis per sentence."""
    model.eval()
    max_len = max_len or model.config.max_len
    enc = model.encode(src)
    B = src.size(0)
    y = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    h = enc.hidden
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    steps, attn, scores = [], [], torch.zeros(B)
    for _ in range(max_len):
        logits, h, w = model.step(y, h, enc)
        logp = torch.log_softmax(logits.float(), -1)  # (B, V)
        y = logp.argmax(-1)  # (B,)
        scores += torch.where(done, 0.0, logp.gather(1, y[:, None]).squeeze(1)).cpu()
        y = y.masked_fill(done, PAD)
        steps.append(y)
        attn.append(w)
        done |= y == EOS
        if bool(done.all()):
            break
    ys = torch.stack(steps, 1).cpu()  # (B, t)
    ws = torch.stack(attn, 1).cpu()  # (B, t, S)
    out = []
    for b in range(B):
        row = ys[b].tolist()
        n = row.index(EOS) + 1 if EOS in row else len(row)  # steps taken, <eos> included
        S = int(enc.mask[b].sum())
        out.append(Hypothesis(row[:n][:-1] if row[n - 1] == EOS else row[:n],
                              float(scores[b]), ws[b, :n, :S]))
    return out


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, beam: int = 5, alpha: float = 1.0,
                max_len: int | None = None) -> list[Hypothesis]:
    """The best of ``beam`` hypotheses for each sentence of src (B, S), by length-normalised
    score (see the module docstring)."""
    return [ranked[0][1] for ranked in beam_search_nbest(model, src, beam, alpha, max_len)]


@torch.no_grad()
def beam_search_nbest(model: Seq2Seq, src: torch.Tensor, beam: int = 5, alpha: float = 1.0,
                      max_len: int | None = None) -> list[list[tuple[float, Hypothesis]]]:
    """Every finished hypothesis of the beam for each sentence of src (B, S), as
    ``(length-normalised score, hypothesis)`` pairs, best first (at most ``beam`` of them);
    the first is :func:`beam_search`'s answer."""
    if beam < 1:
        raise ConfigError(f"beam must be >= 1, got {beam}")
    model.eval()
    max_len = max_len or model.config.max_len
    B, K = src.size(0), beam
    dev = src.device
    enc = model.encode(src).index(torch.arange(B, device=dev).repeat_interleave(K))  # B*K rows
    h = enc.hidden
    y = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
    # only the first copy of each sentence is live at the start: the others would duplicate it
    score = torch.full((B, K), float("-inf"), device=dev)
    score[:, 0] = 0.0
    tokens = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    attn = torch.zeros(B * K, 0, src.size(1), device=dev)
    finished: list[list[tuple[float, Hypothesis]]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(max_len):
        logits, h, w = model.step(y, h, enc)
        logp = torch.log_softmax(logits.float(), -1)  # (B*K, V)
        V = logp.size(-1)
        cand = (score.view(B * K, 1) + logp).view(B, K * V)  # (B, K*V)
        # 2K candidates: even if K of them end with <eos>, K live ones remain
        top, idx = cand.topk(min(2 * K, K * V), dim=-1)  # (B, 2K)
        src_beam, word = idx // V, idx % V  # (B, 2K)
        rows = (torch.arange(B, device=dev)[:, None] * K + src_beam)  # (B, 2K) rows of B*K
        new_score = torch.full((B, K), float("-inf"), device=dev)
        new_rows = torch.zeros(B, K, dtype=torch.long, device=dev)
        new_word = torch.full((B, K), PAD, dtype=torch.long, device=dev)
        top_l, word_l, rows_l = top.tolist(), word.tolist(), rows.tolist()
        for b in range(B):
            if done[b]:
                continue
            k = 0
            for s, wd, r in zip(top_l[b], word_l[b], rows_l[b]):
                if s == float("-inf"):
                    break
                if wd == EOS:
                    # a finished hypothesis counts only if it ranks within the live beam
                    if k < K and len(finished[b]) < K:
                        hyp = Hypothesis(tokens[r].tolist(), s,
                                         torch.cat([attn[r], w[r][None]], 0).cpu())
                        finished[b].append((s / length_penalty(t + 1, alpha), hyp))
                    continue
                if k < K:
                    new_score[b, k], new_rows[b, k], new_word[b, k] = s, r, wd
                    k += 1
            if len(finished[b]) >= K or k == 0:
                done[b] = True
        if all(done):
            break
        flat = new_rows.view(-1)  # (B*K,)
        tokens = torch.cat([tokens[flat], new_word.view(-1, 1)], 1)
        attn = torch.cat([attn[flat], w[flat][:, None]], 1)
        h, y, score = h[flat], new_word.view(-1), new_score
    for b in range(B):
        if not finished[b]:  # max_len reached without <eos>: the live prefixes compete
            for k in range(K):
                s = float(score[b, k])
                if s > float("-inf"):
                    r = b * K + k
                    hyp = Hypothesis(tokens[r].tolist(), s, attn[r].cpu())
                    finished[b].append((s / length_penalty(tokens.size(1), alpha), hyp))
    out = []
    for b in range(B):
        S = int(enc.mask[b * K].sum())
        # stable sort: among equal scores the hypothesis found first stays first, as max() keeps
        ranked = sorted(finished[b], key=lambda x: -x[0])
        for _, hyp in ranked:
            hyp.attention = hyp.attention[:, :S]
        out.append(ranked)
    return out


@dataclass
class Translation:
    source: str  # the input as given
    text: str  # the translation
    source_pieces: list[str]  # source tokens the model read (<eos> last)
    target_pieces: list[str]  # output tokens (<eos> last if it ended)
    attention: torch.Tensor  # (len(target_pieces), len(source_pieces))
    score: float  # log probability of the output
    norm_score: float | None = None  # the length-normalised score beam search ranked by


class Translator:
    """A trained model with its vocabularies: ``translate(sentences) -> [Translation]``."""

    def __init__(self, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab,
                 data: dict | None = None):
        self.model = model.eval()
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.data = data or {}

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> Translator:
        path = Path(path)
        model = load_model(path, device)
        src, tgt = load_vocab(path / SRC_VOCAB), load_vocab(path / TGT_VOCAB)
        if len(src) != model.config.src_vocab or len(tgt) != model.config.tgt_vocab:
            raise DataError(f"{path}: vocabularies ({len(src)}, {len(tgt)}) do not fit the "
                            f"model ({model.config.src_vocab}, {model.config.tgt_vocab})")
        data_file = path / DATA_FILE
        data = json.loads(data_file.read_text(encoding="utf-8")) if data_file.exists() else {}
        return cls(model, src, tgt, data)

    def encode_source(self, sentence: str) -> list[int]:
        """Source ids + ``<eos>``; an empty or wholly unknown sentence is a
        :class:`~nanonlp.errors.DataError`."""
        ids = self.src_vocab.encode(sentence)
        if not ids:
            raise DataError(f"{sentence[:60]!r}: nothing to translate after normalisation")
        if all(i == UNK for i in ids):
            raise DataError(f"{sentence[:60]!r}: every word is unknown to the source vocabulary "
                            f"({len(self.src_vocab):,} entries)")
        return [*ids, EOS]

    @torch.no_grad()
    def translate(self, sentences: list[str], beam: int = 5, alpha: float = 1.0,
                  batch_size: int = 64, max_len: int | None = None) -> list[Translation]:
        """Translate raw sentences (``beam = 1``: greedy search); order is kept."""
        check_alpha(alpha)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        dev = next(self.model.parameters()).device
        encoded = [self.encode_source(s) for s in sentences]
        # sorted by length so each batch pads little; results put back in input order
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Translation | None] = [None] * len(encoded)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            S = max(len(encoded[i]) for i in chunk)
            src = torch.full((len(chunk), S), PAD, dtype=torch.long)
            for row, i in enumerate(chunk):
                src[row, :len(encoded[i])] = torch.tensor(encoded[i])
            src = src.to(dev)
            hyps = greedy(self.model, src, max_len) if beam == 1 else \
                beam_search(self.model, src, beam, alpha, max_len)
            for i, hyp in zip(chunk, hyps):
                results[i] = self._translation(sentences[i], encoded[i], hyp)
        return results  # type: ignore[return-value]

    @torch.no_grad()
    def translate_nbest(self, sentence: str, beam: int = 5, alpha: float = 1.0,
                        max_len: int | None = None) -> list[Translation]:
        """All the finished beam hypotheses for one sentence, best first, each with its
        ``norm_score``; the first equals ``translate([sentence], beam, alpha)[0]``."""
        check_alpha(alpha)
        ids = self.encode_source(sentence)
        src = torch.tensor([ids], device=next(self.model.parameters()).device)
        ranked = beam_search_nbest(self.model, src, beam, alpha, max_len)[0]
        return [self._translation(sentence, ids, hyp, norm) for norm, hyp in ranked]

    def _translation(self, sentence: str, ids: list[int], hyp: Hypothesis,
                     norm_score: float | None = None) -> Translation:
        ended = hyp.attention.size(0) > len(hyp.tokens)
        return Translation(
            source=sentence, text=self.tgt_vocab.decode(hyp.tokens),
            source_pieces=self.src_vocab.pieces(ids),
            target_pieces=self.tgt_vocab.pieces(hyp.tokens + ([EOS] if ended else [])),
            attention=hyp.attention, score=hyp.score, norm_score=norm_score)
