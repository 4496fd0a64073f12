"""Image-translation difficulty (seed 004, section 3 Definition 1, section 5.3): a disentanglement
score that needs no ground-truth factors, for any model with an encoder and a decoder.

For every feature k of the code (``feature_size`` dims each: the model's ``feature_size``, else
1) and ``repeats`` times: two values ``z_k^a, z_k^b`` are drawn from the marginal of Z_k (the codes
of two of ``marginal_images`` random images), two mini-batches D, D~ of ``batch_size`` random
images are encoded, and each image gives the pair ``u = Dec(z; Z_k = z_k^a)``,
``v = sigmoid(Dec(z; Z_k = z_k^b))``. A fresh translation network is fitted on D for ``steps``
gradient steps (learning rate ``lr``) and its cross-entropy measured on D~ (Algorithm 1;
:mod:`untwine.nn.translation` says how M is built). Lower is better.

Returns ``translation_difficulty`` (the cross-entropy, nats per image, mean over features and
repeats: the paper's number), ``kl`` (the same minus the entropy of v: blur-neutral),
``change`` (the KL of v from u itself, before any fitting: how much a feature changes the images)
and ``feature_K`` (the cross-entropy of each feature). A model whose features change nothing (a
collapsed generator, a decoder that ignores its code) scores near 0, the best score: read it with
``change`` and the reconstruction error. Deterministic for a seed: images, values and
the translation networks' initialisations come from the suite's generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..nn.translation import image_change, intervene
from ..nn.translation import translation_difficulty as algorithm1
from .codes import CodeTable
from .registry import OptionSource, register_metric


def _model_feature_size(model, dataset) -> int | None:
    size = getattr(model, "feature_size", None)
    return None if size is None else int(size)


def _codes(table: CodeTable, dataset: Any, idx: np.ndarray) -> torch.Tensor:
    codes = table.codes_for_indices(idx) if table.grid else table.encode_images(dataset.images(idx))
    if not np.isfinite(codes).all():
        raise ValueError("translation_difficulty: the model's codes contain NaN or infinite values")
    z = torch.from_numpy(np.asarray(codes)).float()
    return z if table.device is None else z.to(table.device)


@register_metric("translation_difficulty", needs=("sampling", "decoder"), bound=(-math.inf, math.inf),
                 option_sources={"feature_size": OptionSource(("model",), _model_feature_size,
                                                              "a model with feature_size (D_Z)")},
                 help="image-translation difficulty of intervened pairs (seed 004, Algorithm 1; lower is better)")
def translation_difficulty(dataset: Any, encode: Any, rng: np.random.Generator, decode: Any = None,
                           feature_size: int | None = None, batch_size: int = 32, repeats: int = 4, steps: int = 5,
                           lr: float = 1.0, hidden: int = 8, marginal_images: int = 1000) -> dict[str, float]:
    """Translation difficulty of ``encode``/``decode`` on ``dataset`` (module docstring)."""
    if decode is None:
        raise ValueError("translation_difficulty needs a model with a decoder (decode(z) -> logits)")
    for name, value, low in (("batch_size", batch_size, 2), ("repeats", repeats, 1), ("steps", steps, 1),
                             ("hidden", hidden, 1), ("marginal_images", marginal_images, 2)):
        if int(value) < low:
            raise ValueError(f"translation_difficulty: {name} must be >= {low}, got {value}"
                             + ("; the translation network needs s >= 1 fitting steps" if name == "steps" else ""))
    if not lr > 0:
        raise ValueError(f"translation_difficulty: lr must be > 0, got {lr}")
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset)
    n = len(dataset)
    pool = _codes(table, dataset, rng.integers(0, n, marginal_images))
    d = pool.shape[1]
    feature_size = 1 if feature_size is None else int(feature_size)
    if feature_size < 1 or d % feature_size:
        raise ValueError(f"translation_difficulty: feature_size={feature_size} does not divide the code size {d}; "
                         "give the model's D_Z (feature_size)")
    per_feature, kl, change = [], [], []
    for k in range(d // feature_size):
        ce_k = []
        for _ in range(repeats):
            a, b = pool[rng.integers(0, marginal_images, 2), k * feature_size:(k + 1) * feature_size]
            z, z_test = (_codes(table, dataset, rng.integers(0, n, batch_size)) for _ in range(2))
            generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
            with torch.inference_mode():
                u, v, ut, vt = (decode(intervene(c, k, val, feature_size)).float()
                                for c, val in ((z, a), (z, b), (z_test, a), (z_test, b)))
            u, v, ut, vt = (t.clone() for t in (u, v, ut, vt))  # plain tensors: the inner fit takes gradients
            with torch.no_grad():
                out = algorithm1(u, torch.sigmoid(v), ut, torch.sigmoid(vt), steps, lr, hidden, generator)
                change.append(float(image_change(ut, torch.sigmoid(vt))))
            ce_k.append(float(out["cross_entropy"]))
            kl.append(float(out["kl"]))
        per_feature.append(float(np.mean(ce_k)))
    scores = {"translation_difficulty": float(np.mean(per_feature)), "kl": float(np.mean(kl)),
              "change": float(np.mean(change))}
    scores.update({f"feature_{k}": v for k, v in enumerate(per_feature)})
    return scores
