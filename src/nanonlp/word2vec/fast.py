"""The fast path: a numba kernel making the reference's updates, on all cores at once.

Same algorithm, same order of random draws and same update order as
:func:`nanonlp.word2vec.reference.train_sentence`, compiled. The block of sentences given to
:func:`train_block` is cut into one contiguous shard per worker thread and the threads update
the shared weight matrices without locks ("Hogwild!", Recht et al. 2011), exactly as the C tool
and gensim do: word vectors are sparse updates, so collisions are rare and harmless.

With one worker the kernel consumes the random stream exactly as the reference does, so the
two produce the same vectors up to float rounding (the tests check this).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_MUL = np.uint64(25214903917)
_ADD = np.uint64(11)
_MASK = np.uint64((1 << 48) - 1)
_SHIFT = np.uint64(16)
_LOW32 = np.uint64(0xFFFFFFFF)
_KEEP_ONE = np.uint64(2**32 - 1)


@numba.njit(cache=True, inline="always")
def _lcg(state):
    return (state * _MUL + _ADD) & _MASK


@numba.njit(cache=True, inline="always")
def _noise(cum_table, state):
    """Binary search of the cumulative noise table (np.searchsorted side='right')."""
    x = np.int64((state >> _SHIFT) % np.uint64(cum_table[-1]))
    lo, hi = 0, cum_table.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum_table[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, fastmath=True, inline="always")
def _ns_update(W_out, h, step_h, word, negatives, lr):
    """Logistic regressions of h against ``word`` and the pre-drawn noise words (see reference).

    Adds -lr * dL/dh into step_h (zeroed by the caller), updates W_out rows, returns the loss.
    """
    dim = h.shape[0]
    loss = 0.0
    for k in range(negatives.shape[0] + 1):
        if k == 0:
            target = word
            label = 1.0
        else:
            target = negatives[k - 1]
            if target == word:
                continue
            label = 0.0
        x = np.float32(0.0)
        for d in range(dim):
            x += W_out[target, d] * h[d]
        xf = np.float64(x)
        e = math.exp(-abs(xf))  # one exp serves the sigmoid and the loss, without overflow
        s = 1.0 / (1.0 + e) if xf >= 0 else e / (1.0 + e)
        loss += math.log1p(e) + max(-xf if label > 0 else xf, 0.0)
        g = np.float32(lr * (label - s))  # -lr * dL/dx
        for d in range(dim):
            step_h[d] += g * W_out[target, d]  # u before its update, as word2vec.c
            W_out[target, d] += g * h[d]
    return loss


@numba.njit(cache=True, fastmath=True)
def _train_shard(W_in, W_out, corpus, starts, s_lo, s_hi, alphas, keep, cum_table, window,
                 negative, sg, state, max_len):
    """Train sentences s_lo..s_hi-1 in order; returns (state, summed loss, examples)."""
    dim = W_in.shape[1]
    kept = np.empty(max_len, dtype=np.int32)
    spans = np.empty(max_len, dtype=np.int64)
    negs = np.empty(negative, dtype=np.int32)
    h = np.empty(dim, dtype=np.float32)
    step_h = np.empty(dim, dtype=np.float32)
    loss = 0.0
    examples = 0
    uwindow = np.uint64(window)
    for s in range(s_lo, s_hi):
        lr = alphas[s]
        # subsampling (Mikolov et al. 2013, sec. 2.3): frequent words are dropped at random
        n = 0
        for p in range(starts[s], starts[s + 1]):
            w = corpus[p]
            if keep[w] < _KEEP_ONE:
                state = _lcg(state)
                if ((state >> _SHIFT) & _LOW32) > keep[w]:
                    continue
            kept[n] = w
            n += 1
        # dynamic window: radius window - b, b uniform in 0..window-1
        for i in range(n):
            state = _lcg(state)
            spans[i] = window - np.int64((state >> _SHIFT) % uwindow)
        for i in range(n):
            lo = max(0, i - spans[i])
            hi = min(n, i + spans[i] + 1)
            if hi - lo <= 1:
                continue
            word = kept[i]
            if sg:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = kept[j]
                    for k in range(negative):
                        state = _lcg(state)
                        negs[k] = _noise(cum_table, state)
                    for d in range(dim):
                        h[d] = W_in[c, d]
                        step_h[d] = 0.0
                    loss += _ns_update(W_out, h, step_h, word, negs, lr)
                    for d in range(dim):
                        W_in[c, d] += step_h[d]
                    examples += 1
            else:
                for k in range(negative):
                    state = _lcg(state)
                    negs[k] = _noise(cum_table, state)
                for d in range(dim):
                    h[d] = 0.0
                    step_h[d] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        for d in range(dim):
                            h[d] += W_in[kept[j], d]
                inv = np.float32(hi - lo - 1)
                for d in range(dim):
                    h[d] = h[d] / inv  # mean of the context vectors (cbow_mean)
                loss += _ns_update(W_out, h, step_h, word, negs, lr)
                for j in range(lo, hi):
                    if j != i:
                        for d in range(dim):
                            W_in[kept[j], d] += step_h[d]
                examples += 1
    return state, loss, examples


@numba.njit(cache=True, parallel=True)
def train_block(W_in, W_out, corpus, starts, bounds, alphas, keep, cum_table, window, negative,
                sg, states, losses, examples, max_len):
    """Train the sentences of one block, shard ``t`` = sentences bounds[t]..bounds[t+1]-1.

    W_in, W_out: (V, D) float32, updated in place by all threads (Hogwild).
    corpus: (N,) int32 word ids; starts: (S+1,) int64 sentence offsets into corpus.
    alphas: (S,) learning rate of each sentence (linear decay, precomputed by the caller).
    states: (T,) uint64 one LCG state per thread, advanced in place.
    losses, examples: (T,) per-thread sums, overwritten.
    """
    for t in numba.prange(states.shape[0]):
        st, loss, ex = _train_shard(W_in, W_out, corpus, starts, bounds[t], bounds[t + 1],
                                    alphas, keep, cum_table, window, negative, sg, states[t],
                                    max_len)
        states[t] = st
        losses[t] = loss
        examples[t] = ex
