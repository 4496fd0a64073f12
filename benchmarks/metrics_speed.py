"""Wall and CPU time of the metric suite on a trained beta-VAE on dSprites, reference defaults.

    python benchmarks/metrics_speed.py --run RUN_DIR [--metrics all] [--out metrics_speed.jsonl]
    python benchmarks/metrics_speed.py --npz /tmp/xyobject.npz [--train-steps 300]

RUN_DIR is an ``untwine train`` run (e.g. ``untwine train --method beta_vae --dataset dsprites
--steps 300 --out RUN_DIR``); without ``--run`` an untrained conv beta-VAE is used (and said
so). ``--npz`` runs the suite on the data of disent's metric anchor instead (dumped by
``benchmarks/disent_dump_xyobject.py``: XYObjectData, 75,000 images 64x64x3), after training
untwine's beta-VAE on it as disent's ``bench_metrics.py`` trains its model (beta 4, Adam 1e-3,
batch 64, 300 steps), for a same-data comparison.

Each metric is timed in turn with one shared code table (as inside one ``evaluate`` call), so
the encoder cost lands on the first metric that needs the images; ``encode`` seconds are
reported apart.
Compare with disent's ``../shared/anchors/disent/bench_metrics.py`` run on the same machine at
the same time; ``cpu_share`` (process CPU / wall, per core) below ~0.85 means other load.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch


def array_grid(path: str):
    """A factor-grid dataset over an .npz of images (N, H, W, C) uint8 in row-major class order."""
    import numpy as np

    from untwine.data import FactorGridDataset

    with np.load(path) as f:
        pixels = torch.from_numpy(np.ascontiguousarray(f["images"].transpose(0, 3, 1, 2)))
        names = tuple(str(n) for n in f["factor_names"])
        sizes = tuple(int(s) for s in f["factor_sizes"])

    class NpzGrid(FactorGridDataset):
        name = "npz_grid"
        factor_names, factor_sizes, image_shape = names, sizes, tuple(pixels.shape[1:])

        def factor_values(self, factor):
            return np.arange(self.factor_sizes[self.factor_index(factor)], dtype=np.float64)

        def images(self, indices):
            return pixels[torch.as_tensor(np.asarray(indices), dtype=torch.long)]

        def __repr__(self):
            return f"npz grid {path} {dict(zip(names, sizes))}"

    return NpzGrid()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", default=None, help="untwine run directory with a trained beta-VAE on dSprites")
    p.add_argument("--metrics", default="mig,sap,dci,irs,modularity,unsupervised,factor_vae_score,beta_vae_score")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=None, help="default: CodeTable's (128 on the CPU)")
    p.add_argument("--eager-encoder", action="store_true", help="encode eagerly, not with the frozen trace")
    p.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="per-metric option, e.g. dci.backend=sklearn")
    p.add_argument("--npz", default=None, help="images (N,H,W,C) uint8 + classes (N,K) in row-major grid order")
    p.add_argument("--train-steps", type=int, default=300, help="with --npz: beta-VAE training steps first")
    p.add_argument("--out", default="metrics_speed.jsonl")
    p.add_argument("--device", default="cpu", help="where the model encodes: cpu, cuda, cuda:N")
    a = p.parse_args()

    from untwine.metrics import CodeTable, evaluate, format_table, metric_environment

    if a.npz:
        import tempfile

        from untwine.methods import build_method
        from untwine.train import TrainConfig, train

        dataset = array_grid(a.npz)
        cfg = TrainConfig(method="beta_vae", dataset=dataset.name, hparams={"beta": 4.0, "lr": 1e-3}, steps=a.train_steps,
                          batch_size=64, seed=0, log_every=100, checkpoint_every=10**9)
        t = time.perf_counter()
        if a.train_steps > 0:
            model = train(cfg, tempfile.mkdtemp(prefix="untwine-bench-"), progress=False, dataset=dataset).method
        else:
            torch.manual_seed(0)
            model = build_method("beta_vae", dataset)
        what = f"beta-VAE trained {a.train_steps} steps ({time.perf_counter() - t:.0f} s) on {a.npz}"
    elif a.run:
        from untwine.train import load_run

        run = load_run(a.run, device=a.device)
        model, dataset, what = run.method, run.dataset, f"trained run {a.run}"
    else:
        from untwine.data import get_dataset
        from untwine.methods import build_method

        dataset = get_dataset("dsprites")
        torch.manual_seed(0)
        model = build_method("beta_vae", dataset)
        what = "untrained conv beta-VAE (no run given)"
    options: dict[str, dict] = {}
    for item in a.option:
        key, value = item.split("=", 1)
        metric, opt = key.split(".", 1)
        options.setdefault(metric, {})[opt] = json.loads(value) if value[:1] in "0123456789[{-tfn" else value
    timings: dict[str, float] = {}
    scores: dict[str, float] = {}
    table = CodeTable(model, dataset, batch_size=a.batch_size, device=a.device,
                      fast_encoder=False if a.eager_encoder else None)  # shared by all metrics, as in one evaluate()
    c0, t0, load0 = time.process_time(), time.perf_counter(), os.getloadavg()[0]
    for name in a.metrics.split(","):
        c1, t1, e1 = time.process_time(), time.perf_counter(), table.encode_seconds
        scores.update(evaluate(table, dataset, metrics=[name], seed=a.seed, options={k: v for k, v in options.items() if k == name}))
        timings[name] = time.perf_counter() - t1
        timings[f"{name}.cpu"] = time.process_time() - c1
        timings[f"{name}.encode"] = table.encode_seconds - e1
        print(json.dumps({"metric": name, "seconds": round(timings[name], 2), "process_cpu_s": round(timings[f"{name}.cpu"], 1),
                          "encode_s": round(timings[f"{name}.encode"], 1), "images_encoded_so_far": table.num_encoded,
                          "loadavg_1m": round(os.getloadavg()[0], 2)}), flush=True)
    timings["encode"] = table.encode_seconds
    timings["images_encoded"] = table.num_encoded
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = dict(model=what, dataset=repr(dataset), metrics=a.metrics, options=options, seconds_total=round(wall, 2),
                  batch_size=table.batch_size, device=a.device,
                  encoder_images_per_second=round(table.num_encoded / max(table.encode_seconds, 1e-9)), fast_encoder=table.uses_fast_encoder,
                  process_cpu_s=round(cpu, 1), cpu_share=round(cpu / wall / max(1, torch.get_num_threads()), 2),
                  torch_threads=torch.get_num_threads(), loadavg_1m_before=round(load0, 2),
                  timings={k: round(v, 2) for k, v in timings.items()}, scores=scores, environment=metric_environment())
    print(format_table(scores))
    print(json.dumps({k: v for k, v in result.items() if k != "scores"}, indent=1))
    with open(a.out, "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
