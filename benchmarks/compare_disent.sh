#!/usr/bin/env bash
# Side-by-side training throughput: untwine vs disent 0.8.0 (beta-VAE, conv64, z=10, Adam), run in
# turns (untwine, disent, untwine, disent, ...) so both see the same machine; prints each run's
# images/s, the ratio untwine/disent pair by pair and the median ratio.
#
#   DISENT_PY=/tmp/disent-venv/bin/python DISENT_BENCH=../shared/anchors/disent/bench_train.py \
#     bash benchmarks/compare_disent.sh [--batch 64] [--data rgb|dsprites] [--mode precollated|pipeline] \
#                                       [--pairs 3] [--steps 60] [--warmup 10] [--threads 0] [--precision auto|fp32|bf16]
#
# --steps/--warmup: disent's measured and warm-up steps; untwine runs warmup+steps steps and drops
# its first two logging intervals (about a quarter of the run) as warm-up. Extra environment
# (e.g. OMP_WAIT_POLICY) is passed to both. Each run is also wrapped in /usr/bin/time -v (when
# present) and its wall time, CPU share and peak memory are printed. Results go to $OUT_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
DISENT_PY="${DISENT_PY:-${TMPDIR:-/tmp}/disent-venv/bin/python}"
DISENT_BENCH="${DISENT_BENCH:-$root/../shared/anchors/disent/bench_train.py}"
UNTWINE_PY="${UNTWINE_PY:-python}"
OUT_DIR="${OUT_DIR:-$(mktemp -d)}"
mkdir -p "$OUT_DIR"

batch=64 data=rgb mode=precollated pairs=3 steps="" warmup="" threads=0 precision=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --batch) batch="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$DISENT_PY" ] || { echo "disent python $DISENT_PY not found; build it with ../shared/anchors/disent/setup_env.sh or set DISENT_PY" >&2; exit 2; }
[ -f "$DISENT_BENCH" ] || { echo "disent benchmark $DISENT_BENCH not found; set DISENT_BENCH" >&2; exit 2; }
# disent's own defaults: 10+50 steps at batch <= 64, 4+16 above
if [ -z "$warmup" ]; then if [ "$batch" -le 64 ]; then warmup=10; else warmup=4; fi; fi
if [ -z "$steps" ]; then if [ "$batch" -le 64 ]; then steps=50; else steps=16; fi; fi
ustep=$((warmup + steps))
timev=()
if [ -x /usr/bin/time ]; then timev=(/usr/bin/time -v); fi
dthreads=()
if [ "$threads" -gt 0 ]; then dthreads=(--threads "$threads"); fi

run() {  # name logfile command...
  local name="$1" log="$2"; shift 2
  "${timev[@]}" "$@" >"$log" 2>&1 || { echo "$name run failed; see $log" >&2; tail -5 "$log" >&2; exit 1; }
}
field() {  # file key: the key of the last JSON line of a jsonl file
  "$UNTWINE_PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
timeinfo() {  # log: wall, CPU share, peak RSS from /usr/bin/time -v
  [ ${#timev[@]} -gt 0 ] || { echo "-"; return; }
  awk -F': ' '/Elapsed \(wall clock\)/{w=$2} /Percent of CPU/{c=$2} /Maximum resident/{m=$2}
              END{printf "wall %s, cpu %s, peak %.0f MiB", w, c, m/1024}' "$1"
}

echo "untwine vs disent: batch $batch, untwine precision $precision, untwine data $data, disent mode $mode, $pairs pairs," \
     "threads ${threads/#0/default}, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-<unset: untwine sets PASSIVE, disent spins>}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for i in $(seq 1 "$pairs"); do
  (cd "$root" && run untwine "$OUT_DIR/untwine_$i.log" env PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
     "$UNTWINE_PY" benchmarks/train_speed.py --data "$data" --batch "$batch" --steps "$ustep" \
     --threads "$threads" --precision "$precision" --out "$OUT_DIR/untwine.jsonl")
  run disent "$OUT_DIR/disent_$i.log" "$DISENT_PY" "$DISENT_BENCH" --framework betavae --batch "$batch" \
     --mode "$mode" --warmup "$warmup" --steps "$steps" "${dthreads[@]}" --out "$OUT_DIR/disent.jsonl"
  u=$(field "$OUT_DIR/untwine.jsonl" images_per_second)
  d=$(field "$OUT_DIR/disent.jsonl" images_per_s)
  r=$("$UNTWINE_PY" -c "print(f'{$u / $d:.2f}')")
  ratios+=("$r")
  printf 'pair %d: untwine %7.1f images/s (%s) | disent %7.1f images/s (cpu_share %s; %s) | ratio %s\n' \
    "$i" "$u" "$(timeinfo "$OUT_DIR/untwine_$i.log")" "$d" "$(field "$OUT_DIR/disent.jsonl" cpu_share)" \
    "$(timeinfo "$OUT_DIR/disent_$i.log")" "$r"
done
echo "median ratio untwine/disent: $("$UNTWINE_PY" -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}")" \
     "(pairs: ${ratios[*]}); load after: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT_DIR"
