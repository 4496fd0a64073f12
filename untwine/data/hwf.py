"""Handwritten formula symbols (HWF, Li et al. 2020) for seed 000: one factor, the symbol.

Symbol classes: ``0..9`` are the digits, ``10 "+"``, ``11 "-"``, ``12 "times"`` (and ``13 "div"``
with ``include_div=True``; seed 000 uses the 13 classes without division). Images are 45x45 grey,
uint8 (1, 45, 45), strokes bright on a dark background (``invert=True``, the MNIST convention; the
official jpgs are dark strokes on white).

* ``get_dataset("hwf", path=ROOT)``: the official layout, ``ROOT/expr_{train,test}.json`` (a list
  of ``{"img_paths": [...], "expr": "1+3/5", ...}``; path ``i`` shows character ``i`` of ``expr``,
  ``*`` is times, ``/`` div) and the images under ``ROOT/Handwritten_Math_Symbols/``. Every symbol
  image referenced by the split's expressions is loaded once. Without the json, every image in
  the symbol folders (``0``..``9``, ``+``, ``-``, ``times``, ``div``) is loaded.
* ``path=None``: an offline **stand-in** (name ``"hwf_standin"``): real MNIST digits from
  ``mnist_path`` (or the sklearn-digits stand-in) resized to 45x45, plus procedurally drawn
  operator glyphs (random length, thickness, rotation, position; anti-aliased), ``ops_per_class``
  of each, generated from ``seed``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .base import IndexLike, as_index_tensor
from .collection import LabelledCollection
from .registry import register_dataset

SYMBOLS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "-", "times", "div")
_EXPR_CHAR = {**{str(d): d for d in range(10)}, "+": 10, "-": 11, "*": 12, "/": 13}
_FOLDER = {name: i for i, name in enumerate(SYMBOLS)}


def draw_operator_glyphs(symbol: str, n: int, rng: np.random.Generator, size: int = 45) -> np.ndarray:
    """``n`` hand-drawn-looking operator glyphs ("+", "-", "times"): uint8 (n, size, size)."""
    if symbol not in ("+", "-", "times"):
        raise ValueError(f"can draw '+', '-' or 'times', not {symbol!r}")
    c = size / 2 + rng.uniform(-3, 3, (n, 2))
    half = rng.uniform(8, 14, n)
    width = rng.uniform(1.2, 2.4, n)
    rot = np.deg2rad(rng.normal(0, 8, n))
    base = {"+": [0.0, np.pi / 2], "-": [0.0], "times": [np.pi / 4, -np.pi / 4]}[symbol]
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dist = np.full((n, size, size), np.inf)
    for a in base:
        ang = a + rot + rng.normal(0, 0.06, n)  # strokes not exactly perpendicular
        ln = half * rng.uniform(0.85, 1.15, n)
        dx, dy = np.cos(ang), np.sin(ang)
        px, py = xx[None] - c[:, 0, None, None], yy[None] - c[:, 1, None, None]
        t = np.clip(px * dx[:, None, None] + py * dy[:, None, None], -ln[:, None, None], ln[:, None, None])
        d = np.hypot(px - t * dx[:, None, None], py - t * dy[:, None, None])
        dist = np.minimum(dist, d)
    ink = np.clip(width[:, None, None] + 0.5 - dist, 0, 1)  # 1-pixel anti-aliased edge
    return (ink * 255).round().astype(np.uint8)


def _load_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        if im.size != (45, 45):
            im = im.resize((45, 45), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def load_hwf_symbols(root: str | Path, split: str = "train", include_div: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Symbol images (N, 45, 45) uint8 (as stored) and classes (N,) from the official HWF layout."""
    root = Path(root).expanduser()
    sym_dir = root / "Handwritten_Math_Symbols"
    if not sym_dir.is_dir():
        raise ValueError(f"HWF: {sym_dir} not found; pass path= to the folder holding "
                         "Handwritten_Math_Symbols/ and expr_train.json / expr_test.json")
    files: dict[str, int] = {}
    expr_file = root / f"expr_{split}.json"
    if expr_file.is_file():
        for rec in json.loads(expr_file.read_text()):
            paths, expr = rec["img_paths"], rec["expr"]
            if len(paths) != len(expr):
                raise ValueError(f"{expr_file}: expression {expr!r} has {len(expr)} symbols but {len(paths)} images")
            for p, ch in zip(paths, expr):
                if ch not in _EXPR_CHAR:
                    raise ValueError(f"{expr_file}: unknown symbol {ch!r} in {expr!r}")
                files[p] = _EXPR_CHAR[ch]
    else:
        for folder, k in _FOLDER.items():
            for p in sorted((sym_dir / folder).glob("*")) if (sym_dir / folder).is_dir() else []:
                files[f"{folder}/{p.name}"] = k
    keep = [(p, k) for p, k in sorted(files.items()) if include_div or k != 13]
    if not keep:
        raise ValueError(f"HWF: no symbol images found under {sym_dir} (split {split!r})")
    missing = [p for p, _ in keep if not (sym_dir / p).is_file()]
    if missing:
        raise ValueError(f"HWF: {len(missing)} image(s) listed in {expr_file.name} are missing, e.g. {sym_dir / missing[0]}")
    x = np.stack([_load_image(sym_dir / p) for p, _ in keep])
    return x, np.array([k for _, k in keep], dtype=np.int64)


@register_dataset("hwf")
class HWFSymbols(LabelledCollection):
    """HWF symbols with factor ``symbol`` (13 classes, 14 with ``include_div``); see the module doc.

    Options: ``path`` (official layout), ``split`` ("train"/"test"), ``include_div``, ``invert``,
    and for the stand-in ``mnist_path``, ``mnist_split``, ``ops_per_class``, ``seed``.
    """

    factor_names = ("symbol",)
    image_shape = (1, 45, 45)

    def __init__(self, path: str | Path | None = None, split: str = "train", include_div: bool = False,
                 invert: bool = True, mnist_path: str | Path | None = None, mnist_split: str = "auto",
                 ops_per_class: int = 1000, seed: int = 0):
        self.symbols = SYMBOLS[: 14 if include_div else 13]
        self.factor_sizes = (len(self.symbols),)
        if path is not None:
            x, y = load_hwf_symbols(path, split, include_div)
            if invert:
                x = 255 - x
            self.name = "hwf"
        else:
            if include_div:
                raise ValueError("the HWF stand-in has no division glyphs; use include_div=False or the official data")
            from .mnist import MNIST, resize_uint8

            mnist = MNIST(mnist_path, mnist_split)
            digits = resize_uint8(mnist.digit_images, 45)[:, 0].numpy()
            labels = mnist.index_to_classes(np.arange(len(mnist)))[:, 0]
            rng = np.random.default_rng(seed)
            ops = [draw_operator_glyphs(s, int(ops_per_class), rng) for s in ("+", "-", "times")]
            x = np.concatenate([digits, *ops])
            y = np.concatenate([labels, np.repeat([10, 11, 12], int(ops_per_class))])
            self.name = "hwf_standin"
        self._x = torch.from_numpy(np.ascontiguousarray(x))[:, None]
        self._set_classes(y[:, None])

    def factor_values(self, factor: int | str) -> np.ndarray:
        self.factor_index(factor)
        return np.arange(len(self.symbols), dtype=np.float64)

    def images(self, indices: IndexLike) -> torch.Tensor:
        return self._x[as_index_tensor(indices, len(self))]
