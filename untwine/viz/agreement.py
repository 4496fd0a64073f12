"""A heat map of metric agreement (:func:`untwine.metrics.agreement.metric_agreement`'s matrix)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TITLE = "Spearman rank correlation between metrics"


def agreement_heatmap(corr: pd.DataFrame, path: str | os.PathLike | None = None, title: str | None = DEFAULT_TITLE,
                      counts: pd.DataFrame | None = None, cmap: str = "RdBu_r", digits: int = 2) -> Any:
    """Draw a (k, k) correlation matrix as an annotated heat map; returns the matplotlib Figure.

    Args:
        corr: square DataFrame of correlations (index: rows, columns: columns), e.g.
            :func:`~untwine.metrics.agreement.metric_agreement`'s; NaN cells read "n/a".
        path: if given, the figure is also written there as a PNG (100 dpi).
        title: the figure's title (None: none).
        counts: optional DataFrame of the same shape (``metric_agreement(..., with_counts=True)``):
            each cell also shows its number of models.
        cmap: a diverging colormap; its scale is fixed to [-1, 1] so colours compare across figures.
        digits: decimals of the annotations.

    The figure is a plain :class:`matplotlib.figure.Figure` (no pyplot state, Agg canvas), so it
    needs no closing and works headless. Missing cells (NaN) are grey.
    """
    import matplotlib
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(corr, pd.DataFrame):
        corr = pd.DataFrame(corr)
    if counts is not None and np.shape(counts) != corr.shape:
        raise ValueError(f"counts has shape {np.shape(counts)}, corr {corr.shape}: give the counts of the same pairs")
    rows, cols = len(corr.index), len(corr.columns)
    values = corr.to_numpy(dtype=float)
    fig = Figure(figsize=(1.1 * cols + 2.5, 0.9 * rows + 1.5 + (0.3 if title else 0.0)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours = matplotlib.colormaps[cmap].with_extremes(bad="#d9d9d9")  # n/a grey, not the colour of 0
    im = ax.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(cols), [str(c) for c in corr.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(rows), [str(r) for r in corr.index], fontsize=8)
    for i in range(rows):
        for j in range(cols):
            v = values[i, j]
            text = "n/a" if np.isnan(v) else f"{v:.{digits}f}"
            if counts is not None:
                text += f"\nn={int(np.asarray(counts)[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if not np.isnan(v) and abs(v) > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=100)
    return fig


__all__ = ["DEFAULT_TITLE", "agreement_heatmap"]
