"""3D Shapes (Kim & Mnih 2018): the official ``3dshapes.h5`` or a procedural look-alike.

Factors, in the official order (index = mixed radix, **orientation fastest**):

============  =======  ==========================================
floor_hue     10       0.0, 0.1, ..., 0.9
wall_hue      10       0.0, 0.1, ..., 0.9
object_hue    10       0.0, 0.1, ..., 0.9
scale         8        linspace(0.75, 1.25, 8)
shape         4        0 cube, 1 cylinder, 2 sphere, 3 capsule
orientation   15       linspace(-30, 30, 15) degrees (camera orbit)
============  =======  ==========================================

The look-alike is a small vectorised numpy ray-caster: a room corner (floor, walls, a constant
light-blue sky above the walls), one object standing at the centre, one directional light with
soft shadows (several jittered shadow rays) and ``supersample x supersample`` anti-aliasing.
Colours are ``hsv(h, 1, 1)`` times a shading intensity, so the image is *linear* in the three
colours: for each of the 480 geometries (scale x shape x orientation) the renderer stores
per-pixel weights of the floor, wall and object colours plus a constant term (sky, highlights),
and an image is three multiply-adds. Geometries are ray-cast lazily on first use (a few tens of
ms each) and kept in memory (47 MB for all 480; :meth:`Shapes3D.precompute` fills and saves them
to the cache directory). Pixel values do not match the original, so published numbers are not
directly comparable; the factor grid and order do.
"""

from __future__ import annotations

import colorsys
import hashlib
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_save_npy, cache_dir
from .base import FactorGridDataset, IndexLike, as_index_tensor
from .registry import register_dataset

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
SKY = np.array([153.0, 226.0, 249.0], dtype=np.float32)
RENDER_VERSION = 2

# Scene (world units, y up, object at the origin; camera orbits the y axis).
ROOM = 5.0  # walls at x = +-ROOM, z = +-ROOM
WALL_HEIGHT = 3.3
CAM_DIST, CAM_HEIGHT, LOOK_HEIGHT = 4.3, 1.13, 1.13
FOV_DEG = 50.0
LIGHT = np.array([-0.6, 0.7, 0.3])  # towards the key light at orientation 0: upper left, slightly behind
LIGHT_SPREAD = 0.09  # soft shadows: jitter of the light direction
AMBIENT, KEY, HEADLIGHT = 0.45, 0.35, 0.4  # object shading: ambient + key light + light from the camera
WALL_SHADE = {"back": 0.97, "side": 0.62}
SHADOW = 0.33  # intensity inside a full shadow


def factor_values(factor: int) -> np.ndarray:
    return [
        np.arange(10) / 10.0,
        np.arange(10) / 10.0,
        np.arange(10) / 10.0,
        np.linspace(0.75, 1.25, 8),
        np.arange(4, dtype=np.float64),
        np.linspace(-30.0, 30.0, 15),
    ][factor]


def hue_rgb(h: np.ndarray) -> np.ndarray:
    """``hsv(h, 1, 1)`` as float RGB in 0..255: (N,) -> (N, 3) (called once per dataset)."""
    h = np.asarray(h, dtype=np.float64)
    return np.array([colorsys.hsv_to_rgb(v, 1.0, 1.0) for v in np.round(h, 6)]).reshape(-1, 3) * 255.0


# ---- ray-object intersections: (N,3) origins/directions -> t (N,) (inf on a miss), normals (N,3)
def _sphere(o, d, c, r):
    oc = o - c
    b = np.einsum("ij,ij->i", oc, d)
    cc = np.einsum("ij,ij->i", oc, oc) - r * r
    disc = b * b - cc
    t = np.where(disc >= 0, -b - np.sqrt(np.maximum(disc, 0)), np.inf)
    t = np.where(t > 1e-4, t, np.inf)
    n = o + t[:, None] * d - c
    return t, n / r


def _box(o, d, lo, hi):
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    tmin = np.nan_to_num(tmin, nan=-np.inf)
    tmax = np.nan_to_num(tmax, nan=np.inf)
    tn, tf = tmin.max(1), tmax.min(1)
    hit = (tn <= tf) & (tn > 1e-4)
    t = np.where(hit, tn, np.inf)
    axis = tmin.argmax(1)
    n = np.zeros_like(o)
    n[np.arange(len(o)), axis] = -np.sign(d[np.arange(len(o)), axis])
    return t, n


def _cylinder_side(o, d, r, y0, y1):
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = o[:, 0] * d[:, 0] + o[:, 2] * d[:, 2]
    c = o[:, 0] ** 2 + o[:, 2] ** 2 - r * r
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - a * c
        t = (-b - np.sqrt(np.maximum(disc, 0))) / a
    y = o[:, 1] + t * d[:, 1]
    ok = (disc >= 0) & (a > 1e-12) & (t > 1e-4) & (y >= y0) & (y <= y1)
    t = np.where(ok, t, np.inf)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    n = np.stack([p[:, 0], np.zeros(len(o)), p[:, 2]], 1) / r
    return t, n


