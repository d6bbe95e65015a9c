"""Evaluation shared by both backends: analogies and word-similarity correlations.

* Analogies: the Google set (Mikolov et al. 2013, "Efficient Estimation of Word
  Representations in Vector Space"), answered by 3CosAdd (or 3CosMul) over the ``restrict_vocab``
  most frequent words, split into semantic and syntactic (``gram*``) sections. Counting follows
  gensim's ``KeyedVectors.evaluate_word_analogies`` exactly: words are compared upper-cased
  (the most frequent spelling of a word stands for all), a question with a word outside the
  restricted vocabulary is out-of-vocabulary and left out of the accuracy, and the answer is
  the best of the top 5 that is not a question word. The tests check that our numbers equal
  gensim's.
* Similarity: Spearman's rank correlation between cosine similarity and human scores on
  WS-353, SimLex-999, MEN, RW, ..., counting pairs with an unknown word as gensim's
  ``evaluate_word_pairs`` does (left out; reported as an OOV percentage).

Everything is gathered into one JSON-ready report by :func:`evaluate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from nanonlp.datasets import Analogy, ScoredPair
from nanonlp.errors import ConfigError, DataError
from nanonlp.word2vec.vectors import WordVectors

DEFAULT_SIMILARITY = ("wordsim353", "simlex999", "men", "rw")


def rankdata(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank (scipy's ``rankdata(method="average")``).

    >>> rankdata([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # boundaries of runs of equal values
    new_run = np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]])
    run_id = np.cumsum(new_run) - 1  # (n,) run of each sorted position
    run_start = np.flatnonzero(new_run)  # 0-based first position of each run
    run_end = np.concatenate([run_start[1:], [len(x)]])  # one past the last
    mean_rank = (run_start + run_end + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(x))
    ranks[order] = mean_rank[run_id]
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r.

    >>> round(pearson([1, 2, 3], [2, 4, 7]), 4)
    0.9934
    """
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denom) if denom > 0 else float("nan")


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the ranks (ties get mean ranks).

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 25])
    0.8
    """
    return pearson(rankdata(x), rankdata(y))


def _check_restrict_vocab(restrict_vocab: int) -> None:
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int) \
            or restrict_vocab < 1:
        raise ConfigError(f"restrict_vocab must be an integer >= 1, got {restrict_vocab!r}")


def _ok_vocab(wv: WordVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """Key -> row over the first ``restrict_vocab`` words; upper-cased keys map to the most
    frequent spelling (gensim iterates the words in reverse so the earliest wins)."""
    _check_restrict_vocab(restrict_vocab)
    ok = {}
    for i in reversed(range(min(restrict_vocab, len(wv)))):
        w = wv.words[i]
        ok[w.upper() if case_insensitive else w] = i
    return ok


def evaluate_analogies(wv: WordVectors, questions: Iterable[Analogy] | None = None,
                       restrict_vocab: int = 300_000, case_insensitive: bool = True,
                       method: str = "add", batch: int = 512) -> dict:
    """Accuracy on analogy questions, per section and semantic / syntactic / total.

    ``questions`` defaults to the Google set (``word_analogy/words``, shipped with gensim).
    Returns ``{"semantic": {...}, "syntactic": {...}, "total": {...}, "sections": [...],
    "questions", "oov_questions", "oov_ratio"}`` where each group has ``correct``,
    ``attempted`` and ``accuracy`` (correct / attempted, OOV questions excluded, as gensim).
    """
    if method not in ("add", "mul"):
        raise DataError(f"analogy method must be 'add' or 'mul', got {method!r}")
    if questions is None:
        from nanonlp import datasets as D

        questions = D.load("word_analogy", "words")
    ok = _ok_vocab(wv, restrict_vocab, case_insensitive)
    limit = min(restrict_vocab, len(wv))
    norm = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    sections: dict[str, list[int]] = {}  # section -> [correct, attempted]
    todo: list[tuple[int, int, int, str, str]] = []
    n_questions = oov = 0
    for q in questions:
        n_questions += 1
        sections.setdefault(q.section, [0, 0])
        a, b, c, d = (norm(w) for w in (q.a, q.b, q.c, q.d))
        if a not in ok or b not in ok or c not in ok or d not in ok:
            oov += 1
            continue
        todo.append((ok[a], ok[b], ok[c], d, q.section))
    if n_questions == 0:
        raise DataError("no analogy questions to evaluate")
    unit = wv.vectors[:limit] / np.maximum(wv.norms[:limit], 1e-30)[:, None]  # (R, D)
    for lo in range(0, len(todo), batch):
        chunk = todo[lo:lo + batch]
        ia, ib, ic = (np.array([t[k] for t in chunk]) for k in range(3))
        if method == "add":
            # gensim: unitvec(mean(+b, +c, -a)), then dot with vectors / norms
            mean = (unit[ib] + unit[ic] - unit[ia]) / np.float32(3)  # (B, D)
            mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-30)
            scores = (wv.vectors[:limit] @ mean.T).T / np.maximum(wv.norms[:limit], 1e-30)
        else:
            cos = lambda idx: (1 + unit[idx] @ unit.T) / 2  # noqa: E731  (B, R) in [0, 1]
            scores = cos(ib) * cos(ic) / (cos(ia) + 1e-6)
        rows = np.arange(len(chunk))
        for idx in (ia, ib, ic):
            scores[rows, idx] = -np.inf  # the question's words are never answers
        k = min(5, limit)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (B, 5) unordered
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
        for (a_i, b_i, c_i, expected, section), cands in zip(chunk, top.tolist()):
            ignore = {norm(wv.words[i]) for i in (a_i, b_i, c_i)}
            predicted = None
            for cand in cands:
                predicted = norm(wv.words[cand])
                if predicted in ok and predicted not in ignore:
                    break
            sections[section][1] += 1
            sections[section][0] += predicted == expected
    report_sections = [_score(name, *cs) for name, cs in sections.items()]
    sem = [s for s in report_sections if not s["section"].startswith("gram")]
    syn = [s for s in report_sections if s["section"].startswith("gram")]
    return {
        "semantic": _total("semantic", sem),
        "syntactic": _total("syntactic", syn),
        "total": _total("total", report_sections),
        "sections": report_sections,
        "questions": n_questions,
        "oov_questions": oov,
        "oov_ratio": 100.0 * oov / n_questions,
        "restrict_vocab": restrict_vocab,
        "method": "3CosAdd" if method == "add" else "3CosMul",
    }


def _score(section: str, correct: int, attempted: int) -> dict:
    return {"section": section, "correct": int(correct), "attempted": int(attempted),
            "accuracy": correct / attempted if attempted else 0.0}


def _total(name: str, sections: list[dict]) -> dict:
    return _score(name, sum(s["correct"] for s in sections),
                  sum(s["attempted"] for s in sections))


def evaluate_similarity(wv: WordVectors, pairs: Iterable[ScoredPair],
                        restrict_vocab: int = 300_000, case_insensitive: bool = True) -> dict:
    """Spearman (and Pearson) correlation of cosine similarity with human scores.

    Returns ``{"spearman", "pearson", "pairs" (used), "oov" (skipped), "oov_ratio" (%)}``.
    """
    ok = _ok_vocab(wv, restrict_vocab, case_insensitive)
    norm = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    gold, model = [], []
    oov = 0
    unit = lambda i: wv.vectors[i] / max(wv.norms[i], 1e-30)  # noqa: E731
    for p in pairs:
        a, b = norm(p.word1), norm(p.word2)
        if a not in ok or b not in ok:
            oov += 1
            continue
        gold.append(p.score)
        model.append(float(unit(ok[a]) @ unit(ok[b])))
    if not gold:
        raise DataError(f"no similarity pair has both words in the vocabulary ({oov} pairs)")
    return {"spearman": spearman(gold, model), "pearson": pearson(gold, model),
            "pairs": len(gold), "oov": oov, "oov_ratio": 100.0 * oov / (len(gold) + oov)}


def evaluate(wv: WordVectors | str | os.PathLike, analogies: str | None = "words",
             similarity: Sequence[str] = DEFAULT_SIMILARITY, restrict_vocab: int = 300_000,
             method: str = "add") -> dict:
    """One report: analogies (``word_analogy/<analogies>``) and each similarity set, of
    vectors or a vectors file (any format :meth:`WordVectors.load` reads): the same shape as
    every part's ``evaluate``.

    Sets that cannot be read here (e.g. MEN and RW without ``NANONLP_DATA``) are listed under
    ``"unavailable"`` instead of failing the whole evaluation.
    """
    from nanonlp import datasets as D

    _check_restrict_vocab(restrict_vocab)
    if isinstance(wv, str | os.PathLike):
        wv = WordVectors.load(wv)
    report: dict = {"vocab": len(wv), "dim": wv.dim, "analogy": None, "similarity": {},
                    "unavailable": []}
    if analogies:
        if D.available("word_analogy", analogies):
            report["analogy"] = evaluate_analogies(
                wv, D.load("word_analogy", analogies), restrict_vocab, method=method)
        else:
            report["unavailable"].append(f"word_analogy/{analogies}")
    for name in similarity:
        if not D.available("word_similarity", name):
            report["unavailable"].append(f"word_similarity/{name}")
            continue
        try:
            report["similarity"][name] = evaluate_similarity(
                wv, D.load("word_similarity", name), restrict_vocab)
        except DataError as e:  # e.g. a tiny vocabulary knows no pair: report, don't fail
            report["similarity"][name] = {"spearman": None, "error": str(e)}
    return report
