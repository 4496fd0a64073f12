"""The ``untwine`` command line: argument parsing only; the work happens in the library."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

DEMO_STEPS = 2000
DEMO_METRICS = "mig,sap,dci,irs,modularity,unsupervised"  # one shared table of 15,000 codes
DEMO_LR = 5e-4  # 5x the method default: the demo must get somewhere within a few CPU minutes


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _key_values(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{what} must look like KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = _parse_value(v)
    return out


def _add_method_flags(parser: argparse.ArgumentParser, method: str) -> list[str]:
    """One flag per hyperparameter of ``method`` (from its record); returns the field names."""
    from .methods import get_method_class

    cls = get_method_class(method)
    group = parser.add_argument_group(f"{cls.name} hyperparameters")
    names = []
    for f in dataclasses.fields(cls.Hyperparameters):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        helptext = f"{f.metadata.get('help', '')} (default: {default})"
        if isinstance(default, bool):
            group.add_argument(flag, dest=f"hp_{f.name}", action=argparse.BooleanOptionalAction, default=None, help=helptext)
        elif isinstance(default, tuple):
            group.add_argument(flag, dest=f"hp_{f.name}", type=lambda s: [_parse_value(p) for p in s.split(",")], default=None, help=helptext)
        else:
            kind = type(default) if isinstance(default, (int, float, str)) else str
            group.add_argument(flag, dest=f"hp_{f.name}", type=kind, default=None, choices=f.metadata.get("choices"), help=helptext)
        names.append(f.name)
    return names


def _train_parser(method: str | None) -> tuple[argparse.ArgumentParser, list[str]]:
    p = argparse.ArgumentParser(prog="untwine train", description="Train a method on a dataset into a run directory.")
    p.add_argument("--config", help="a config.yaml to start from (flags override it)")
    p.add_argument("--method", default=None, help="method name (see `untwine list`); default beta_vae")
    p.add_argument("--dataset", default=None, help="dataset name (see `untwine list`); default dsprites")
    p.add_argument("--dataset-option", action="append", metavar="KEY=VALUE", help="dataset option, e.g. path=/data/dsprites.npz")
    p.add_argument("--steps", type=int, help="optimisation steps (default 1000)")
    p.add_argument("--batch-size", type=int, help="batch size (default 64)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 1000)")
    p.add_argument("--log-every", type=int, help="steps between logged scalars (default 50)")
    p.add_argument("--threads", type=int, help="torch threads (0 = default)")
    p.add_argument("--out", required=True, help="run directory (new, or existing with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    names = _add_method_flags(p, method) if method else []
    return p, names


def cmd_train(argv: Sequence[str]) -> int:
    from .train import TrainConfig, train

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method")
    pre.add_argument("--config")
    pre.add_argument("--out")
    pre.add_argument("--resume", action="store_true")
    known, _ = pre.parse_known_args(argv)
    base: dict[str, Any] = {}
    if known.config:
        base = TrainConfig.from_yaml(known.config).to_dict()
    elif known.resume and known.out and (Path(known.out) / "config.yaml").is_file():
        base = TrainConfig.from_yaml(Path(known.out) / "config.yaml").to_dict()
    method = known.method or base.get("method") or "beta_vae"
    parser, names = _train_parser(method)
    args = parser.parse_args(argv)
    values = dict(base)
    if base.get("method") and base["method"] != method:
        values["hparams"] = {}
    values["method"] = method
    for key in ("dataset", "steps", "batch_size", "seed", "device", "checkpoint_every", "log_every", "threads"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    hparams = dict(values.get("hparams", {}))
    hparams.update({n: getattr(args, f"hp_{n}") for n in names if getattr(args, f"hp_{n}") is not None})
    values["hparams"] = hparams
    options = dict(values.get("dataset_options", {}))
    options.update(_key_values(args.dataset_option, "--dataset-option"))
    values["dataset_options"] = options
    config = TrainConfig.from_dict(values)
    result = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step")
    print(f"trained {config.method} on {config.dataset} for {config.steps} steps -> {args.out}")
    if summary:
        print(f"last logged: {summary}")
    return 0


def _metric_names(text: str) -> list[str] | str:
    return "all" if text == "all" else [m.strip() for m in text.split(",") if m.strip()]


def _print_table(scores: dict[str, Any]) -> None:
    rows = [(k, v) for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("evaluated_at_step", "evaluation_seed")]
    width = max((len(k) for k, _ in rows), default=10)
    for k, v in rows:
        print(f"  {k:<{width}}  {v:.4f}")


def cmd_evaluate(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="untwine evaluate", description="Score a trained run; writes RUN_DIR/metrics.json.")
    p.add_argument("run_dir")
    p.add_argument("--metrics", default="mig", help="comma-separated metric names, or 'all' (default: mig)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--eager-encoder", action="store_true",
                   help="encode with the model as it is, not its frozen TorchScript trace (CPU only; see untwine.metrics.codes)")
    args = p.parse_args(argv)
    from .train import evaluate_run

    scores = evaluate_run(args.run_dir, _metric_names(args.metrics), args.seed, args.device,
                          fast_encoder=False if args.eager_encoder else None)
    print(f"metrics of {args.run_dir} (written to metrics.json):")
    _print_table(scores)
    return 0


def cmd_traverse(argv: Sequence[str]) -> int:
    from .train import load_run
    from .viz import save_png, traversal_grid

    p = argparse.ArgumentParser(prog="untwine traverse", description="Latent-traversal grid (one row per latent) as PNG.")
    p.add_argument("run_dir")
    p.add_argument("--out", help="PNG path (default RUN_DIR/traversal.png)")
    p.add_argument("--index", type=int, default=0, help="dataset index of the start image")
    p.add_argument("--steps", type=int, default=10, help="images per row")
    p.add_argument("--limit", type=float, default=None, help="traverse [-limit, limit] (default 2 for VAEs, data range otherwise)")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling of the PNG")
    args = p.parse_args(argv)
    if args.steps < 2:
        raise ValueError(f"--steps must be >= 2, got {args.steps}")
    run = load_run(args.run_dir)
    if not 0 <= args.index < len(run.dataset):
        raise ValueError(f"--index must be in [0, {len(run.dataset)}), got {args.index}")
    out = Path(args.out) if args.out else Path(args.run_dir) / "traversal.png"
    save_png(traversal_grid(run.method, run.dataset, args.index, args.steps, args.limit), out, scale=args.scale)
    print(f"wrote {out}")
    return 0


def cmd_report(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="untwine report", description="Write RUN_DIR/report.html.")
    p.add_argument("run_dir")
    args = p.parse_args(argv)
    from .viz import report_run

    print(f"wrote {report_run(args.run_dir)}")
    return 0


def cmd_demo(argv: Sequence[str]) -> int:
    from .train import RunDir, TrainConfig, evaluate_run, train
    from .viz import report_run

    p = argparse.ArgumentParser(prog="untwine demo", description="Train a beta-VAE on dSprites, evaluate it, write report.html.")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, default=DEMO_STEPS)
    p.add_argument("--metrics", default=DEMO_METRICS,
                   help=f"metrics to compute (default {DEMO_METRICS}; 'all' adds the sampling scores, minutes more)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    config = TrainConfig(method="beta_vae", dataset="dsprites", hparams={"beta": 4.0, "latent_dim": 10, "lr": DEMO_LR}, steps=args.steps,
                         batch_size=64, seed=args.seed, log_every=50, checkpoint_every=500)
    resume = RunDir(out).checkpoint.is_file()  # a failed start (no checkpoint) starts afresh
    print(f"[1/3] training beta-VAE on dSprites for {args.steps} steps -> {out}" + (" (resuming)" if resume else ""))
    train(config, out, resume=resume)
    print("[2/3] evaluating")
    scores = evaluate_run(out, _metric_names(args.metrics), args.seed)
    _print_table(scores)
    print("[3/3] writing the report")
    path = report_run(out)
    print(f"done: open {path}")
    return 0


def cmd_list(argv: Sequence[str]) -> int:
    from .data import available_datasets
    from .methods import available_methods

    print("methods: ", ", ".join(available_methods()))
    print("datasets:", ", ".join(available_datasets()))
    try:
        from .metrics import available_metrics

        print("metrics: ", ", ".join(available_metrics()))
    except ImportError:
        pass
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "traverse": cmd_traverse,
    "report": cmd_report,
    "demo": cmd_demo,
    "list": cmd_list,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: untwine {" + ",".join(COMMANDS) + "} ...  (untwine COMMAND --help for its options)")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    from .methods import ConfigError
    from .train import RunDirError, TrainingDiverged

    try:
        return COMMANDS[argv[0]](argv[1:])
    except (ConfigError, RunDirError, TrainingDiverged, ValueError, FileNotFoundError, IndexError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is saved (resume with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