def _disc_top(o, d, r, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (y - o[:, 1]) / d[:, 1]
    p = o + np.nan_to_num(t, posinf=0, neginf=0)[:, None] * d
    ok = (t > 1e-4) & (p[:, 0] ** 2 + p[:, 2] ** 2 <= r * r)
    n = np.zeros_like(o)
    n[:, 1] = 1.0
    return np.where(ok, t, np.inf), n


def _nearest(*hits):
    ts = np.stack([h[0] for h in hits], 0)
    k = ts.argmin(0)
    ns = np.stack([h[1] for h in hits], 0)
    return ts[k, np.arange(ts.shape[1])], ns[k, np.arange(ts.shape[1])]


def intersect_object(o: np.ndarray, d: np.ndarray, shape: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of rays with the object (standing on y=0 at the origin): ``(t, normal)``."""
    with np.errstate(invalid="ignore", over="ignore"):
        t, n = _intersect_object(o, d, shape, scale)
    return t, np.where(np.isfinite(t)[:, None], np.nan_to_num(n), 0.0)


def _intersect_object(o, d, shape, scale):
    s = float(scale)
    if shape == 0:  # cube
        a = 0.66 * s
        return _box(o, d, np.array([-a, 0.0, -a]), np.array([a, 2 * a, a]))
    if shape == 1:  # cylinder
        r, h = 0.66 * s, 1.4 * s
        return _nearest(_cylinder_side(o, d, r, 0.0, h), _disc_top(o, d, r, h))
    if shape == 2:  # sphere
        r = 0.95 * s
        return _sphere(o, d, np.array([0.0, r, 0.0]), r)
    if shape == 3:  # capsule
        r, h = 0.62 * s, 2.6 * s
        return _nearest(
            _cylinder_side(o, d, r, r, h - r),
            _sphere(o, d, np.array([0.0, r, 0.0]), r),
            _sphere(o, d, np.array([0.0, h - r, 0.0]), r),
        )
    raise ValueError(f"shape class must be 0..3 ({', '.join(SHAPE_NAMES)}), got {shape}")


def _camera_rays(orientation_deg: float, size: int, supersample: int) -> tuple[np.ndarray, np.ndarray]:
    th = np.deg2rad(orientation_deg)
    cam = np.array([CAM_DIST * np.sin(th), CAM_HEIGHT, -CAM_DIST * np.cos(th)])
    f = np.array([0.0, LOOK_HEIGHT, 0.0]) - cam
    f /= np.linalg.norm(f)
    r = np.cross([0.0, 1.0, 0.0], f)
    r /= np.linalg.norm(r)
    u = np.cross(f, r)
    n = size * supersample
    g = (np.arange(n) + 0.5) / n * 2 - 1
    py, px = np.meshgrid(-g, g, indexing="ij")
    tan = np.tan(np.deg2rad(FOV_DEG) / 2)
    d = f + tan * (px[..., None] * r + py[..., None] * u)
    d = d.reshape(-1, 3)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return np.broadcast_to(cam, d.shape).copy(), d


def _light(orientation_deg: float) -> np.ndarray:
    """The key light turns with the camera (as in the real data the shadow stays lower right)."""
    th = np.deg2rad(orientation_deg)
    x, y, z = LIGHT / np.linalg.norm(LIGHT)
    return np.array([x * np.cos(th) - z * np.sin(th), y, x * np.sin(th) + z * np.cos(th)])


def _light_dirs(n: int, orientation_deg: float) -> np.ndarray:
    base = _light(orientation_deg)
    if n == 1:
        return base[None]
    a = np.arange(n) * 2.399963  # golden-angle disc
    rad = LIGHT_SPREAD * np.sqrt((np.arange(n) + 0.5) / n)
    t1 = np.cross(base, [0.0, 0.0, 1.0])
    t1 /= np.linalg.norm(t1)
    t2 = np.cross(base, t1)
    dirs = base + rad[:, None] * (np.cos(a)[:, None] * t1 + np.sin(a)[:, None] * t2)
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def render_geometry(scale: float, shape: int, orientation: float, size: int = 64, supersample: int = 3,
                    shadow_rays: int = 8) -> np.ndarray:
    """Colour weights of one geometry: (6, size, size) float32 = floor, wall, object weights and an
    RGB constant term; the image is ``w_floor*rgb_floor + w_wall*rgb_wall + w_obj*rgb_obj + const``."""
    o, d = _camera_rays(orientation, size, supersample)
    n_rays = len(d)
    inf = np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[:, 1] < 0, -o[:, 1] / d[:, 1], inf)
        tw = np.stack([
            np.where(d[:, 0] > 0, (ROOM - o[:, 0]) / d[:, 0], inf),
            np.where(d[:, 0] < 0, (-ROOM - o[:, 0]) / d[:, 0], inf),
            np.where(d[:, 2] > 0, (ROOM - o[:, 2]) / d[:, 2], inf),
            np.where(d[:, 2] < 0, (-ROOM - o[:, 2]) / d[:, 2], inf),
        ], 1)
    wall_k = tw.argmin(1)
    t_wall = tw.min(1)
    y_wall = o[:, 1] + t_wall * d[:, 1]
    t_obj, n_obj = intersect_object(o, d, shape, scale)
    is_obj = t_obj < np.minimum(t_floor, t_wall)
    is_floor = ~is_obj & (t_floor <= t_wall)
    is_wall = ~is_obj & ~is_floor & (y_wall <= WALL_HEIGHT)
    # the wall facing the camera at orientation 0 (z = +ROOM) is the bright back wall
    wall_shade = np.where(wall_k == 2, WALL_SHADE["back"], WALL_SHADE["side"])

    # soft shadows on the floor and walls: fraction of jittered light directions blocked by the object
    t_room = np.where(is_floor, t_floor, t_wall)
    p = o + np.where(np.isfinite(t_room), t_room, 0)[:, None] * d
    recv = np.flatnonzero(is_floor | is_wall)
    lit = np.ones(n_rays)
    if recv.size:
        blocked = np.zeros(recv.size)
        for ld in _light_dirs(shadow_rays, orientation):
            t_sh, _ = intersect_object(p[recv], np.broadcast_to(ld, (recv.size, 3)), shape, scale)
            blocked += np.isfinite(t_sh)
        lit[recv] = 1.0 - blocked / shadow_rays
    room_int = SHADOW + (1.0 - SHADOW) * lit

    # object: ambient + Lambert (key light and a headlight), a mild highlight added as white light
    ld = _light(orientation)
    ndl = np.clip(n_obj @ ld, 0, 1)
    ndv = np.clip(-np.einsum("ij,ij->i", n_obj, d), 0, 1)
    obj_int = np.clip(AMBIENT + KEY * ndl + HEADLIGHT * ndv, 0, 1)
    h = ld - d
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    spec = 0.25 * np.clip(np.einsum("ij,ij->i", n_obj, h), 0, 1) ** 30 * (shape != 0)

    w = np.zeros((6, n_rays))
    w[0] = np.where(is_floor, room_int, 0)
    w[1] = np.where(is_wall, room_int * wall_shade, 0)
    w[2] = np.where(is_obj, obj_int, 0)
    sky = ~(is_obj | is_floor | is_wall)
    w[3:] = sky * SKY[:, None] + (is_obj * spec * 255.0)[None]
    w = w.reshape(6, size, supersample, size, supersample).mean((2, 4))
    return w.astype(np.float32)


NUM_GEOMETRIES = 8 * 4 * 15  # scale x shape x orientation


class _GeometryTable:
    """Lazily ray-cast colour weights of the 480 geometries, optionally saved to the cache dir."""

    def __init__(self, supersample: int, shadow_rays: int):
        self.supersample, self.shadow_rays = int(supersample), int(shadow_rays)
        self.weights = np.zeros((NUM_GEOMETRIES, 6, 64, 64), dtype=np.float32)
        self.done = np.zeros(NUM_GEOMETRIES, dtype=bool)
        path = self.cache_path()
        if path.exists():
            try:
                self.weights[:] = np.load(path, allow_pickle=False)
                self.done[:] = True
            except (ValueError, OSError):  # a stale or partial file: render again
                pass

    def cache_path(self) -> Path:
        scene = repr((RENDER_VERSION, ROOM, WALL_HEIGHT, CAM_DIST, CAM_HEIGHT, LOOK_HEIGHT, FOV_DEG, LIGHT.tolist(),
                      LIGHT_SPREAD, AMBIENT, KEY, HEADLIGHT, WALL_SHADE, SHADOW, SKY.tolist()))
        digest = hashlib.sha1(scene.encode()).hexdigest()[:10]  # a changed scene never reads a stale table
        tag = f"v{RENDER_VERSION}_ss{self.supersample}_sr{self.shadow_rays}_{digest}"
        return Path(cache_dir("shapes3d")) / f"geometry_{tag}.npy"

    def get(self, gid: np.ndarray, autosave: bool = True) -> np.ndarray:
        todo = np.unique(gid[~self.done[gid]])
        for g in todo:
            sc, sh, ori = np.unravel_index(int(g), (8, 4, 15))
            self.weights[g] = render_geometry(
                factor_values(3)[sc], int(sh), factor_values(5)[ori], 64, self.supersample, self.shadow_rays
            )
            self.done[g] = True
        if autosave and todo.size and self.done.all():  # the last missing geometry: keep the table for next time
            atomic_save_npy(self.cache_path(), self.weights)
        return self.weights[gid]

    def fill(self, save: bool = True) -> None:
        self.get(np.arange(NUM_GEOMETRIES), autosave=False)
        if save:
            atomic_save_npy(self.cache_path(), self.weights)


@register_dataset("shapes3d")
class Shapes3D(FactorGridDataset):
    """3D Shapes: ``path=`` reads the official ``3dshapes.h5`` lazily (h5py); without it a
    procedural look-alike is rendered on demand (see the module docstring).

    Options: ``supersample`` (anti-aliasing, rays per pixel side, default 3), ``shadow_rays``
    (soft-shadow samples, default 8), ``precompute`` (ray-cast all 480 geometries now and save
    them to the cache directory, ~40 s once).
    """

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    image_shape = (3, 64, 64)

    def __init__(self, path: str | Path | None = None, supersample: int = 3, shadow_rays: int = 8,
                 precompute: bool = False):
        self.path = None if path is None else Path(path).expanduser()
        self._h5 = None
        self._table = None
        if self.path is not None:
            self._open_h5()
        else:
            if supersample < 1 or shadow_rays < 1:
                raise ValueError("supersample and shadow_rays must be >= 1")
            self._table = _GeometryTable(supersample, shadow_rays)
            if precompute and not self._table.done.all():
                self._table.fill()
        self._hues = hue_rgb(np.arange(10) / 10.0).astype(np.float32)

    # ---- official file -------------------------------------------------------------------
    def _open_h5(self) -> None:
        import h5py

        if not self.path.is_file():
            raise ValueError(
                f"3D Shapes file not found: {self.path}. Pass path= to the official 3dshapes.h5 "
                "(images 480000x64x64x3, labels 480000x6), or leave path out for the procedural look-alike"
            )
        try:
            f = h5py.File(self.path, "r")
        except OSError as e:
            raise ValueError(f"{self.path} is not a readable HDF5 file ({e})") from None
        n = len(self)
        if "images" not in f or "labels" not in f:
            raise ValueError(f"{self.path}: expected datasets 'images' and 'labels', found {sorted(f.keys())}")
        if f["images"].shape != (n, 64, 64, 3) or f["labels"].shape != (n, 6):
            raise ValueError(
                f"{self.path}: expected images (480000, 64, 64, 3) and labels (480000, 6) in the official "
                f"order, got images {f['images'].shape} and labels {f['labels'].shape}"
            )
        first_last = f["labels"][[0, n - 1]]
        want = self.classes_to_values(self.index_to_classes(np.array([0, n - 1])))
        if not np.allclose(first_last, want, atol=1e-6):
            raise ValueError(f"{self.path}: labels of the first/last image {first_last.tolist()} are not the "
                             f"official factor grid {want.tolist()}")
        self._h5 = f

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None  # h5py handles do not pickle; reopen in the worker
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.path is not None:
            self._open_h5()

    # ---- interface -----------------------------------------------------------------------
    def factor_values(self, factor: int | str) -> np.ndarray:
        return factor_values(self.factor_index(factor))

    def images(self, indices: IndexLike) -> torch.Tensor:
        idx = as_index_tensor(indices, len(self)).numpy()
        if self._h5 is not None:
            uniq, inv = np.unique(idx, return_inverse=True)
            x = self._h5["images"][uniq][inv]
            return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        return self.render(self.index_to_classes(idx))

    def render(self, classes: np.ndarray) -> torch.Tensor:
        """Render the look-alike for factor classes (N, 6): uint8 (N, 3, 64, 64)."""
        c = self.check_classes(classes)
        gid = (c[:, 3] * 4 + c[:, 4]) * 15 + c[:, 5]
        out = torch.empty((len(c), 3, 64, 64), dtype=torch.uint8)
        for s in range(0, len(c), 512):  # bounded memory: 512 x 98 KB of weights at a time
            w = torch.from_numpy(self._table.get(gid[s: s + 512]))  # (n, 6, 64, 64)
            cols = torch.from_numpy(self._hues[c[s: s + 512, :3]])  # (n, 3 materials, 3 rgb)
            img = torch.einsum("nkhw,nkc->nchw", w[:, :3], cols) + w[:, 3:]
            out[s: s + 512] = img.round_().clamp_(0, 255).to(torch.uint8)
        return out

    def precompute(self, save: bool = True) -> None:
        """Ray-cast every geometry now (and save the table to the cache directory)."""
        if self._table is not None:
            self._table.fill(save)
