"""Rendering speed of the 3D Shapes look-alike, and the side-by-side figure for the docs.

    python benchmarks/shapes3d_render.py                 # timings (cold ray-cast, warm compose)
    python benchmarks/shapes3d_render.py --figure docs/shapes3d_comparison.png

Cold: images whose geometry (scale, shape, orientation) has not been ray-cast yet.
Warm: all 480 geometries cached, an image is a weighted sum of three colours.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from untwine.data.shapes3d import NUM_GEOMETRIES, Shapes3D, render_geometry


def timings(batch: int = 64, batches: int = 50) -> None:
    t = time.perf_counter()
    n_geo = 8
    for g in range(n_geo):
        render_geometry(1.0, g % 4, -30.0 + 4 * g)
    cold = (time.perf_counter() - t) / n_geo
    print(f"cold: {cold * 1000:.1f} ms per new geometry (ray-cast, supersample 3, 8 shadow rays)"
          f" -> {1 / cold:.1f} images/s; all {NUM_GEOMETRIES} geometries ~{cold * NUM_GEOMETRIES:.0f} s once")
    ds = Shapes3D()
    t = time.perf_counter()
    ds.precompute(save=False)
    print(f"precompute of all geometries: {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(0)
    ds.images(rng.integers(0, len(ds), batch))
    t = time.perf_counter()
    for _ in range(batches):
        ds.images(rng.integers(0, len(ds), batch))
    dt = time.perf_counter() - t
    print(f"warm: {batch * batches / dt:,.0f} images/s (batch {batch}, random indices)")


def figure(out: Path, reference: Path) -> None:
    from PIL import Image, ImageDraw

    real = Image.open(reference).convert("RGB").resize((425, 425), Image.LANCZOS)
    ds = Shapes3D()
    x = ds.images(np.random.default_rng(3).integers(0, len(ds), 25)).permute(0, 2, 3, 1).numpy()
    cell, gap = 72, 13
    ours = Image.new("RGB", (5 * cell + 6 * gap - 5 * 8, 5 * cell + 6 * gap - 5 * 8), "white")
    for i in range(25):
        tile = Image.fromarray(x[i]).resize((cell - 8, cell - 8), Image.NEAREST)
        r, c = divmod(i, 5)
        ours.paste(tile, (gap + c * (cell - 8 + gap), gap + r * (cell - 8 + gap)))
    ours = ours.resize((425, 425), Image.NEAREST)
    fig = Image.new("RGB", (2 * 425 + 20, 425 + 24), "white")
    fig.paste(real, (0, 24))
    fig.paste(ours, (445, 24))
    d = ImageDraw.Draw(fig)
    d.text((150, 6), "real 3dshapes.h5", fill="black")
    d.text((560, 6), "untwine look-alike (random factors)", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--figure", type=Path, help="write the side-by-side comparison PNG here")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--reference", type=Path,
                   default=Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "shapes3d_real_grid1.png")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.figure:
        figure(a.figure, a.reference)
    else:
        timings()
