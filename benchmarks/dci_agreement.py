"""DCI with the fast LightGBM backend against the sklearn reference, on fixtures; time and agreement.

    python benchmarks/dci_agreement.py [--quick] [--out benchmarks/results/dci_agreement.json]

Fixtures (seeded): codes of 10 latents for dSprites-like factor classes (sizes 3, 6, 40, 32, 32
unless ``--quick``), 10,000 training and 5,000 test points as the suite draws them, in four
kinds: disentangled (each factor in one latent, with noise), rotated (a random rotation of
that), partial (some factors spread over two latents, others absent) and noise. For each
fixture and each LightGBM ``max_bin`` setting the largest absolute difference of the four
scores from ``backend="sklearn"`` is printed, with the seconds of each fit. The issue's bar is
0.02.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from untwine.metrics import dci


def fixture(kind: str, sizes: tuple[int, ...], n: int, seed: int, d: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    v = (y + 0.5) / np.asarray(sizes) - 0.5  # factor values in (-0.5, 0.5)
    z = 0.05 * rng.standard_normal((n, d))
    k = len(sizes)
    if kind == "disentangled":
        z[:, :k] += v
    elif kind == "rotated":
        z[:, :k] += v
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        z = z @ q
    elif kind == "partial":  # factor 0 absent, 1 and 2 mixed over two latents, the rest clean
        z[:, 0] += 0.7 * v[:, 1] + 0.3 * v[:, 2]
        z[:, 1] += 0.3 * v[:, 1] - 0.7 * v[:, 2]
        z[:, 2:k - 1] += v[:, 3:]
        z[:, k:] = np.tanh(3 * z[:, k:] + rng.standard_normal((n, d - k)))
    elif kind == "noise":
        z = rng.standard_normal((n, d))
    else:
        raise ValueError(kind)
    return z, y


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="factor sizes (3, 6, 5), 3,000 / 1,500 points")
    p.add_argument("--kinds", default="disentangled,rotated,partial,noise")
    p.add_argument("--max-bins", default="255,1023,0", help="LightGBM max_bin values; 0 = every distinct value")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "dci_agreement.json"))
    a = p.parse_args()
    sizes, n_tr, n_te = ((3, 6, 5), 3000, 1500) if a.quick else ((3, 6, 40, 32, 32), 10000, 5000)
    rows = []
    for i, kind in enumerate(a.kinds.split(",")):
        z, y = fixture(kind, sizes, n_tr + n_te, seed=100 + i)
        split = (z[:n_tr], y[:n_tr], z[n_tr:], y[n_tr:])
        t = time.perf_counter()
        ref = dci(*split, backend="sklearn")
        row = {"kind": kind, "sizes": sizes, "sklearn_s": round(time.perf_counter() - t, 1), "sklearn": ref}
        for mb in (int(b) for b in a.max_bins.split(",")):
            t = time.perf_counter()
            fast = dci(*split, max_bin=mb or None)
            row[f"lightgbm_{mb or 'exact'}_s"] = round(time.perf_counter() - t, 1)
            row[f"lightgbm_{mb or 'exact'}_maxdiff"] = round(max(abs(fast[k] - ref[k]) for k in ref), 4)
            row[f"lightgbm_{mb or 'exact'}"] = fast
        print(json.dumps(row), flush=True)
        rows.append(row)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
