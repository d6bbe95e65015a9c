"""The fast path: a numba kernel making the reference's updates, on all cores at once.

Same algorithm, same order of random draws and same update order as
:func:`nanonlp.word2vec.reference.train_sentence`, compiled. The block of sentences given to
:func:`train_block` is cut into one contiguous shard per worker thread and the threads update
the shared weight matrices without locks ("Hogwild!", Recht et al. 2011), exactly as the C tool
and gensim do: word vectors are sparse updates, so collisions are rare and harmless.

With one worker the kernel consumes the random stream exactly as the reference does, so the
two produce the same vectors up to float rounding (the tests check this).

Where the time goes, and what the kernel does about it (profiled on text8, CBOW, where each
example is cheap, so per-draw and per-target overheads weigh most):

* a noise draw was a 64-bit division and a 14-step binary search over the whole noise table,
  whose branches the CPU cannot predict: the largest single cost of CBOW (with draws made
  free, the kernel ran 1.5x faster). The random number is only 32 bits wide (the LCG's state
  has 48), so a 32-bit modulo gives the same value faster, and
  :func:`~nanonlp.word2vec.vocab.noise_buckets` narrows the search to the few table entries
  that can hold the answer (at most 2 on text8), so a draw is two loads and a comparison or
  two. The word drawn is the same as the reference's.
* the loss cost an ``exp`` and a ``log1p`` per target. The sigmoid needs the ``exp`` anyway;
  the loss now multiplies the probabilities of the right labels and takes one ``log`` per
  example (the same number: ``-log p1 - log p2 = -log (p1 p2)``).
* the rest is waiting for memory: an example reads a dozen random 400-byte rows of W_in and
  W_out (12 MB together on text8, far more than the L2 cache), and each target's dot product
  must wait for its row. The noise words do not depend on the updates, so the kernel draws
  them ahead (CBOW: a whole sentence's; skip-gram: all pairs of a position), in the same
  order as the reference, and asks the CPU to prefetch their rows (and the next centre
  word's, and the next window's new context word's) while it computes the current example.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_MUL = np.uint64(25214903917)
_ADD = np.uint64(11)
_MASK = np.uint64((1 << 48) - 1)
_SHIFT = np.uint64(16)
_LOW32 = np.uint64(0xFFFFFFFF)
_KEEP_ONE = np.uint64(2**32 - 1)
_TINY = 1e-250  # a running product of probabilities is turned into loss before it underflows


@intrinsic
def _prefetch(typingctx, arr, row, col):
    """Start loading the cache line holding ``arr[row, col]``, without waiting for it
    (LLVM's ``llvm.prefetch``: a hint, no fault on any address, no effect on results)."""

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        index = [context.cast(builder, v, t, types.intp)
                 for v, t in zip(args[1:], signature.args[1:])]
        ptr = builder.bitcast(cgutils.get_item_pointer(context, builder, aryty, ary, index),
                              ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read (0), keep in all cache levels (locality 3), data cache (1)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, row, col), codegen


@numba.njit(cache=True, inline="always")
def _prefetch_row(W, row):
    """Prefetch every cache line of row ``row`` of a float32 matrix (16 floats a line)."""
    for d in range(0, W.shape[1], 16):
        _prefetch(W, row, d)
    _prefetch(W, row, W.shape[1] - 1)  # rows are not line-aligned: the last may spill over


@numba.njit(cache=True, inline="always")
def _prefetch_targets(W_out, word, negatives):
    """Prefetch the output rows of one example's targets (its word and noise words)."""
    _prefetch_row(W_out, word)
    for k in range(negatives.shape[0]):
        _prefetch_row(W_out, negatives[k])


@numba.njit(cache=True, inline="always")
def _lcg(state):
    return (state * _MUL + _ADD) & _MASK


@numba.njit(cache=True, inline="always")
def _rand_below(state, n):
    """The reference's ``(state >> 16) % n``: the draw has 32 bits, so a 32-bit modulo is
    exact and several times cheaper than a 64-bit division. n < 2**32."""
    return np.int64(np.uint32(state >> _SHIFT) % np.uint32(n))


@numba.njit(cache=True, inline="always")
def _noise(cum_table, buckets, shift, state):
    """np.searchsorted(cum_table, x, side='right') for the draw x, searching only x's bucket."""
    x = _rand_below(state, cum_table[-1])
    k = x >> shift
    lo, hi = np.int64(buckets[k]), np.int64(buckets[k + 1])
    while lo < hi:  # usually zero or one step
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
    likelihood = 1.0  # product of the probabilities given to the right labels
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
        r = 1.0 / (1.0 + e)
        s = r if xf >= 0 else e * r
        # the right label's probability: s(|x|) = r if x's sign agrees with it, else e * r
        likelihood *= r if (xf >= 0) == (label > 0) else e * r
        if likelihood < _TINY:  # a long run of badly wrong targets: bank it as loss
            loss -= math.log(likelihood)
            likelihood = 1.0
        g = np.float32(lr * (label - s))  # -lr * dL/dx
        for d in range(dim):
            step_h[d] += g * W_out[target, d]  # u before its update, as word2vec.c
            W_out[target, d] += g * h[d]
    return loss - math.log(likelihood)


@numba.njit(cache=True, fastmath=True)
def _train_shard(W_in, W_out, corpus, starts, s_lo, s_hi, alphas, keep, cum_table, buckets,
                 shift, window, negative, sg, state, max_len):
    """Train sentences s_lo..s_hi-1 in order; returns (state, summed loss, examples)."""
    dim = W_in.shape[1]
    kept = np.empty(max_len, dtype=np.int32)
    spans = np.empty(max_len, dtype=np.int64)
    # noise words drawn ahead of use (see the module's docstring): skip-gram's for the pairs
    # of one position, CBOW's for every position of a sentence
    negs = np.empty((2 * window if sg else max_len, negative), dtype=np.int32)
    h = np.empty(dim, dtype=np.float32)
    step_h = np.empty(dim, dtype=np.float32)
    loss = 0.0
    examples = 0
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
            spans[i] = window - _rand_below(state, window)
        if not sg and n > 1:
            # with two words or more every position has a context, so the reference draws
            # `negative` noise words at each position in turn: drawing them all now is the
            # same stream
            for i in range(n):
                for k in range(negative):
                    state = _lcg(state)
                    negs[i, k] = _noise(cum_table, buckets, shift, state)
            _prefetch_targets(W_out, kept[0], negs[0])
        for i in range(n):
            lo = max(0, i - spans[i])
            hi = min(n, i + spans[i] + 1)
            if hi - lo <= 1:
                continue
            word = kept[i]
            if sg:
                if i + 1 < n:
                    _prefetch_row(W_out, kept[i + 1])
                m = 0  # draw the noise words of all pairs of this position, in pair order
                for j in range(lo, hi):
                    if j != i:
                        for k in range(negative):
                            state = _lcg(state)
                            negs[m, k] = _noise(cum_table, buckets, shift, state)
                            _prefetch_row(W_out, negs[m, k])
                        m += 1
                m = 0
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = kept[j]
                    for d in range(dim):
                        h[d] = W_in[c, d]
                        step_h[d] = 0.0
                    loss += _ns_update(W_out, h, step_h, word, negs[m], lr)
                    for d in range(dim):
                        W_in[c, d] += step_h[d]
                    m += 1
                    examples += 1
            else:
                if i + 1 < n:  # the next position's targets, and its window's new right end
                    _prefetch_targets(W_out, kept[i + 1], negs[i + 1])
                    if i + 1 + spans[i + 1] < n:
                        _prefetch_row(W_in, kept[i + 1 + spans[i + 1]])
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
                loss += _ns_update(W_out, h, step_h, word, negs[i], lr)
                for j in range(lo, hi):
                    if j != i:
                        for d in range(dim):
                            W_in[kept[j], d] += step_h[d]
                examples += 1
    return state, loss, examples


@numba.njit(cache=True, parallel=True)
def train_block(W_in, W_out, corpus, starts, bounds, alphas, keep, cum_table, buckets, shift,
                window, negative, sg, states, losses, examples, max_len):
    """Train the sentences of one block, shard ``t`` = sentences bounds[t]..bounds[t+1]-1.

    W_in, W_out: (V, D) float32, updated in place by all threads (Hogwild).
    corpus: (N,) int32 word ids; starts: (S+1,) int64 sentence offsets into corpus.
    alphas: (S,) learning rate of each sentence (linear decay, precomputed by the caller).
    cum_table: (V,) noise table (< 2**32); buckets, shift: its index (vocab.noise_buckets).
    states: (T,) uint64 one LCG state per thread, advanced in place.
    losses, examples: (T,) per-thread sums, overwritten.
    """
    for t in numba.prange(states.shape[0]):
        st, loss, ex = _train_shard(W_in, W_out, corpus, starts, bounds[t], bounds[t + 1],
                                    alphas, keep, cum_table, buckets, shift, window, negative,
                                    sg, states[t], max_len)
        states[t] = st
        losses[t] = loss
        examples[t] = ex
