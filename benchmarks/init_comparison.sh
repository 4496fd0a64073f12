#!/usr/bin/env bash
# Weight-init comparison (benchmarks/README.md): beta-VAE at the demo's settings on dSprites,
# 2,000 steps, seeds 0-2, init torch vs glorot; each run scored with MIG and DCI, then one table.
#     bash benchmarks/init_comparison.sh [RUNS_DIR]      (default runs/init_comparison; resumable)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-runs/init_comparison}
U=.venv/bin/untwine
for seed in 0 1 2; do
  for init in torch glorot; do
    d="$ROOT/${init}_s${seed}"
    if [ -f "$d/metrics.json" ] && grep -q dci "$d/metrics.json"; then continue; fi
    resume=(); [ -f "$d/checkpoints/last.pt" ] && resume=(--resume)
    "$U" train --method beta_vae --dataset dsprites --beta 4 --latent-dim 10 --lr 5e-4 --batch-size 64 \
      --steps 2000 --seed "$seed" --init "$init" --log-every 50 --checkpoint-every 500 --no-progress \
      --out "$d" "${resume[@]}"
    "$U" evaluate "$d" --metrics mig,dci --seed 0
  done
done
.venv/bin/python benchmarks/init_comparison.py "$ROOT"/*_s* | tee benchmarks/results/init_comparison.md
