"""Fixed inputs for the cross-check against disent 0.8.0 (regenerated from their seeds).

``python tests/_metrics_vectors.py OUT.json`` run with disent's venv computes disent's values
(``_compute_mig``, ``_compute_sap``, ``_compute_dci``) on these inputs and writes the test vectors.
"""

from __future__ import annotations

import json
import sys

import numpy as np

CASES = {
    # name: (seed, kind, n_train, n_test, factor sizes)
    "disentangled": (101, "disentangled", 1000, 500, (3, 6, 5)),
    "rotated": (102, "rotated", 1000, 500, (3, 6, 5)),
    "noise": (103, "noise", 1000, 500, (3, 6, 5)),
    "mixed_extra_latents": (104, "mixed", 1000, 500, (2, 4, 8)),
}


def make_case(seed: int, kind: str, n_train: int, n_test: int, sizes) -> tuple[np.ndarray, np.ndarray]:
    """codes (N, d) float64 and factor classes (N, K) int64; first n_train rows are the train split."""
    rng = np.random.default_rng(seed)
    n, k = n_train + n_test, len(sizes)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    base = np.exp(2 * (y + rng.uniform(0, 1, y.shape)) / np.asarray(sizes)) - 1
    if kind == "disentangled":
        z = base + 0.05 * rng.standard_normal(base.shape)
    elif kind == "rotated":
        q, _ = np.linalg.qr(rng.standard_normal((k, k)))
        z = base @ q
    elif kind == "noise":
        z = rng.standard_normal((n, k))
    else:
        m = np.eye(k) + 0.3 * rng.standard_normal((k, k))
        z = np.concatenate([base @ m + 0.2 * rng.standard_normal(base.shape), rng.standard_normal((n, 2))], 1)
    return z, y


def main(out: str) -> None:
    from importlib.metadata import version

    from disent.metrics._dci import _compute_dci
    from disent.metrics._mig import _compute_mig
    from disent.metrics._sap import _compute_sap

    vectors = {"disent": version("disent"), "scikit-learn": version("scikit-learn"), "numpy": version("numpy"),
               "cases": {}}
    for name, (seed, kind, n_tr, n_te, sizes) in CASES.items():
        z, y = make_case(seed, kind, n_tr, n_te, sizes)
        tr, te = slice(0, n_tr), slice(n_tr, None)
        mig = _compute_mig(z[tr].T, y[tr].T)
        sap = _compute_sap(z[tr].T, y[tr].T, z[te].T, y[te].T, continuous_factors=False)
        dci = _compute_dci(z[tr].T, y[tr].T, z[te].T, y[te].T)
        vals = {**mig, **sap, **dci}
        vectors["cases"][name] = {"seed": seed, "kind": kind, "n_train": n_tr, "n_test": n_te, "sizes": list(sizes),
                                  "values": {k: float(v) for k, v in vals.items()}}
        print(name, vectors["cases"][name]["values"], flush=True)
    with open(out, "w") as f:
        json.dump(vectors, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
