"""Seed 000's summary: results/table.md and results/results.csv, next to the paper's dSprites columns
of Table 4 (latent classification) and Table 5 (relations); a figure of accuracy against alpha."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from untwine.io import atomic_write_text

HERE = Path(__file__).resolve().parent
ALPHAS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
DEPTHS = (1, 5, 10)
# Table 4, dSprites: (alpha, tau) -> (ACC, AR)
PAPER_T4 = {
    (0.0, 10): (0.548, 1.0), (0.0, 20): (0.554, 1.0), (0.0, 30): (0.590, 1.0),
    (0.1, 10): (0.592, 1.0), (0.1, 20): (0.631, 0.999), (0.1, 30): (0.642, 1.0),
    (0.3, 10): (0.676, 0.991), (0.3, 20): (0.700, 0.993), (0.3, 30): (0.728, 0.993),
    (0.5, 10): (0.865, 0.988), (0.5, 20): (0.882, 0.990), (0.5, 30): (0.891, 0.989),
    (0.7, 10): (0.948, 0.994), (0.7, 20): (0.937, 0.989), (0.7, 30): (0.966, 0.993),
    (0.9, 10): (0.921, 0.981), (0.9, 20): (0.956, 0.987), (0.9, 30): (0.976, 0.985),
}
# Table 5, dSprites: (alpha, depth) -> (ACC, AR)
PAPER_T5 = {(0.0, 1): (0.9896, 1.0), (0.0, 5): (0.9898, 1.0), (0.0, 10): (0.9894, 1.0),
            (0.5, 1): (1.0, 0.9832), (0.5, 5): (0.9997, 0.9711), (0.5, 10): (0.9995, 0.9695)}


def _ms(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def summary(frame, study) -> None:
    out = HERE / "results" if study.profile in (None, "cpu") else HERE / f"results_{study.profile}"
    out.mkdir(parents=True, exist_ok=True)
    score_cols = [c for c in frame.columns if str(c).split(".")[0] in
                  ("classification", "classification_resp", "relations", "relations_a05", "entity", "reconstruction")]
    keep = ["label", "seed", "tau", "lr", "steps", "train_seconds"] + score_cols
    atomic_write_text(out / "results.csv", frame[[c for c in keep if c in frame.columns]].to_csv(index=False, float_format="%.5g"))
    group = next((c for c in ("tau", "lr") if c in frame and frame[c].nunique() > 1), "label")
    seeds = sorted(frame["seed"].unique().tolist())
    lines = [f"Latent classification (density threshold, as the reference code): accuracy / accepted ratio, mean ± sd over "
             f"seeds {seeds}; paper (Table 4, dSprites) in the last columns.", "",
             f"| alpha | {group} | accuracy | accepted | responsibility threshold: accuracy | accepted | paper ACC | paper AR |",
             "|---|---|---|---|---|---|---|---|"]
    for a in ALPHAS:
        for value, sub in frame.groupby(group):
            paper = PAPER_T4.get((a, int(value))) if group == "tau" else None
            lines.append(f"| {a:g} | {value} | {_ms(sub[f'classification.accuracy_{a:g}'])} | "
                         f"{_ms(sub[f'classification.accepted_{a:g}'])} | {_ms(sub[f'classification_resp.accuracy_{a:g}'])} | "
                         f"{_ms(sub[f'classification_resp.accepted_{a:g}'])} | "
                         + (f"{paper[0]} | {paper[1]} |" if paper else "- | - |"))
    lines += ["", "Relations (ReL applied `depth` times to codes sampled from the source components; every tau pooled): "
              "accuracy / accepted ratio of the final code, and over the chains whose every step was accepted; paper "
              "(Table 5, dSprites).", "",
              "| alpha | depth | accuracy | accepted | all steps accepted: accuracy | accepted | paper ACC | paper AR |",
              "|---|---|---|---|---|---|---|---|"]
    for a, label in ((0.0, "relations"), (0.5, "relations_a05")):
        for d in DEPTHS:
            paper = PAPER_T5.get((a, d))
            lines.append(f"| {a:g} | {d} | {_ms(frame[f'{label}.accuracy_d{d}'])} | {_ms(frame[f'{label}.accepted_d{d}'])} | "
                         f"{_ms(frame[f'{label}.accuracy_all_d{d}'])} | {_ms(frame[f'{label}.accepted_all_d{d}'])} | "
                         + (f"{paper[0]} | {paper[1]} |" if paper else "- | - |"))
    rel_names = sorted(c.split(".")[1][:-3] for c in frame.columns if str(c).startswith("relations.") and str(c).endswith("_d1")
                       and not str(c).split(".")[1].startswith(("accuracy", "accepted")))
    lines += ["", "Per relation, depth 1, alpha 0: " + ", ".join(f"{r} {_ms(frame[f'relations.{r}_d1'])}" for r in rel_names)]
    lines += ["", "Entity factors read from the classified component (alpha 0), against the true bins: "
              + ", ".join(f"{k} {_ms(frame[f'entity.{k}'])}" for k in ("mig", "sap", "dci_disentanglement",
                                                                        "dci_completeness", "dci_informativeness")),
              f"Reconstruction: {_ms(frame['reconstruction.mse_per_pixel'])} MSE per pixel.",
              "", f"profile {study.profile}: {int(frame['steps'].iloc[0])} steps of {int(frame['batch_size'].iloc[0])} images, "
              f"{len(frame)} runs; training {frame['train_seconds'].sum() / 60:.0f} min in all "
              f"({frame['train_seconds'].mean() / 60:.1f} min per run, one torch thread each)."]
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for value, sub in frame.groupby(group):
        acc = [sub[f"classification.accuracy_{a:g}"].mean() for a in ALPHAS]
        acc_r = [sub[f"classification.accepted_{a:g}"].mean() for a in ALPHAS]
        axes[0].plot(ALPHAS, acc, "o-", label=f"{group} {value}")
        axes[0].plot(ALPHAS, acc_r, "o:", color=axes[0].lines[-1].get_color(), alpha=0.6)
        if group == "tau":
            axes[0].plot(ALPHAS, [PAPER_T4[(a, int(value))][0] for a in ALPHAS], "x--",
                         color=axes[0].lines[-1].get_color(), alpha=0.5)
    axes[0].set_xlabel("alpha (density threshold)")
    axes[0].set_ylabel("accuracy (solid), accepted (dotted); paper x")
    axes[0].legend(fontsize=7)
    for a, label in ((0.0, "relations"), (0.5, "relations_a05")):
        axes[1].errorbar(DEPTHS, [frame[f"{label}.accuracy_d{d}"].mean() for d in DEPTHS],
                         [frame[f"{label}.accuracy_d{d}"].std() for d in DEPTHS], marker="o", label=f"alpha {a:g}")
    axes[1].plot(DEPTHS, [PAPER_T5[(0.0, d)][0] for d in DEPTHS], "x--", color="gray", label="paper, alpha 0")
    axes[1].set_xlabel("relation depth")
    axes[1].set_ylabel("ReL accuracy (final code)")
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
