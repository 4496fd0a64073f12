"""Compare weight-init schemes on trained runs: reconstruction, KL, active latents, MIG/DCI.

    python benchmarks/init_comparison.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is an ``untwine train`` output already scored with ``untwine evaluate RUN --metrics
mig,dci``. On 10,000 dSprites images drawn with seed 0 it computes the Bernoulli reconstruction
(sum over pixels, decoded from the mean code), the KL to N(0, I) (nats per image) and the active
latents (KL of that latent, averaged over images, above 0.01 nats; and above 0.1), and prints a Markdown table with
the last logged training loss terms and the metrics of metrics.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from untwine.nn import kl_standard_normal, reconstruction_loss
from untwine.train import load_run


@torch.no_grad()
def held_terms(run_dir: Path, n: int = 10000) -> dict[str, float]:
    """Reconstruction, KL and active latents of a run's model on ``n`` images drawn with seed 0."""
    res = load_run(run_dir)
    m, ds = res.method, res.dataset
    idx = np.random.default_rng(0).choice(len(ds), n, replace=False)
    recon, kl = [], []
    for i in range(0, n, 500):
        x = m.prepare(ds.images(idx[i:i + 500]))
        mu, logvar = m.posterior(x)
        recon.append(reconstruction_loss("bernoulli", m.decode(mu), x) * len(x))
        kl.append(kl_standard_normal(mu, logvar).sum(0))
    kl_dim = (torch.stack(kl).sum(0) / n).numpy()
    return {"recon": float(sum(recon) / n), "kl": float(kl_dim.sum()), "active": int((kl_dim > 0.01).sum()), "active01": int((kl_dim > 0.1).sum()),
            "last_logged": res.history[-1] if res.history else {}}


def main(argv: list[str]) -> None:
    """Print the comparison table for the run directories in ``argv``."""
    torch.set_num_threads(1)
    print("| run | logged recon / KL (step 2000) | recon (10k images) | KL | active (>0.01 / >0.1 nats) | MIG | DCI disent. | DCI compl. | DCI info. (test) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in map(Path, argv):
        t = held_terms(d)
        s = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").is_file() else {}
        s = s.get("scores", s)
        g = lambda k: f"{s[k]:.3f}" if isinstance(s.get(k), (int, float)) else "-"
        last = t["last_logged"]
        print(f"| {d.name} | {last.get('recon', float('nan')):.1f} / {last.get('kl', float('nan')):.2f} | {t['recon']:.1f} | "
              f"{t['kl']:.2f} | {t['active']} / {t['active01']} | {g('mig')} | {g('dci.disentanglement')} | {g('dci.completeness')} | {g('dci.informativeness_test')} |")


if __name__ == "__main__":
    main(sys.argv[1:])
