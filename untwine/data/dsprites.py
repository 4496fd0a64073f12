"""dSprites (Matthey et al. 2017): a procedural, near pixel-exact renderer and the official-file loader.

Factors (order and sizes of the official file): color [1], shape [1, 2, 3] (square, ellipse,
heart), scale ``linspace(0.5, 1, 6)``, orientation ``linspace(0, 2*pi, 40)`` (0 and 2*pi both
present), posX and posY ``linspace(0, 1, 32)``; flat index = mixed radix of the classes, posY
fastest.

Geometry (``shared/spec/datasets.md``): the image spans ``[0, 64]`` continuous pixel coordinates,
x right, y down; pixel (r, c) is on iff its centre lies strictly inside the shape. With
``cx = 16 + 32 posX``, ``cy = 16 + 32 posY``, ``dx = c + .5 - cx``, ``dy = r + .5 - cy``, scale ``s``
and orientation ``t`` (counter-clockwise as displayed)::

    u = (cos t * dx - sin t * dy) / s        w = (sin t * dx + cos t * dy) / s

(``w`` grows downwards in the image). Square ``|u|, |w| < 9.6``; ellipse
``(u/12.8)^2 + (w/7.2)^2 < 1``; heart: inside the 2000-vertex polygon of
``x = 9.6 sin^3 t``, ``y = -0.662 (13 cos t - 5 cos 2t - 2 cos 3t - cos 4t) - 1.45`` (tip at
``w = +9.8``, i.e. pointing down). Each coordinate is a sum of a (posX, column) term and a
(posY, row) term, which the full renderer broadcasts over all 1024 positions at once.
All geometry is float64. On the 160 real frames in ``shared/reference`` this renders 118 frames
bit-exact and no frame more than 4 pixels off (the real generator is not public).

Storage: all 737,280 images bit-packed (``np.packbits`` per 64x64 image, 512 bytes each, 377 MB),
rendered once and cached as ``.npy`` in ``untwine.io.cache_dir("dsprites")``; :meth:`DSprites.images`
gathers packed rows by index and unpacks them with a 256-entry lookup table (8 pixels per entry).
"""

from __future__ import annotations

import hashlib
import time
import warnings
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..io import atomic_save_npy, cache_dir as default_cache_dir
from .base import FactorGridDataset, IndexLike, as_index_tensor
from .registry import register_dataset

FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
NUM_IMAGES = int(np.prod(FACTOR_SIZES))  # 737,280
PACKED_BYTES = 64 * 64 // 8  # 512 bytes per bit-packed image
POSITIONS = FACTOR_SIZES[4] * FACTOR_SIZES[5]  # 1024 images per (shape, scale, orientation) chunk
NUM_CHUNKS = NUM_IMAGES // POSITIONS  # 720
RENDER_VERSION = 1  # bump when the renderer changes: the cache file name carries it
OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"

SQUARE_HALF = 9.6
ELLIPSE_AXES = (12.8, 7.2)
HEART_VERTICES = 2000


