"""Skip-gram and CBOW with negative sampling in plain numpy, one update at a time.

This is the version to read: it follows Mikolov et al. (2013), "Distributed Representations of
Words and Phrases and their Compositionality", eq. (4), and the update order of the C tool
``word2vec.c`` (which gensim's Cython copies). It is slow (a Python loop per word pair); the
numba kernel in :mod:`nanonlp.word2vec.fast` makes the same updates, from the same random
draws, hundreds of times faster, and the tests check that the two agree.

Notation: ``W_in`` (V, D) holds the input ("word") vectors v, ``W_out`` (V, D) the output
("context") vectors u. For an input vector v, a positive word o and K noise words n_k the
negative-sampling loss is (eq. 4, negated)::

    L = -log s(u_o . v) - sum_k log s(-u_k . v),      s(x) = 1 / (1 + exp(-x))

Skip-gram's input is one word of the window and the positive word is the centre word (the
C tool's orientation: each context word predicts the centre, which is the same pairs as the
paper's centre-predicts-context); CBOW's input is the mean of the window's vectors.

Random draws come from the C tool's 48-bit linear congruential generator, threaded through
every function as an explicit ``state`` integer, so a run is a pure function of its seed.
What is left out: hierarchical softmax, and the C tool's exp lookup table: we compute the
sigmoid exactly, and keep updating where ``|u.v| >= 6`` (gensim skips those examples; the C
tool clips their sigmoid to 0 or 1).
"""

from __future__ import annotations

import math

import numpy as np

from nanonlp.word2vec.vocab import KEEP_ONE

LCG_MUL = 25214903917  # the C tool's (and java.util.Random's) multiplier
LCG_ADD = 11
LCG_MASK = (1 << 48) - 1


def lcg_next(state: int) -> int:
    """One step of the 48-bit LCG; the useful random bits are ``state >> 16``.

    >>> lcg_next(1)
    25214903928
    """
    return (state * LCG_MUL + LCG_ADD) & LCG_MASK


def sigmoid(x: float) -> float:
    """s(x) = 1 / (1 + exp(-x)), computed without overflow.

    >>> sigmoid(0.0), round(sigmoid(2.0), 4)
    (0.5, 0.8808)
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def sgns_loss(v: np.ndarray, u_pos: np.ndarray, u_neg: np.ndarray) -> float:
    """Negative-sampling loss of one input vector: ``-log s(u_o.v) - sum_k log s(-u_k.v)``.

    v: (D,), u_pos: (D,), u_neg: (K, D). With zero vectors every term is log 2:

    >>> round(sgns_loss(np.zeros(3), np.zeros(3), np.zeros((2, 3))), 4)   # 3 log 2
    2.0794
    """
    pos = float(u_pos @ v)
    neg = u_neg @ v  # (K,)
    # -log s(x) = log(1 + exp(-x)) = logaddexp(0, -x), stable for any x
    return float(np.logaddexp(0.0, -pos) + np.logaddexp(0.0, neg).sum())


def sgns_grads(v: np.ndarray, u_pos: np.ndarray, u_neg: np.ndarray):
    """Gradients of :func:`sgns_loss`: ``(dL/dv (D,), dL/du_pos (D,), dL/du_neg (K, D))``.

    dL/d(u_o.v) = s(u_o.v) - 1 and dL/d(u_k.v) = s(u_k.v): the "prediction minus label" that
    every logistic loss has.

    Both dot products below are 0, so the errors are s(0) - 1 = -0.5 and s(0) = 0.5:

    >>> v, u_pos, u_neg = np.array([1.0, 1.0]), np.array([1.0, -1.0]), np.array([[2.0, -2.0]])
    >>> gv, gp, gn = sgns_grads(v, u_pos, u_neg)
    >>> gv.tolist(), gp.tolist(), gn.tolist()    # -0.5 u_pos + 0.5 u_neg, -0.5 v, 0.5 v
    ([0.5, -0.5], [-0.5, -0.5], [[0.5, 0.5]])
    """
    e_pos = 1.0 / (1.0 + np.exp(-(u_pos @ v))) - 1.0  # scalar: s(u_o.v) - 1
    e_neg = 1.0 / (1.0 + np.exp(-(u_neg @ v)))  # (K,): s(u_k.v) - 0
    g_v = e_pos * u_pos + e_neg @ u_neg  # (D,)
    return g_v, e_pos * v, e_neg[:, None] * v[None, :]


def cbow_loss(contexts: np.ndarray, u_pos: np.ndarray, u_neg: np.ndarray) -> float:
    """CBOW's loss: :func:`sgns_loss` of the mean context vector. contexts: (C, D)."""
    return sgns_loss(contexts.mean(axis=0), u_pos, u_neg)


