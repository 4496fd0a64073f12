"""Benchmark dSprites data I/O: full render, cache reload, and ``images()`` batch fetch.

    PYTHONPATH=. python benchmarks/dsprites_io.py [--cache-dir DIR] [--threads 1] [--reps 50]

Renders all 737,280 images into a fresh (temporary unless ``--cache-dir``) cache, reloads it
(read and memory-mapped), then times ``images()`` on random batches of 64/256 for the packed
storage (numpy and torch indices) and for lazy rendering. Prints a table and writes
``benchmarks/results/dsprites_io.json``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from untwine.data import dsprites as D
from untwine.io import atomic_write_json


def median_ms(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache directory (default: a fresh temporary one)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--reps", type=int, default=50, help="repetitions per batch timing (median reported)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tmp = None
    if args.cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="untwine-dsprites-bench-")
        args.cache_dir = Path(tmp.name)
    path = D.cache_path(args.cache_dir)
    path.unlink(missing_ok=True)
    rows: list[tuple[str, float, str]] = []

    t = time.perf_counter()
    packed = D.load_or_render_packed(cache=True, cache_dir=args.cache_dir, progress=True)
    rows.append(("render all 737,280 images + write cache", time.perf_counter() - t, "s"))
    del packed
    t = time.perf_counter()
    packed = D.load_or_render_packed(cache=True, cache_dir=args.cache_dir)
    rows.append(("reload from cache (np.load)", time.perf_counter() - t, "s"))
    t = time.perf_counter()
    mapped = D.load_or_render_packed(cache=True, cache_dir=args.cache_dir, mmap=True)
    rows.append(("reload from cache (mmap)", time.perf_counter() - t, "s"))
    del mapped
    rows.append(("cache file size", path.stat().st_size / 2**20, "MiB"))

    ds = D.DSprites(packed)
    lazy = D.DSprites(None)
    gen = torch.Generator().manual_seed(0)
    for n in (64, 256):
        idx_t = torch.randint(len(ds), (n,), generator=gen)
        idx_np = idx_t.numpy()
        rows.append((f"images() batch {n}, packed, torch indices", median_ms(lambda: ds.images(idx_t), args.reps), "ms"))
        rows.append((f"images() batch {n}, packed, numpy indices", median_ms(lambda: ds.images(idx_np), args.reps), "ms"))
        rows.append((f"images() batch {n}, lazy render", median_ms(lambda: lazy.images(idx_t), max(3, args.reps // 10)), "ms"))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  value")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:9.3f} {unit}")
    out = Path(__file__).resolve().parent / "results" / "dsprites_io.json"
    atomic_write_json(out, {
        "results": [{"name": n, "value": v, "unit": u} for n, v, u in rows],
        "torch_threads": args.threads,
        "render_version": D.RENDER_VERSION,
        "machine": platform.platform(), "processor": platform.processor(),
        "torch": torch.__version__, "numpy": np.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    print(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