def factor_values() -> list[np.ndarray]:
    """The real values of the six factors, indexed by class (as ``latents_values`` of the official file)."""
    return [
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


# ---- heart -------------------------------------------------------------------------------
def heart_polygon() -> np.ndarray:
    """The heart outline (2000, 2) in (u, w) shape coordinates, vertices at ``t_k = 2 pi k / 2000``.

    The right half (k = 0..1000, t in [0, pi]) is evaluated from the formula; the left half is its
    exact mirror image ``(-x, y)`` (the formula is symmetric up to ~1e-14 rounding), so the polygon
    is exactly symmetric about ``u = 0``.
    """
    k = np.arange(HEART_VERTICES // 2 + 1)
    t = 2 * np.pi * k / HEART_VERTICES
    x = 9.6 * np.sin(t) ** 3
    y = -0.662 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) - 1.45
    left = slice(HEART_VERTICES // 2 - 1, 0, -1)  # k = 999..1 mirrored to k = 1001..1999
    return np.stack([np.concatenate([x, -x[left]]), np.concatenate([y, y[left]])], axis=1)


class _HeartBranches:
    """Exact point-in-heart test from the two monotone branches of the right half-outline.

    On t in [0, pi] the outline's y first decreases from y(0) to its minimum, then increases to
    y(pi) (checked at construction). A horizontal line at height w meets the right half on the
    decreasing branch at x1(w) (if ymin <= w <= y(0)) and on the increasing branch at x2(w) (if
    ymin <= w <= y(pi)), each the linear interpolation along that branch's edges, i.e. exactly the
    crossing points of the polygon's edges. By symmetry and the even-odd rule, (u, w) with
    a = |u| is inside iff (both crossings exist and x1 < a < x2) or (only x2 exists and a < x2).
    """

    def __init__(self) -> None:
        poly = heart_polygon()
        right = poly[: HEART_VERTICES // 2 + 1]
        x, y = right[:, 0], right[:, 1]
        kmin = int(np.argmin(y))
        if not (np.all(np.diff(y[: kmin + 1]) < 0) and np.all(np.diff(y[kmin:]) > 0)):
            raise AssertionError("heart half-outline is not decreasing-then-increasing in y")
        self.ymin, self.y0, self.ypi = y[kmin], y[0], y[-1]
        self.xmax = float(x.max())
        self.dec_y, self.dec_x = y[: kmin + 1][::-1].copy(), x[: kmin + 1][::-1].copy()  # sorted by y
        self.inc_y, self.inc_x = y[kmin:].copy(), x[kmin:].copy()

    def inside(self, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(u), dtype=bool)
        a = np.abs(u)
        cand = (w >= self.ymin) & (w <= self.ypi) & (a < self.xmax)
        ac, wc = a[cand], w[cand]
        x2 = np.interp(wc, self.inc_y, self.inc_x)
        inside = ac < x2
        both = wc <= self.y0
        x1 = np.interp(wc[both], self.dec_y, self.dec_x)
        inside[both] &= ac[both] > x1
        out[cand] = inside
        return out


_HEART: _HeartBranches | None = None


def _heart() -> _HeartBranches:
    global _HEART
    if _HEART is None:
        _HEART = _HeartBranches()
    return _HEART


# ---- rendering -----------------------------------------------------------------------------
def inside_shape(shape: int, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Boolean mask of the points (u, w) inside shape class ``shape`` (0 square, 1 ellipse, 2 heart)."""
    if shape == 0:
        return (np.abs(u) < SQUARE_HALF) & (np.abs(w) < SQUARE_HALF)
    if shape == 1:
        return (u / ELLIPSE_AXES[0]) ** 2 + (w / ELLIPSE_AXES[1]) ** 2 < 1
    if shape == 2:
        return _heart().inside(u, w)
    raise ValueError(f"dSprites shape class must be 0, 1 or 2, got {shape}")


def _rotation(scale_class: np.ndarray, orientation_class: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos t / s`` and ``sin t / s`` per (scale, orientation) class pair."""
    vals = factor_values()
    s, t = vals[2][scale_class], vals[3][orientation_class]
    return np.cos(t) / s, np.sin(t) / s


def _offsets(pos_class: np.ndarray) -> np.ndarray:
    """``k + 0.5 - (16 + 32 pos)`` for pixel k = 0..63: shape (..., 64)."""
    centre = 16 + 32 * factor_values()[4][pos_class]
    return (np.arange(64) + 0.5) - centre[..., None]


def render_dsprites(classes: np.ndarray | Sequence[Sequence[int]], chunk: int = 1024) -> np.ndarray:
    """Render arbitrary factor-class vectors (N, 6): uint8 (N, 64, 64) with values 0/1.

    Bit-identical to the full renderer (:func:`render_dsprites_packed`): both compute each of u, w
    as the same (column term) + (row term) sum.
    """
    c = np.asarray(classes)
    if c.ndim != 2 or c.shape[1] != 6:
        raise ValueError(f"dSprites classes must have shape (N, 6) ({', '.join(FACTOR_NAMES)}), got {c.shape}")
    c = c.astype(np.int64)
    bad = (c < 0) | (c >= np.asarray(FACTOR_SIZES))
    if bad.any():
        k = int(np.argwhere(bad)[0, 1])
        raise ValueError(f"dSprites factor {FACTOR_NAMES[k]!r} has classes 0..{FACTOR_SIZES[k] - 1}")
    out = np.zeros((len(c), 64, 64), dtype=np.uint8)
    for start in range(0, len(c), chunk):
        cc = c[start : start + chunk]
        cs, sn = _rotation(cc[:, 2], cc[:, 3])
        dx = _offsets(cc[:, 4])  # (n, 64) columns
        dy = _offsets(cc[:, 5])  # (n, 64) rows
        u = (cs[:, None] * dx)[:, None, :] + (-sn[:, None] * dy)[:, :, None]
        w = (sn[:, None] * dx)[:, None, :] + (cs[:, None] * dy)[:, :, None]
        block = out[start : start + chunk]
        for shape in np.unique(cc[:, 1]):
            sel = cc[:, 1] == shape
            block[sel] = inside_shape(int(shape), u[sel], w[sel])
    return out


def chunk_classes(chunk: int) -> tuple[int, int, int]:
    """(shape, scale, orientation) classes of chunk ``chunk`` (rows ``chunk*1024 .. +1024``)."""
    return chunk // 240, (chunk // 40) % 6, chunk % 40


def render_chunk_packed(chunk: int) -> np.ndarray:
    """Bit-packed images (1024, 512) of one (shape, scale, orientation) over all 32x32 positions."""
    shape, scale, orient = chunk_classes(chunk)
    cs, sn = _rotation(np.array([scale]), np.array([orient]))
    cs, sn = cs[0], sn[0]
    pos = np.arange(32)
    dx = _offsets(pos)  # (posX, column)
    dy = _offsets(pos)  # (posY, row)
    u = (cs * dx)[:, None, None, :] + (-sn * dy)[None, :, :, None]  # (posX, posY, row, col)
    w = (sn * dx)[:, None, None, :] + (cs * dy)[None, :, :, None]
    mask = inside_shape(shape, u, w).reshape(POSITIONS, 64 * 64)
    return np.packbits(mask, axis=1)


def render_dsprites_packed(chunks: Iterable[int] | None = None, progress: bool = False) -> np.ndarray:
    """Render (a subset of) the dataset bit-packed: uint8 (len(chunks) * 1024, 512).

    ``chunks`` lists (shape, scale, orientation) chunks in flat-index order (default: all 720,
    giving the full (737280, 512) array in official index order).
    """
    chunks = list(range(NUM_CHUNKS)) if chunks is None else [int(k) for k in chunks]
    if any(not 0 <= k < NUM_CHUNKS for k in chunks):
        raise ValueError(f"dSprites chunks must be in 0..{NUM_CHUNKS - 1}")
    out = np.empty((len(chunks) * POSITIONS, PACKED_BYTES), dtype=np.uint8)
    t0 = time.perf_counter()
    for i, k in enumerate(chunks):
        out[i * POSITIONS : (i + 1) * POSITIONS] = render_chunk_packed(k)
        if progress and (i + 1) % 72 == 0:
            print(f"dSprites: rendered {i + 1}/{len(chunks)} chunks in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


# ---- unpacking -------------------------------------------------------------------------------
_UNPACK_LUT: dict[torch.device, torch.Tensor] = {}


def _lut(device: torch.device) -> torch.Tensor:
    """(256,) int64 table: byte -> the 8 output pixels (0/255, most significant bit first, as
    ``np.packbits``) laid out in memory as one int64, so one ``take`` unpacks 8 pixels."""
    if device not in _UNPACK_LUT:
        bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1) * np.uint8(255)
        _UNPACK_LUT[device] = torch.from_numpy(bits.view(np.int64).ravel().copy()).to(device)
    return _UNPACK_LUT[device]


def unpack_images(packed_rows: torch.Tensor) -> torch.Tensor:
    """Bit-packed rows (N, 512) uint8 -> images (N, 1, 64, 64) uint8 with values 0/255.

    A gather in a 256-entry int64 table whose entries hold 8 output bytes each (about 10x faster
    on CPU than shifting out the bits one by one).
    """
    n = packed_rows.shape[0]
    return torch.take(_lut(packed_rows.device), packed_rows.long()).view(torch.uint8).view(n, 1, 64, 64)


# ---- cache and official file ---------------------------------------------------------------
def cache_path(cache_dir: str | Path | None = None, chunks: Sequence[int] | None = None) -> Path:
    """The cache file for the full render (or, for tests, a subset of chunks)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir("dsprites")
    name = f"dsprites_packed_v{RENDER_VERSION}"
    if chunks is not None:
        tag = hashlib.sha1(",".join(str(int(k)) for k in chunks).encode()).hexdigest()[:12]
        name += f"_chunks-{tag}"
    return root / f"{name}.npy"


def load_or_render_packed(
    cache: bool = True,
    cache_dir: str | Path | None = None,
    chunks: Sequence[int] | None = None,
    mmap: bool = False,
    progress: bool = True,
) -> np.ndarray:
    """The bit-packed render, from the cache when present, else rendered (and cached if ``cache``).

    ``chunks`` (test hook) renders/caches only those chunks. ``mmap`` maps the cache file
    copy-on-write instead of reading it into memory. A cache file of the wrong shape or dtype is
    re-rendered and replaced.
    """
    rows = NUM_IMAGES if chunks is None else len(chunks) * POSITIONS
    path = cache_path(cache_dir, chunks)
    if cache and path.exists():
        try:
            arr = np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False)
            if arr.shape == (rows, PACKED_BYTES) and arr.dtype == np.uint8:
                return arr
            warnings.warn(f"dSprites cache {path} has shape {arr.shape} {arr.dtype}; re-rendering it")
        except (ValueError, OSError) as err:
            warnings.warn(f"dSprites cache {path} is unreadable ({err}); re-rendering it")
    packed = render_dsprites_packed(chunks, progress=progress and chunks is None)
    if cache:
        atomic_save_npy(path, packed)
    return packed


def _npz_member_header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    with zf.open(member) as fh:
        major, _ = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    if fortran:
        raise ValueError(f"{member} is stored in Fortran order; re-save it with np.savez(..., {member[:-4]}=np.ascontiguousarray(a))")
    return shape, dtype


def load_dsprites_npz(
    path: str | Path, factor_sizes: Sequence[int] = FACTOR_SIZES, chunk: int = 16384
) -> tuple[np.ndarray, np.ndarray]:
    """Read the official ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` into bit-packed form.

    Returns ``(packed (N, 512) uint8, latents_classes (N, 6) int64)``. ``imgs`` is streamed out of
    the zip in chunks and packed on the fly (peak memory ~ the packed array, not 3 GB).
    Validates keys, shapes, dtypes, 0/1 pixel values and that ``latents_classes`` is the full grid
    in official order (posY fastest). ``factor_sizes`` exists for tests of this logic on small files.
    """
    path = Path(path).expanduser()
    sizes = tuple(int(s) for s in factor_sizes)
    n = int(np.prod(sizes))
    if not path.is_file():
        raise FileNotFoundError(
            f"dSprites file {path} does not exist. Download {OFFICIAL_FILE} from "
            "https://github.com/deepmind/dsprites-dataset and pass its path "
            "(get_dataset('dsprites', path=...)), or omit path to use the procedural renderer."
        )
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not an .npz (zip) file; expected the official {OFFICIAL_FILE}") from None
    with zf:
        found = sorted(m[:-4] for m in zf.namelist() if m.endswith(".npy"))
        expected = {"imgs": ((n, 64, 64), np.uint8), "latents_values": ((n, 6), np.float64), "latents_classes": ((n, 6), np.int64)}
        missing = sorted(set(expected) - set(found))
        if missing:
            raise ValueError(
                f"{path} lacks the key(s) {', '.join(missing)}: expected the official dSprites keys "
                f"imgs, latents_values, latents_classes, found {', '.join(found) or 'none'}"
            )
        for key, (shape, dtype) in expected.items():
            got_shape, got_dtype = _npz_member_header(zf, key + ".npy")
            if tuple(got_shape) != shape or np.dtype(got_dtype) != np.dtype(dtype):
                raise ValueError(
                    f"{path}: {key} has shape {tuple(got_shape)} dtype {np.dtype(got_dtype)}, expected "
                    f"{shape} {np.dtype(dtype)} (the official {OFFICIAL_FILE})"
                )
        with zf.open("latents_classes.npy") as fh:
            classes = np.lib.format.read_array(fh, allow_pickle=False)
        strides = np.concatenate([np.cumprod(np.asarray(sizes[::-1]))[::-1][1:], [1]])
        if not np.array_equal(classes @ strides, np.arange(n)) or (classes >= np.asarray(sizes)).any():
            raise ValueError(
                f"{path}: latents_classes is not the full factor grid in official order "
                f"(sizes {list(sizes)}, posY fastest); the file was reordered or subsampled"
            )
        packed = np.empty((n, PACKED_BYTES), dtype=np.uint8)
        with zf.open("imgs.npy") as fh:
            major, _ = np.lib.format.read_magic(fh)
            (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(fh)
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                buf = fh.read(m * 4096)
                if len(buf) != m * 4096:
                    raise ValueError(f"{path}: imgs is truncated (ends before image {start + len(buf) // 4096})")
                block = np.frombuffer(buf, dtype=np.uint8).reshape(m, 4096)
                if block.max(initial=0) > 1:
                    raise ValueError(f"{path}: imgs must hold 0/1 pixels (official format), found values up to {block.max()}")
                packed[start : start + m] = np.packbits(block, axis=1)
    return packed, classes


# ---- dataset -------------------------------------------------------------------------------------
class DSprites(FactorGridDataset):
    """dSprites as a factor grid (737,280 images, 1x64x64, values 0/255).

    ``packed`` holds all images bit-packed (737280, 512) uint8; ``None`` renders every requested
    batch on the fly (lazy mode). Build it with ``get_dataset("dsprites", ...)``.
    """

    name = "dsprites"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    image_shape = (1, 64, 64)

    def __init__(self, packed: np.ndarray | torch.Tensor | None = None, source: str = "procedural") -> None:
        if packed is not None:
            packed = torch.as_tensor(packed)
            if tuple(packed.shape) != (NUM_IMAGES, PACKED_BYTES) or packed.dtype != torch.uint8:
                raise ValueError(f"packed dSprites must be uint8 ({NUM_IMAGES}, {PACKED_BYTES}), got {tuple(packed.shape)} {packed.dtype}")
        self.packed = packed
        self.source = source
        self._values = factor_values()

    @property
    def lazy(self) -> bool:
        return self.packed is None

    def factor_values(self, factor: int | str) -> np.ndarray:
        return self._values[self.factor_index(factor)].copy()

    def images(self, indices: IndexLike) -> torch.Tensor:
        if self.packed is None:
            idx = as_index_tensor(indices, len(self))
            imgs = render_dsprites(self.index_to_classes(idx)) * np.uint8(255)
            return torch.from_numpy(imgs).unsqueeze(1)
        idx = as_index_tensor(indices, len(self), device=self.packed.device)
        return unpack_images(self.packed[idx])

    def to(self, device: torch.device | str) -> "DSprites":
        if self.packed is not None:
            self.packed = self.packed.to(device)
        return self

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", {'lazy' if self.lazy else self.source})"


@register_dataset("dsprites")
def dsprites(
    cache: bool = True,
    cache_dir: str | Path | None = None,
    path: str | Path | None = None,
    lazy: bool = False,
    mmap: bool = False,
) -> DSprites:
    """dSprites: the official npz at ``path``, else the procedural render.

    - ``path``: the official ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (validated, packed).
    - ``lazy``: render each requested batch on the fly (no full render, no cache; ~2 ms/image).
    - ``cache``/``cache_dir``: keep the full bit-packed render (377 MB, about a minute to render)
      in ``cache_dir`` (default ``untwine.io.cache_dir("dsprites")``); later loads take seconds.
    - ``mmap``: memory-map the cache file instead of reading it.
    """
    for option, value in (("cache", cache), ("lazy", lazy), ("mmap", mmap)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"dsprites option {option} must be true or false, got {value!r}")
    if path is not None:
        if lazy:
            raise ValueError("dsprites: choose either path= (official file) or lazy=True (procedural), not both")
        packed, _ = load_dsprites_npz(path)
        return DSprites(packed, source=f"file {Path(path).name}")
    if lazy:
        return DSprites(None)
    return DSprites(load_or_render_packed(cache=cache, cache_dir=cache_dir, mmap=mmap), source="procedural")
