"""Seed 004's summary, from the study's results (``untwine.studies.load``):

* ``results/table.md``: Table 1 at CPU scale (DCI, SAP, IRS and the translation difficulty per
  method on independent and correlated dSprites, mean ± std over seeds, next to the paper's), the
  drop from independent to correlated data, steps and wall time;
* ``results/agreement.md`` and ``results/agreement.png``: Spearman rank correlations between the
  translation difficulty and DCI, SAP and IRS over every trained model (the paper's Fig. 3), and
  over the FactorVAE models alone (the paper's population);
* ``results/figure.png``: each score per method, independent against correlated, seeds as points;
* ``results/neighbours_*.png``: nearest test images per feature (the paper's Fig. 5) of the best
  intervention and FactorVAE (gamma 40) models on correlated data;
* ``results/results.csv``: one row per model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from untwine.io import atomic_write_text
from untwine.metrics.agreement import metric_agreement, metric_agreement_table
from untwine.viz.agreement import agreement_heatmap

HERE = Path(__file__).resolve().parent
METHODS = ["factorvae_g10", "factorvae_g40", "beta_tcvae", "infogan_cr", "intervention"]
NAMES = {"factorvae_g10": "FactorVAE (γ = 10)", "factorvae_g40": "FactorVAE (γ = 40)", "beta_tcvae": "β-TCVAE",
         "infogan_cr": "InfoGAN-CR", "intervention": "Intervention (ours in the paper)"}
# seed 004, Table 1 (dSprites): (DCI, SAP, IRS) on independent and on correlated factors
PAPER = {
    "factorvae_g10": ((0.73, 0.55, 0.62), (0.60, 0.46, 0.54)),
    "factorvae_g40": ((0.72, 0.56, 0.63), (0.63, 0.47, 0.57)),
    "beta_tcvae": ((0.62, 0.54, 0.55), (0.55, 0.46, 0.46)),
    "infogan_cr": ((0.73, 0.58, 0.50), (0.68, 0.51, 0.45)),
    "intervention": ((0.76, 0.55, 0.62), (0.74, 0.51, 0.59)),
}
SCORES = {"dci.disentanglement": "DCI", "sap": "SAP", "irs": "IRS", "translation": "translation ↓"}
DATA = ("independent", "correlated")
LABELS = {"translation": "−translation (CE)", "translation.kl": "−translation (KL)",
          "translation.relative": "−translation (KL / change)", "dci.disentanglement": "DCI", "sap": "SAP",
          "irs": "IRS"}


def _cell(values) -> str:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return "–"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def summary(frame, study) -> None:
    out = HERE / "results" if study.profile in (None, "cpu") else HERE / f"results_{study.profile}"
    out.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame["data"] = frame["dataset"]  # the study's dataset labels: independent, correlated
    frame["label"] = frame["label"].str.replace(r" \[\w+\]$", "", regex=True)
    frame = frame[(frame["status"] == "done") & frame["current"].astype(bool)]  # scored with this evaluation
    keep = ["label", "data", "seed", "steps", *[c for c in SCORES if c in frame], "dci.completeness",
            "dci.informativeness_test", "translation.kl", "translation.change", "reconstruction.mse_per_pixel",
            "train_seconds", "eval_seconds"]
    frame[[c for c in keep if c in frame]].to_csv(out / "results.csv", index=False, float_format="%.6g")
    cols = [c for c in SCORES if c in frame]
    lines = ["| method | data | " + " | ".join(SCORES[c] for c in cols) + " | paper DCI / SAP / IRS | seeds | steps | "
             "train min / run |", "|" + "---|" * (len(cols) + 6)]
    for m in METHODS:
        for i, d in enumerate(DATA):
            rows = frame[(frame["label"] == m) & (frame["data"] == d)]
            if rows.empty:
                continue
            paper = " / ".join(f"{v:.2f}" for v in PAPER[m][i])
            lines.append(f"| {NAMES[m]} | {d} | " + " | ".join(_cell(rows[c]) for c in cols)
                         + f" | {paper} | {len(rows)} | {int(rows['steps'].max()):,} | "
                         f"{rows['train_seconds'].mean() / 60:.1f} |")
    lines += ["", "Change from independent to correlated data (mean over seeds; paper in brackets):", "",
              "| method | ΔDCI | ΔSAP | ΔIRS | Δtranslation |", "|---|---|---|---|---|"]
    for m in METHODS:
        rows = frame[frame["label"] == m]
        if set(rows["data"]) != set(DATA):
            continue
        mean = rows.groupby("data")[cols].mean()
        cells = []
        for j, c in enumerate(cols):
            delta = mean.loc["correlated", c] - mean.loc["independent", c]
            paper = f" ({PAPER[m][1][j] - PAPER[m][0][j]:+.2f})" if j < 3 else ""
            cells.append(f"{delta:+.3f}{paper}")
        lines.append(f"| {NAMES[m]} | " + " | ".join(cells) + " |")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")

    # metric agreement (the paper's Fig. 3): every model, then the FactorVAE models alone; the
    # paper's translation difficulty (cross-entropy), its KL form, and the KL as a fraction of how
    # much the feature changes the images (ours: a feature that changes nothing scores 0 otherwise)
    if {"translation.kl", "translation.change"} <= set(frame):
        frame["translation.relative"] = frame["translation.kl"] / frame["translation.change"]
    variants = [c for c in ("translation", "translation.kl", "translation.relative") if c in frame]
    scores = variants + [c for c in ("dci.disentanglement", "sap", "irs") if c in frame]
    if variants and len(scores) > len(variants):
        text = ["Spearman rank correlations; the translation difficulties are negated (lower is better), so a "
                "positive value means agreement.", ""]
        for name, rows in (("every model", frame), ("FactorVAE models", frame[frame["label"].str.startswith("factorvae")])):
            corr = metric_agreement(rows[scores], lower_is_better=variants)
            pairs = metric_agreement_table(rows[scores], lower_is_better=variants)
            text += [f"### {name} ({len(rows)} models)", "", "| | " + " | ".join(LABELS[c] for c in scores) + " |",
                     "|---|" + "---|" * len(scores)]
            text += [f"| {LABELS[a]} | " + " | ".join(f"{corr.loc[a, b]:.2f}" for b in scores) + " |" for a in scores]
            text.append("")
            for v in variants:
                first = pairs[(pairs["metric_a"] == v) & ~pairs["metric_b"].isin(variants)]
                text.append(f"- {LABELS[v]}: " + "; ".join(
                    f"{LABELS[r.metric_b]} rho = {r.spearman:.2f} (p = {r.p_value:.3f})" for r in first.itertuples()))
            text.append("")
            if name == "every model":
                agreement_heatmap(corr, out / "agreement.png",
                                  title=f"Spearman rank correlation over {len(rows)} models (translation negated)")
        atomic_write_text(out / "agreement.md", "\n".join(text))
    _figure(frame, cols, out / "figure.png")
    _neighbours(frame, out)


def _neighbours(frame, out: Path) -> None:
    """Nearest neighbours per feature (the paper's Fig. 5) of the best-DCI intervention model and
    FactorVAE (gamma 40, the paper's Fig. 4 baseline) trained on correlated data, on test images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from untwine.data.weak import evaluation_part
    from untwine.train import load_run
    from untwine.viz import neighbours_figure

    for label in ("intervention", "factorvae_g40"):
        rows = frame[(frame["label"] == label) & (frame["data"] == "correlated")]
        if rows.empty or rows["dci.disentanglement"].isna().all():
            continue
        best = rows.loc[rows["dci.disentanglement"].idxmax()]
        run = load_run(best["run_path"])
        test, _ = evaluation_part(run.dataset)
        fig = neighbours_figure(run.method, test, num_queries=4, k=3, pool=2000, seed=0)
        fig.suptitle(f"{NAMES[label]}, correlated data, seed {best['seed']} (DCI {best['dci.disentanglement']:.2f}): "
                     "3 nearest test images by each feature alone", fontsize=9, y=1.01)
        fig.savefig(out / f"neighbours_{label}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)


def _figure(frame, cols, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3.6))
    for ax, c in zip(np.atleast_1d(axes), cols):
        for j, m in enumerate(METHODS):
            for i, d in enumerate(DATA):
                v = frame[(frame["label"] == m) & (frame["data"] == d)][c].to_numpy(dtype=float)
                x = j + (i - 0.5) * 0.3
                ax.scatter(np.full(len(v), x), v, s=14, color=("tab:blue", "tab:red")[i],
                           label=d if j == 0 and c == cols[0] else None)
                if len(v):
                    ax.hlines(np.nanmean(v), x - 0.1, x + 0.1, color=("tab:blue", "tab:red")[i])
        ax.set_xticks(range(len(METHODS)), [NAMES[m].split(" (ours")[0] for m in METHODS], rotation=30, ha="right",
                      fontsize=8)
        ax.set_title(SCORES[c])
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
