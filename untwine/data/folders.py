"""Folders of images (CelebA, Oxford Flowers 102, 3D Chairs, or any folder), resized to 64x64.

Every image is centre-cropped to a square (``crop`` pixels, or its shorter side when ``crop`` is
None), resized to ``size`` (Lanczos) and kept as uint8 (C, size, size). Labels, where the layout
has them, are the factors (optional: ``attributes=False`` gives a dataset without factors, for
unsupervised training and nearest-neighbour queries as in seed 004's Flowers experiment).

``cache``: ``"disk"`` (default) decodes every image once into a ``.npy`` in the untwine cache
directory and memory-maps it (CelebA at 64x64 is 2.5 GB: it never has to fit in RAM);
``"memory"`` decodes into RAM; ``"none"`` decodes the images of each batch on the fly.

Layouts (``path`` is the dataset's root folder):

* ``celeba``: ``img_align_celeba/*.jpg`` and ``list_attr_celeba.txt`` (40 binary attributes, -1/1
  mapped to classes 0/1; ``attributes=[...]`` keeps a subset); optional
  ``list_eval_partition.txt`` for ``split``. Default crop 148 (the usual centred face crop).
* ``flowers102``: ``jpg/image_00001.jpg...`` and ``imagelabels.mat`` (factor ``class``, 102);
  ``setid.mat`` for ``split``.
* ``chairs3d``: ``rendered_chairs/<chair>/renders/image_XXX_pPPP_tTTT_r096.png``; factors
  ``chair``, ``pitch``, ``azimuth`` (classes = rank of the value).
* ``image_folder``: every image under ``path``; ``labels="subfolder"`` makes the first-level
  subfolder the factor ``class``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..io import cache_dir
from .base import IndexLike, as_index_tensor
from .collection import LabelledCollection
from .registry import register_dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".webp")


def load_image(path: Path, size: int = 64, crop: int | None = None, channels: int = 3) -> np.ndarray:
    """One image centre-cropped and resized: uint8 (channels, size, size)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB" if channels == 3 else "L")
        w, h = im.size
        side = min(w, h) if crop is None else min(int(crop), w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
        a = np.asarray(im, dtype=np.uint8)
    return a.transpose(2, 0, 1) if channels == 3 else a[None]


class ImageFolderDataset(LabelledCollection):
    """Image files with optional factor classes; see the module docstring."""

    def __init__(self, name: str, files: Sequence[Path], classes: np.ndarray | None,
                 factor_names: Sequence[str] = (), factor_sizes: Sequence[int] = (),
                 factor_values: Sequence[np.ndarray] | None = None, size: int = 64, crop: int | None = None,
                 channels: int = 3, cache: str = "disk"):
        if cache not in ("disk", "memory", "none"):
            raise ValueError(f"cache must be 'disk', 'memory' or 'none', got {cache!r}")
        if not files:
            raise ValueError(f"{name}: no images found")
        self.name = name
        self.files = [Path(f) for f in files]
        self.size, self.crop, self.channels = int(size), crop, int(channels)
        self.image_shape = (self.channels, self.size, self.size)
        self.factor_names, self.factor_sizes = tuple(factor_names), tuple(int(s) for s in factor_sizes)
        self._values = list(factor_values) if factor_values is not None else [
            np.arange(s, dtype=np.float64) for s in self.factor_sizes]
        self._set_classes(np.zeros((len(self.files), 0), np.int64) if classes is None else classes)
        self._array: np.ndarray | None = None
        if cache == "memory":
            self._array = self._decode_all()
        elif cache == "disk":
            self._array = self._disk_cache()

    def factor_values(self, factor: int | str) -> np.ndarray:
        return self._values[self.factor_index(factor)]

    def _decode_all(self, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty((len(self.files), *self.image_shape), np.uint8) if out is None else out
        for i, f in enumerate(self.files):
            out[i] = load_image(f, self.size, self.crop, self.channels)
        return out

    def _disk_cache(self) -> np.ndarray:
        h = hashlib.sha1(f"{self.name}|{self.size}|{self.crop}|{self.channels}".encode())
        for f in self.files:
            st = f.stat()
            h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        path = Path(cache_dir("folders")) / f"{self.name}_{self.size}_{h.hexdigest()[:16]}.npy"
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(self.files), *self.image_shape))
                self._decode_all(arr)
                arr.flush()
                del arr
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return np.load(path, mmap_mode="r")

    def images(self, indices: IndexLike) -> torch.Tensor:
        idx = as_index_tensor(indices, len(self)).numpy()
        if self._array is not None:
            return torch.from_numpy(np.ascontiguousarray(self._array[idx]))
        return torch.from_numpy(np.stack([load_image(self.files[i], self.size, self.crop, self.channels) for i in idx]))


