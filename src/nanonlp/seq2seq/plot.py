"""Pictures of a translator: attention heatmaps (PNG). Loss curves come from
:func:`nanonlp.training.metrics.plot_losses`.

The heatmap is the figure of Bahdanau et al. (2015, fig. 3): one row per output token, one
column per source token, the weight the decoder gave that source token when it produced that
output token.
"""

from __future__ import annotations

import os
from pathlib import Path

from nanonlp.fileio import atomic_write


def plot_attention(translations: list, path: str | os.PathLike, cols: int = 2) -> Path:
    """Heatmaps of the attention of one or more :class:`~nanonlp.seq2seq.translate.Translation`
    objects, side by side; returns the PNG path."""
    import matplotlib.figure  # not pyplot: leaves the backend to the caller

    n = len(translations)
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    fig = matplotlib.figure.Figure(figsize=(4.8 * cols, 4.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, tr in zip(axes.flat, translations):
        w = tr.attention.detach().float().numpy()  # (T, S)
        ax.imshow(w, cmap="bone", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(tr.source_pieces)))
        ax.set_xticklabels(tr.source_pieces, rotation=90, fontsize=8)
        ax.set_yticks(range(len(tr.target_pieces)))
        ax.set_yticklabels(tr.target_pieces, fontsize=8)
        ax.set_title(tr.text[:50], fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path