def _ns_update(W_out: np.ndarray, h: np.ndarray, word: int, negatives, lr: float):
    """Shared core of both models: logistic regressions of ``h`` against word and noise.

    Updates the output vectors in place, one target after another as the C tool does (a noise
    word drawn twice sees its first update), skipping noise draws equal to ``word``. Returns
    ``(gradient step for h (D,), loss)``.
    """
    step_h = np.zeros_like(h)  # accumulates -lr * dL/dh over the targets
    loss = 0.0
    targets = [(word, 1.0)] + [(int(n), 0.0) for n in negatives if n != word]
    for target, label in targets:
        u = W_out[target]  # (D,) a view: updated in place below
        x = float(u @ h)
        s = sigmoid(x)
        # -log s(x) for the word, -log s(-x) = -log(1 - s(x)) for noise, without overflow
        loss += math.log1p(math.exp(-abs(x))) + max(-x if label else x, 0.0)
        g = np.float32(lr * (label - s))  # -lr * dL/dx
        step_h += g * u  # uses u before its own update, as in word2vec.c
        u += g * h
    return step_h, loss


def sgns_step(W_in: np.ndarray, W_out: np.ndarray, context: int, word: int, negatives,
              lr: float) -> float:
    """One skip-gram SGD step on the pair (context word -> centre word); returns the loss."""
    step, loss = _ns_update(W_out, W_in[context].copy(), word, negatives, lr)
    W_in[context] += step
    return loss


def cbow_step(W_in: np.ndarray, W_out: np.ndarray, contexts, word: int, negatives,
              lr: float) -> float:
    """One CBOW step: the mean of the context vectors predicts ``word``; returns the loss.

    Every context vector gets the whole gradient step of the mean (the C tool's choice, also
    gensim's with ``cbow_mean=1``), not a 1/C share of it.
    """
    h = W_in[contexts].sum(axis=0) / np.float32(len(contexts))  # (D,)
    step, loss = _ns_update(W_out, h, word, negatives, lr)
    for c in contexts:
        W_in[c] += step
    return loss


def subsample(ids: np.ndarray, keep: np.ndarray, state: int) -> tuple[list[int], int]:
    """Drop frequent words at random (Mikolov et al. 2013, section 2.3); returns (kept, state).

    A word whose keep probability is 1 uses no random draw.

    >>> subsample(np.array([0, 1]), np.array([0, 2**32 - 1], dtype=np.uint64), state=1)
    ([1], 25214903928)
    """
    kept = []
    for w in ids:
        if keep[w] < KEEP_ONE:
            state = lcg_next(state)
            if ((state >> 16) & 0xFFFFFFFF) > keep[w]:
                continue
        kept.append(int(w))
    return kept, state


def draw_negatives(cum_table: np.ndarray, state: int, k: int) -> tuple[list[int], int]:
    """``k`` noise words from the unigram^0.75 table; returns (words, state)."""
    words = []
    for _ in range(k):
        state = lcg_next(state)
        x = (state >> 16) % int(cum_table[-1])
        words.append(int(np.searchsorted(cum_table, x, side="right")))
    return words, state


def train_sentence(W_in: np.ndarray, W_out: np.ndarray, ids: np.ndarray, lr: float, *,
                   sg: bool, window: int, negative: int, keep: np.ndarray,
                   cum_table: np.ndarray, state: int) -> tuple[int, float, int]:
    """Train on one sentence of word ids; returns ``(state, summed loss, examples)``.

    Order of random draws (the fast kernel makes the same ones): subsampling over the whole
    sentence, then one window radius per kept position (the "dynamic window" of the C tool:
    radius ``window - b`` with ``b`` uniform in ``0..window-1``, so near words count more),
    then ``negative`` noise words per example.
    """
    kept, state = subsample(ids, keep, state)
    n = len(kept)
    spans = []
    for _ in range(n):
        state = lcg_next(state)
        spans.append(window - (state >> 16) % window)
    loss, examples = 0.0, 0
    for i in range(n):
        lo, hi = max(0, i - spans[i]), min(n, i + spans[i] + 1)
        context = [kept[j] for j in range(lo, hi) if j != i]
        if not context:
            continue
        if sg:
            for c in context:
                negs, state = draw_negatives(cum_table, state, negative)
                loss += sgns_step(W_in, W_out, c, kept[i], negs, lr)
                examples += 1
        else:
            negs, state = draw_negatives(cum_table, state, negative)
            loss += cbow_step(W_in, W_out, context, kept[i], negs, lr)
            examples += 1
    return state, loss, examples