def _root(path: str | Path | None, name: str, hint: str) -> Path:
    if path is None:
        raise ValueError(f"{name} is not available offline: pass path= to a local copy ({hint})")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{name}: folder not found: {root} ({hint})")
    return root


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


@register_dataset("image_folder")
def image_folder(path: str | Path | None = None, labels: str | None = None, size: int = 64, crop: int | None = None,
                 channels: int = 3, cache: str = "disk", name: str = "image_folder") -> ImageFolderDataset:
    """Every image under ``path``; ``labels="subfolder"`` gives the factor ``class``."""
    root = _root(path, name, "a folder of images")
    files = _images_in(root)
    if labels is None:
        return ImageFolderDataset(name, files, None, size=size, crop=crop, channels=channels, cache=cache)
    if labels != "subfolder":
        raise ValueError(f"labels must be None or 'subfolder', got {labels!r}")
    files = [f for f in files if f.parent != root]
    names = sorted({f.relative_to(root).parts[0] for f in files})
    cls = np.array([[names.index(f.relative_to(root).parts[0])] for f in files], dtype=np.int64)
    ds = ImageFolderDataset(name, files, cls, ("class",), (len(names),), size=size, crop=crop, channels=channels, cache=cache)
    ds.class_names = names
    return ds


def read_celeba_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """``list_attr_celeba.txt``: (file names, attribute names, classes (N, 40) in {0, 1})."""
    lines = path.read_text().splitlines()
    try:
        n = int(lines[0].split()[0])
        names = lines[1].split()
        rows = [ln.split() for ln in lines[2: 2 + n]]
        files = [r[0] for r in rows]
        vals = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int64)
    except (ValueError, IndexError) as e:
        raise ValueError(f"{path}: not in the list_attr_celeba.txt format (count, names, rows): {e}") from None
    if vals.shape != (n, len(names)) or not np.isin(vals, (-1, 1)).all():
        raise ValueError(f"{path}: expected {n} rows of {len(names)} values in {{-1, 1}}")
    return files, names, (vals > 0).astype(np.int64)


@register_dataset("celeba")
def celeba(path: str | Path | None = None, attributes: bool | Sequence[str] = True, split: str = "all",
           size: int = 64, crop: int | None = 148, cache: str = "disk") -> ImageFolderDataset:
    """CelebA (aligned) with its binary attributes as factors; see the module docstring."""
    root = _root(path, "celeba", "img_align_celeba/ and list_attr_celeba.txt")
    img_dir = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
    attr_file = root / "list_attr_celeba.txt"
    if attr_file.is_file():
        names_files, attr_names, cls = read_celeba_attributes(attr_file)
    elif attributes is not False:
        raise ValueError(f"celeba: {attr_file} not found; pass attributes=False to load the images without labels")
    else:
        names_files = [p.name for p in _images_in(img_dir)]
        attr_names, cls = [], np.zeros((len(names_files), 0), np.int64)
    keep = np.ones(len(names_files), bool)
    if split != "all":
        parts = {"train": 0, "valid": 1, "test": 2}
        if split not in parts:
            raise ValueError(f"split must be 'all', 'train', 'valid' or 'test', got {split!r}")
        part_file = root / "list_eval_partition.txt"
        if not part_file.is_file():
            raise ValueError(f"celeba: split={split!r} needs {part_file}")
        part = dict(ln.split() for ln in part_file.read_text().splitlines() if ln.strip())
        keep = np.array([int(part.get(f, -1)) == parts[split] for f in names_files])
    files = [img_dir / f for f, k in zip(names_files, keep) if k]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"celeba: {len(missing)} image(s) listed in the attribute file are missing, e.g. {missing[0]}")
    cls = cls[keep]
    if attributes is False:
        return ImageFolderDataset("celeba", files, None, size=size, crop=crop, cache=cache)
    if attributes is not True:
        sel = [a for a in attributes]
        unknown = [a for a in sel if a not in attr_names]
        if unknown:
            raise ValueError(f"celeba: unknown attribute(s) {unknown}; known: {', '.join(attr_names)}")
        cls = cls[:, [attr_names.index(a) for a in sel]]
        attr_names = sel
    return ImageFolderDataset("celeba", files, cls, attr_names, [2] * len(attr_names), size=size, crop=crop, cache=cache)


