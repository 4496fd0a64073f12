"""Image grids and PNG encoding."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write


def to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) float in [0, 1] or uint8 -> (N, H, W, 3) uint8 (grey images repeated to RGB)."""
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    x = x.permute(0, 2, 3, 1).numpy()
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def grid(images: torch.Tensor, rows: int, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile N images (N, C, H, W) into a ``rows`` x ceil(N/rows) RGB uint8 array."""
    x = to_uint8_hwc(images)
    n, h, w, c = x.shape
    cols = -(-n // rows)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i]
    return out


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """Encode an (H, W, 3) uint8 array as PNG (nearest-neighbour upscaled by ``scale``)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import image as mpimg

    if scale > 1:
        array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    mpimg.imsave(buf, array, format="png")
    return buf.getvalue()


def save_png(array: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Atomically write an (H, W, 3) uint8 array as a PNG file."""
    data = png_bytes(array, scale)
    return atomic_write(path, lambda fh: fh.write(data))
