"""Toy ground-truth datasets and encoders for the metric tests (not a test module)."""

from __future__ import annotations

import numpy as np
import torch

from untwine.data.base import FactorGridDataset


class ToyGrid(FactorGridDataset):
    """A factor grid whose 'images' are (1, 1, K) uint8 tensors holding the factor classes."""

    name = "toy_grid"

    def __init__(self, sizes=(3, 6, 10, 8, 8)):
        self.factor_sizes = tuple(sizes)
        self.factor_names = tuple(f"f{k}" for k in range(len(sizes)))
        self.image_shape = (1, 1, len(sizes))

    def factor_values(self, factor):
        k = self.factor_index(factor)
        return np.arange(self.factor_sizes[k], dtype=np.float64)

    def images(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        c = self.index_to_classes(idx)
        return torch.from_numpy(c.astype(np.uint8)).reshape(len(idx), 1, 1, -1)


class ToyEncoder(torch.nn.Module):
    """codes = g(classes / sizes) @ mixing + noise * table[image], g strictly increasing.

    ``noise`` adds a fixed Gaussian value per image (a deterministic function of the image);
    ``extra`` appends that many pure-noise latents. Counts the images it encodes.
    """

    def __init__(self, dataset, mixing=None, noise=0.0, extra=0, seed=0):
        super().__init__()
        self.dataset = dataset
        k = dataset.num_factors
        self.sizes = torch.tensor(dataset.factor_sizes, dtype=torch.float64)
        self.mixing = torch.eye(k, dtype=torch.float64) if mixing is None else torch.as_tensor(mixing, dtype=torch.float64)
        d = self.mixing.shape[1] + extra
        rng = np.random.default_rng(seed)
        self.table = torch.from_numpy(rng.standard_normal((len(dataset), d)))
        self.noise = noise
        self.extra = extra
        self.images_seen = 0

    def encode(self, x):
        self.images_seen += x.shape[0]
        c = x.reshape(x.shape[0], -1).to(torch.int64)
        idx = torch.from_numpy(self.dataset.classes_to_index(c.numpy()))
        v = torch.exp(2 * (c.to(torch.float64) + 0.5) / self.sizes) - 1.0
        z = v @ self.mixing
        if self.extra:
            z = torch.cat([z, torch.zeros(z.shape[0], self.extra, dtype=z.dtype)], 1)
            z[:, -self.extra:] = self.table[idx, -self.extra:]
        if self.noise:
            z[:, : z.shape[1] - self.extra] += self.noise * self.table[idx, : z.shape[1] - self.extra]
        return z.float()

    def decode(self, z):
        """Logits of an image-shaped reconstruction: a fixed linear read-out of the codes."""
        w = torch.linspace(-1.0, 1.0, z.shape[1] * len(self.dataset.factor_sizes), dtype=z.dtype)
        return (z @ w.reshape(z.shape[1], -1)).reshape(z.shape[0], *self.dataset.image_shape)
