#!/usr/bin/env bash
# The CUDA path, measured in one go on a GPU machine (prepared for the device tool; runs on CPU too
# with DEVICE=cpu for a dry run):
#   1. beta-VAE on dSprites, batch 64 and 256, fp32 and bf16: training images/s (train_speed.py);
#   2. a short GPU training, then the metric suite on the GPU: seconds per metric, encoder images/s
#      (metrics_speed.py);
#   3. the checkpoint written on the GPU resumes on the CPU (untwine train --resume --device cpu).
# Results: $OUT (default: a new temporary directory) as JSON lines and logs.
#
#   DEVICE=cuda STEPS=60 TRAIN_STEPS=300 bash benchmarks/cuda_path.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
PY="${PY:-python}"
DEVICE="${DEVICE:-cuda}"
STEPS="${STEPS:-60}"            # steps per throughput measurement
TRAIN_STEPS="${TRAIN_STEPS:-300}"
BATCHES="${BATCHES:-64 256}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
cd "$root"

"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')" | tee "$OUT/device.txt"

echo "== 1. training throughput on $DEVICE"
for precision in fp32 bf16; do
  # shellcheck disable=SC2086
  "$PY" benchmarks/train_speed.py --data dsprites --batch $BATCHES --steps "$STEPS" --device "$DEVICE" \
    --precision "$precision" --out "$OUT/train_speed.jsonl" 2>&1 | grep -v '^{' | tee -a "$OUT/train.log"
done

echo "== 2. metric suite on $DEVICE"
"$PY" -m untwine.cli train --method beta_vae --dataset dsprites --steps "$TRAIN_STEPS" --device "$DEVICE" \
  --checkpoint-every 100 --out "$OUT/run" > "$OUT/run_train.log" 2>&1
"$PY" benchmarks/metrics_speed.py --run "$OUT/run" --device "$DEVICE" --out "$OUT/metrics_speed.jsonl" 2>&1 \
  | tee "$OUT/metrics.log" | tail -15

echo "== 3. a checkpoint written on $DEVICE resumes on the CPU"
"$PY" -m untwine.cli train --method beta_vae --dataset dsprites --steps "$((TRAIN_STEPS + 20))" --device cpu \
  --checkpoint-every 100 --out "$OUT/run" --resume > "$OUT/resume_cpu.log" 2>&1 \
  && echo "resumed on cpu: $(tail -1 "$OUT/run/logs/scalars.jsonl" | cut -c1-80)" | tee "$OUT/resume.txt"
echo "results in $OUT"
