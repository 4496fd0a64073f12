"""Shared fixtures: a tiny factor-grid dataset that needs no rendering or files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from untwine.data import FactorGridDataset

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


class ToySquares(FactorGridDataset):
    """A 6x6 grid of 16x16 squares in 64x64 images: factors row and column of the square."""

    name = "toy_squares"
    factor_names = ("row", "column")
    factor_sizes = (6, 6)
    image_shape = (1, 64, 64)

    def factor_values(self, factor):
        return np.arange(self.factor_sizes[self.factor_index(factor)], dtype=np.float64)

    def images(self, indices):
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        classes = torch.as_tensor(self.index_to_classes(idx.numpy()))
        r = torch.arange(64)
        top = classes[:, 0, None] * 9
        left = classes[:, 1, None] * 9
        rows = (r >= top) & (r < top + 16)
        cols = (r >= left) & (r < left + 16)
        img = (rows[:, :, None] & cols[:, None, :]).to(torch.uint8) * 255
        return img[:, None]


@pytest.fixture
def toy_dataset():
    return ToySquares()


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (a user's clone does not have it)")
    return SHARED


def images_loaded_in_chromium(page: Path, tmp_path: Path) -> tuple[int, int]:
    """(images decoded, images) of an HTML report opened in headless Chromium (skips without Chromium).

    The reports count their decoded images in a ``data-images-loaded="N/M"`` attribute on load.
    """
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium')")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert m, "the page's load handler did not run"
    loaded, total = map(int, m.groups())
    return loaded, total
