"""Seed 002's summary: ``results/table.md``, ``results/results.csv`` and ``results/figure.png``
(each score against the reconstruction error, points labelled with the hyperparameter, as the
paper's Fig. 1), from the study's results (``untwine.studies.load``)."""

from __future__ import annotations

from pathlib import Path

from untwine.io import atomic_write_text

HERE = Path(__file__).resolve().parent
# Seed 002 Table 1 (2D Shapes): Z-diff (%), SAP, reconstruction error per pixel
PAPER = {
    "beta_vae beta=1 (VAE)": (81.3, 0.0417, 0.0017),
    "beta_vae beta=4": (80.7, 0.0811, 0.0032),
    "beta_vae beta=60": (95.7, 0.5503, 0.0113),
    "dip_vae_i lambda_od=10": (98.7, 0.1889, 0.0018),
    "dip_vae_ii lambda_od=5": (95.3, 0.2188, 0.0023),
    "dip_vae_ii lambda_od=500": (98.0, 0.5253, 0.0079),
}
SCORES = {"sap": "SAP (SVC)", "sap_threshold": "SAP (threshold)", "zdiff.eval_accuracy": "Z-diff (eval accuracy)"}
RECON = "reconstruction.mse_per_pixel"


def summary(frame, study) -> None:
    out = HERE / "results" if study.profile in (None, "cpu") else HERE / f"results_{study.profile}"
    out.mkdir(parents=True, exist_ok=True)
    cols = ["label", "method", "seed", RECON, "reconstruction.bce_per_image", *SCORES, "zdiff.train_accuracy",
            "train_seconds", "eval_seconds"]
    atomic_write_text(out / "results.csv", frame[cols].to_csv(index=False, float_format="%.6g"))
    lines = ["| run | seed | recon MSE / pixel | recon BCE / image | " + " | ".join(SCORES.values()) + " |",
             "|" + "---|" * (4 + len(SCORES))]
    for _, vals in frame.iterrows():
        lines.append(f"| {vals['label']} | {vals['seed']} | {vals[RECON]:.4f} | {vals['reconstruction.bce_per_image']:.1f} | "
                     + " | ".join(f"{vals[k]:.4f}" for k in SCORES) + " |")
    if frame["seed"].nunique() > 1:
        keys = [RECON, *SCORES]
        stats = frame.groupby("label", sort=False)[keys].agg(["mean", "std"])
        lines += ["", f"Per setting, mean ± standard deviation over {frame['seed'].nunique()} seeds:", "",
                  "| run | recon MSE / pixel | " + " | ".join(SCORES.values()) + " |", "|" + "---|" * (2 + len(SCORES))]
        for label, row in stats.iterrows():
            lines.append(f"| {label} | " + " | ".join(f"{row[(k, 'mean')]:.4f} ± {row[(k, 'std')]:.4f}" for k in keys) + " |")
    lines += ["", "Paper (seed 002, Table 1, 2D Shapes; Z-diff in %, SAP, recon error per pixel):", "",
              "| run | Z-diff | SAP | recon error |", "|---|---|---|---|"]
    lines += [f"| {k} | {v[0]} | {v[1]} | {v[2]} |" for k, v in PAPER.items()]
    steps, batch = int(frame["steps"].iloc[0]), int(frame["batch_size"].iloc[0])
    lines.append(f"\nprofile {study.profile}: steps {steps}, batch {batch}, seeds {sorted(frame['seed'].unique().tolist())}; "
                 f"training {frame['train_seconds'].sum():.0f} s in all ({frame['train_seconds'].mean():.0f} s per run, "
                 f"one torch thread each), evaluation {frame['eval_seconds'].sum():.0f} s. Z-diff: eval accuracy, "
                 "5 factors (chance 0.2).")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCORES), figsize=(4.5 * len(SCORES), 3.8), squeeze=False)
    for ax, (key, name) in zip(axes[0], SCORES.items()):
        for method, style in zip(frame["method"].unique(), ("o-", "s-", "^-", "v-")):
            sub = frame[frame["method"] == method]
            param = next(c for c in ("beta", "lambda_od") if c in sub and sub[c].notna().all())
            means = sub.groupby(param)[[RECON, key]].mean().sort_values(RECON)
            line, = ax.plot(means[RECON], means[key], style, label=f"{method} (mean of seeds)")
            ax.scatter(sub[RECON], sub[key], s=10, alpha=0.4, color=line.get_color())  # each seed
            for v, (x, y) in means.iterrows():
                ax.annotate(f"{v:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("reconstruction error (MSE per pixel)")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    fig.suptitle(f"dSprites, {steps} steps x batch {batch} (profile {study.profile})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
