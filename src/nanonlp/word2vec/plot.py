"""2-D pictures of word vectors: PCA (numpy SVD), or t-SNE when scikit-learn is installed.

PCA keeps the directions of largest variance of the chosen words' vectors, so parallel
offsets (man -> woman, king -> queen) stay parallel; t-SNE (van der Maaten & Hinton 2008)
keeps neighbourhoods instead and is better at showing clusters. PNGs are drawn on a bare
matplotlib ``Figure`` (no pyplot, so no display is needed and a notebook's inline backend is
left alone) and written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanonlp.errors import ConfigError, NanonlpError
from nanonlp.fileio import atomic_write
from nanonlp.word2vec.vectors import WordVectors


def pca_2d(X: np.ndarray) -> np.ndarray:
    """Project rows of X (N, D) onto their two main principal axes: (N, 2).

    Signs are fixed so that each axis's largest loading is positive (scikit-learn's
    ``svd_flip``): SVD's sign is arbitrary, and a figure should not flip between runs.

    >>> pca_2d(np.array([[0., 0, 0], [2, 0, 0], [0, 1, 0], [2, 1, 0]])).round(2).tolist()
    [[-1.0, -0.5], [1.0, -0.5], [-1.0, 0.5], [1.0, 0.5]]
    """
    Xc = X - X.mean(axis=0)  # (N, D) centred
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)  # Vt: (min(N, D), D)
    axes = Vt[:2]  # (2, D)
    signs = np.sign(axes[[0, 1], np.abs(axes).argmax(axis=1)])  # (2,)
    return Xc @ (axes * np.where(signs == 0, 1.0, signs)[:, None]).T  # (N, 2)


def tsne_2d(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE to 2-D with scikit-learn; perplexity shrinks for small word lists."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise NanonlpError("t-SNE needs scikit-learn: pip install 'nanonlp[plots]', or use "
                           "method='pca'") from None
    perplexity = float(min(30, max(2, (len(X) - 1) // 3)))
    # exact gradients for the few dozen words one plots: Barnes-Hut only pays off for
    # thousands of points, and its threaded setup costs seconds even for ten
    method = "exact" if len(X) <= 200 else "barnes_hut"
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                metric="cosine", method=method).fit_transform(X)


def plot_words(wv: WordVectors, words: Sequence[str], path: str | os.PathLike,
               method: str = "pca", seed: int = 0, title: str | None = None) -> dict:
    """Draw ``words`` in 2-D and save a PNG; returns ``{word: [x, y]}`` (the figure's numbers).

    Vectors are scaled to unit length first, so the picture shows cosine geometry.
    """
    if len(words) < 3:
        raise ConfigError(f"plot needs at least 3 words, got {len(words)}")
    X = np.stack([wv.unit(w) for w in words])  # (N, D)
    if method == "pca":
        Y = pca_2d(X)
    elif method == "tsne":
        Y = tsne_2d(X, seed)
    else:
        raise ConfigError(f"method must be 'pca' or 'tsne', got {method!r}")
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    fig = matplotlib.figure.Figure(figsize=(7, 6))
    ax = fig.subplots()
    ax.scatter(Y[:, 0], Y[:, 1], s=18, color="#4c72b0")
    for w, (x, y) in zip(words, Y):
        ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    ax.set_title(title or f"{len(words)} words, {method.upper()} of unit vectors")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return {w: [round(float(x), 4), round(float(y), 4)] for w, (x, y) in zip(words, Y)}
