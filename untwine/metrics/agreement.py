"""How much disentanglement metrics agree: Spearman rank correlations over trained models.

One row per trained model, one column per metric (e.g. a study's results frame, or the flat
:func:`~untwine.metrics.evaluate` dicts of many runs in a DataFrame). For each pair of metrics the
models that have both scores (no NaN in either) are ranked and correlated with
``scipy.stats.spearmanr`` (ties get average ranks); a pair with fewer than 3 such models, or where
a metric is constant over them, has no correlation (NaN).

``lower_is_better`` names the metrics where a lower score is better (a reconstruction loss,
``modularity``-style errors, ``polar_cartesian_mse``). With ``orient=True`` (default) their scores
are negated before ranking, so a positive correlation always means "the two metrics prefer the
same models" and a negative one that they disagree; the diagonal stays 1. With ``orient=False`` the
raw scores are correlated (a loss that falls as a score rises then shows -1). Negating a column
only flips the sign of its correlations, the p-values are unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas is imported when used: ``import untwine.metrics`` stays light
    import pandas as pd

MIN_MODELS = 3  # fewer models than this per pair: no correlation (NaN)


def _prepared(scores: pd.DataFrame, columns: Sequence[str] | None, lower_is_better: Iterable[str],
              orient: bool) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame (one row per model, one column per metric), got "
                        f"{type(scores).__name__}")
    cols = list(scores.columns) if columns is None else list(columns)
    missing = [c for c in cols if c not in scores.columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(map(repr, missing))} not in scores; its columns are "
                         f"{', '.join(map(str, scores.columns))}")
    if len(set(cols)) != len(cols):
        raise ValueError(f"columns repeat a name: {cols}")
    lower = list(lower_is_better)
    unknown = [c for c in lower if c not in cols]
    if unknown:
        raise ValueError(f"lower_is_better names column(s) {', '.join(map(repr, unknown))} that are not compared; "
                         f"the columns are {', '.join(map(str, cols))}")
    frame = pd.DataFrame({c: pd.to_numeric(scores[c], errors="coerce") for c in cols}, index=scores.index)
    frame = frame.astype(float).replace([np.inf, -np.inf], np.nan)
    if orient:
        for c in lower:
            frame[c] = -frame[c]
    return frame


def _pairwise(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Spearman rho, p-value and number of models of every pair of columns (NaN pairs dropped)."""
    import pandas as pd
    from scipy.stats import spearmanr

    cols = list(frame.columns)
    k = len(cols)
    rho, pval = np.full((k, k), np.nan), np.full((k, k), np.nan)
    count = np.zeros((k, k), dtype=np.int64)
    values = frame.to_numpy(float)
    for i in range(k):
        for j in range(i, k):
            both = ~np.isnan(values[:, i]) & ~np.isnan(values[:, j])
            n = int(both.sum())
            count[i, j] = count[j, i] = n
            a, b = values[both, i], values[both, j]
            if n < MIN_MODELS or np.ptp(a) == 0 or np.ptp(b) == 0:
                continue
            if i == j:
                rho[i, i], pval[i, i] = 1.0, 0.0
                continue
            res = spearmanr(a, b)
            rho[i, j] = rho[j, i] = float(res.statistic)
            pval[i, j] = pval[j, i] = float(res.pvalue)

    def frame_of(m):
        return pd.DataFrame(m, index=cols, columns=cols)

    return frame_of(rho), frame_of(pval), frame_of(count)


def metric_agreement(scores: pd.DataFrame, columns: Sequence[str] | None = None,
                     lower_is_better: Iterable[str] = (), orient: bool = True,
                     with_counts: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Spearman rank correlation between every pair of metrics over the models (rows) of ``scores``.

    Args:
        scores: one row per trained model, one column per metric; non-numeric entries count as
            missing. Rows with NaN in either metric of a pair are left out of that pair only.
        columns: the metrics to compare (default: every column), in the order of the result.
        lower_is_better: metrics where lower is better; with ``orient=True`` (default) they are
            negated first, so positive always means agreement (module docstring).
        with_counts: also return the number of models behind each pair.

    Returns the (k, k) DataFrame of correlations (index and columns: the metrics; NaN where a pair
    has fewer than 3 models or a constant metric), or ``(correlations, counts)`` with
    ``with_counts=True``.
    """
    rho, _, count = _pairwise(_prepared(scores, columns, lower_is_better, orient))
    return (rho, count) if with_counts else rho


def metric_agreement_pvalues(scores: pd.DataFrame, columns: Sequence[str] | None = None,
                             lower_is_better: Iterable[str] = (), orient: bool = True) -> pd.DataFrame:
    """Two-sided p-values of :func:`metric_agreement`'s correlations (``scipy.stats.spearmanr``'s,
    from the t distribution; NaN where there is no correlation, 0 on the diagonal)."""
    _, pval, _ = _pairwise(_prepared(scores, columns, lower_is_better, orient))
    return pval


def metric_agreement_table(scores: pd.DataFrame, columns: Sequence[str] | None = None,
                           lower_is_better: Iterable[str] = (), orient: bool = True) -> pd.DataFrame:
    """One row per pair of metrics: ``metric_a``, ``metric_b``, ``spearman``, ``p_value``, ``n_models``."""
    import pandas as pd

    rho, pval, count = _pairwise(_prepared(scores, columns, lower_is_better, orient))
    cols = list(rho.columns)
    rows = [{"metric_a": a, "metric_b": b, "spearman": rho.at[a, b], "p_value": pval.at[a, b],
             "n_models": int(count.at[a, b])}
            for i, a in enumerate(cols) for b in cols[i + 1:]]
    return pd.DataFrame(rows, columns=["metric_a", "metric_b", "spearman", "p_value", "n_models"])


__all__ = ["metric_agreement", "metric_agreement_pvalues", "metric_agreement_table"]
