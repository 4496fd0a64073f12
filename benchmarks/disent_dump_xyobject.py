"""Dump disent's XYObjectData (the data of disent's metric anchor) to an .npz, for a same-data comparison.

Run with the throwaway disent venv (disent is never a dependency of untwine):

    $TMPDIR/disent-venv/bin/python benchmarks/disent_dump_xyobject.py /tmp/xyobject.npz

Writes ``images`` uint8 (75000, 64, 64, 3) in disent's index order and ``classes`` int64
(75000, 4) (x 25, y 25, scale 5, color 24; row-major, checked), plus ``factor_names``.
Then: ``python benchmarks/metrics_same_data.py --npz /tmp/xyobject.npz``.
"""

import sys

import numpy as np
from disent.dataset.data import XYObjectData

data = XYObjectData()
n = len(data)
images = np.stack([data[i] for i in range(n)])
classes = np.stack([np.asarray(data.idx_to_pos(i)) for i in range(n)]).astype(np.int64)
if not np.array_equal(classes, np.stack(np.unravel_index(np.arange(n), data.factor_sizes), 1)):
    raise SystemExit("XYObjectData is not in row-major factor order; the comparison needs it")
np.savez(sys.argv[1], images=images, classes=classes, factor_names=np.array(data.factor_names),
         factor_sizes=np.array(data.factor_sizes))
print(f"wrote {sys.argv[1]}: {images.shape} images, factors {data.factor_names} {data.factor_sizes}")