@register_dataset("flowers102")
def flowers102(path: str | Path | None = None, attributes: bool = True, split: str = "all", size: int = 64,
               crop: int | None = None, cache: str = "disk") -> ImageFolderDataset:
    """Oxford Flowers 102: ``jpg/`` with ``imagelabels.mat`` (factor ``class``) and ``setid.mat``."""
    from scipy.io import loadmat

    root = _root(path, "flowers102", "jpg/ and imagelabels.mat")
    img_dir = root / "jpg" if (root / "jpg").is_dir() else root
    files = _images_in(img_dir)
    ids = np.array([int(re.findall(r"\d+", f.stem)[-1]) for f in files])
    keep = np.ones(len(files), bool)
    if split != "all":
        key = {"train": "trnid", "valid": "valid", "test": "tstid"}
        if split not in key or not (root / "setid.mat").is_file():
            raise ValueError(f"flowers102: split must be all/train/valid/test and needs setid.mat, got {split!r}")
        keep = np.isin(ids, loadmat(root / "setid.mat")[key[split]].ravel())
    files, ids = [f for f, k in zip(files, keep) if k], ids[keep]
    if not attributes:
        return ImageFolderDataset("flowers102", files, None, size=size, crop=crop, cache=cache)
    label_file = root / "imagelabels.mat"
    if not label_file.is_file():
        raise ValueError(f"flowers102: {label_file} not found; pass attributes=False to load the images without labels")
    labels = loadmat(label_file)["labels"].ravel().astype(np.int64)
    if ids.max() > len(labels):
        raise ValueError(f"flowers102: image id {ids.max()} has no label ({len(labels)} labels)")
    cls = (labels[ids - 1] - 1)[:, None]
    return ImageFolderDataset("flowers102", files, cls, ("class",), (102,), size=size, crop=crop, cache=cache)


_CHAIR = re.compile(r"_p(\d+)_t(\d+)_r(\d+)$")


@register_dataset("chairs3d")
def chairs3d(path: str | Path | None = None, attributes: bool = True, size: int = 64, crop: int | None = None,
             cache: str = "disk") -> ImageFolderDataset:
    """3D Chairs renders; factors ``chair``, ``pitch``, ``azimuth`` parsed from the file names."""
    root = _root(path, "chairs3d", "rendered_chairs/<chair>/renders/*.png")
    base = root / "rendered_chairs" if (root / "rendered_chairs").is_dir() else root
    files = [f for f in _images_in(base) if _CHAIR.search(f.stem)]
    if not files:
        raise ValueError(f"chairs3d: no renders named like image_031_p020_t000_r096.png under {base}")
    if not attributes:
        return ImageFolderDataset("chairs3d", files, None, size=size, crop=crop, cache=cache)
    chair = [f.relative_to(base).parts[0] for f in files]
    pitch = [int(_CHAIR.search(f.stem).group(1)) for f in files]
    azim = [int(_CHAIR.search(f.stem).group(2)) for f in files]
    cols, values = [], []
    for v in (chair, pitch, azim):
        uniq, inv = np.unique(np.array(v), return_inverse=True)
        cols.append(inv)
        values.append(np.arange(len(uniq), dtype=np.float64) if v is chair else uniq.astype(np.float64))
    return ImageFolderDataset("chairs3d", files, np.stack(cols, 1), ("chair", "pitch", "azimuth"),
                              [len(v) for v in values], factor_values=values, size=size, crop=crop, cache=cache)
