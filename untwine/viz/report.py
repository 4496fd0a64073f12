"""A self-contained HTML report of a run, laid out like a figure page of a paper's appendix.

Every image is embedded as a PNG data URI, so the file renders anywhere, offline, on its own.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import GroundTruthDataset
from ..methods import Method
from ..train.run_dir import RunDir, load_run
from ..metrics import assign_factors, latent_labels, normalized_mi
from .factors import encode_sample, mi_heatmap_png, response_curves_png
from .images import grid, png_bytes
from .neighbours import MAX_FEATURES, feature_neighbours, feature_size_of, neighbours_figure, neighbours_png
from .traversal import latent_kl, latent_traversal, reconstructions, traversal_values

CSS = """
body { font-family: 'Times New Roman', Georgia, serif; max-width: 960px; margin: 2em auto; color: #111;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { font-size: 1.2em; border-bottom: 1px solid #999; margin-top: 2em; }
.sub { color: #555; margin-top: 0; }
figure { margin: 1.2em 0; text-align: center; }
figcaption { font-size: 0.95em; text-align: left; margin-top: 0.5em; }
figcaption b { font-variant: small-caps; }
img { max-width: 100%; height: auto; }
img.px { image-rendering: pixelated; image-rendering: crisp-edges; }
table { border-collapse: collapse; margin: 0.8em auto; font-size: 0.95em; }
th, td { padding: 0.25em 0.8em; text-align: left; }
thead tr { border-top: 2px solid #111; border-bottom: 1px solid #111; }
tbody tr:last-child { border-bottom: 2px solid #111; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.note { font-size: 0.85em; color: #333; max-width: 22em; }
table.trav td { padding: 1px 4px; } table.trav td.lab { font-size: 0.85em; color: #333; white-space: nowrap; }
.cols { display: flex; gap: 2em; justify-content: center; flex-wrap: wrap; }
"""


def _img(png: bytes, alt: str, width: int | None = None, cls: str = "px") -> str:
    w = f' width="{width}"' if width else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{html.escape(alt)}"{w} src="data:image/png;base64,{data}">'


def _loss_curves_png(history: list[dict[str, float]]) -> bytes | None:
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in history[0] if k not in ("step", "images_per_second") and not k.startswith("_")]
    steps = [r["step"] for r in history]
    n = len(keys)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        ax.plot(steps, [r.get(key, np.nan) for r in history], lw=1.2, color="#1f4e79")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _table(rows: list[tuple[str, Any]], head: tuple[str, str]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class='num'>{html.escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table><thead><tr><th>{head[0]}</th><th>{head[1]}</th></tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(_fmt, v))
    return str(v)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


@torch.no_grad()
def write_report(
    run_dir: str | Path,
    method: Method,
    dataset: GroundTruthDataset,
    config: dict[str, Any],
    history: list[dict[str, float]],
    metrics: dict[str, Any] | None = None,
    seed: int = 0,
    n_examples: int = 10,
    traversal_steps: int = 10,
    n_traversals: int = 2,
    checkpoint_step: int | None = None,
) -> Path:
    """Write ``run_dir/report.html``: configuration, reconstructions, traversals, which latent holds
    which factor (datasets with factors), nearest neighbours per feature, loss curves, metrics.

    ``checkpoint_step`` (the step of ``method``'s weights) is compared with the step the metrics
    were computed at, so that scores of an older checkpoint are marked as such.
    """
    rd = RunDir(run_dir)
    run_dir = rd.path
    method.eval()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(dataset), size=n_examples, replace=len(dataset) < n_examples)
    x = dataset.images(idx)
    recon = reconstructions(method, x, dataset.index_to_classes(idx))
    recon_png = png_bytes(grid(torch.cat([x.float() / 255, recon.cpu()]), rows=2))

    kl_idx = rng.integers(0, len(dataset), 256)
    kl = latent_kl(method, dataset.images(kl_idx), dataset.index_to_classes(kl_idx))
    values = traversal_values(method, dataset, traversal_steps, seed=seed)
    order = np.argsort(-kl) if kl is not None else np.arange(method.latent_dim)
    # factor figures need labelled data; an image folder without labels has none (seed 004's Flowers)
    has_factors = any(size > 1 for size in dataset.factor_sizes)
    held = latents_and_factors(method, dataset, seed=seed) if has_factors else None
    traversal_tables = []
    for t, start in enumerate(idx[:n_traversals]):
        images = latent_traversal(method, dataset.images([start])[0], values, dataset.index_to_classes([start]))
        images = images.view(method.latent_dim, traversal_steps, *images.shape[1:])
        rows = []
        for j in order:
            label = f"z<sub>{j}</sub>" + (f" &middot; KL {kl[j]:.2f}" if kl is not None else "")
            if held is not None and held["labels"][j] is not None and _active(kl, j):
                label += f" &middot; <b>{html.escape(held['labels'][j])}</b> ({held['nmi'][j].max():.2f})"
            rows.append(f"<tr><td class='lab'>{label}</td><td>{_img(png_bytes(grid(images[j], rows=1, pad=1)), f'z{j}', 34 * traversal_steps)}</td></tr>")
        traversal_tables.append(f"<div><table class='trav'>{''.join(rows)}</table><div class='sub'>start: image {int(start)}</div></div>")
    lo, hi = float(values.min()), float(values.max())

    factor_figures = _factor_figures(held, dataset, order, kl) if held is not None else []
    neighbours = _neighbours_figure(method, dataset, kl, seed, has_factors)
    curves = _loss_curves_png(history)
    cfg_rows = _flatten({k: v for k, v in config.items()})
    metric_rows = [(k, v, *metric_guide(k)) for k, v in _flatten(metrics or {}) if not k.startswith(_META)]
    env_rows = [(k, v) for k, v in _flatten(metrics or {}) if k.startswith("environment")]
    if not env_rows:
        import sklearn

        env_rows = [("torch", torch.__version__), ("numpy", np.__version__), ("scikit-learn", sklearn.__version__)]
    env_rows.append(("python", platform.python_version()))
    ips = [r["images_per_second"] for r in history if "images_per_second" in r]
    if ips:
        env_rows.append(("training throughput (median, images/s)", float(np.median(ips))))

    abstraction = _abstraction_figures(method, dataset, x, seed)
    title = f"{config.get('method', method.name)} on {config.get('dataset', dataset.name)}"
    factors = ", ".join(f"{n} ({s})" for n, s in zip(dataset.factor_names, dataset.factor_sizes)) or "none"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>untwine report: {html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>untwine run <code>{html.escape(str(run_dir))}</code> &middot; "
        f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} &middot; {len(dataset):,} images, factors: {html.escape(factors)}</p>",
        "<h2>Reconstructions</h2>",
        f"<figure>{_img(recon_png, 'reconstructions', width=880)}<figcaption><b>Figure 1.</b> Top: {n_examples} random "
        "training images. Bottom: their reconstructions, decoded from the representation (the encoder mean).</figcaption></figure>",
        "<h2>Latent traversals</h2>",
        f"<figure><div class='cols'>{''.join(traversal_tables)}</div><figcaption><b>Figure 2.</b> Each row varies one latent "
        f"from {lo:.2f} to {hi:.2f} while the others keep the code of the start image; rows sorted by the mean "
        "KL of the latent to the prior (informative latents first; a latent with KL near 0 is unused)."
        + (" A bold name is the factor the latent holds most information about (normalised MI in brackets, Figure 3); "
           f"unlabelled rows hold none (below {LABEL_MIN_NMI}) or are unused (KL below {ACTIVE_MIN_KL})."
           if held is not None else "") + "</figcaption></figure>",
        *abstraction,
        *factor_figures,
        *neighbours,
        "<h2>Training curves</h2>",
        (f"<figure>{_img(curves, 'training curves', cls='')}<figcaption><b>Figure 6.</b> Loss terms, mean over each "
         f"logging interval of {config.get('log_every', '?')} steps.</figcaption></figure>") if curves else "<p>No logged steps.</p>",
        "<h2>Metrics</h2>",
        _metric_table(metric_rows) if metric_rows else "<p>Not evaluated yet: run <code>untwine evaluate</code>.</p>",
        "<p class='sub' style='text-align:center'><b>Table 1.</b> Disentanglement scores of the mean representation"
        + html.escape(_evaluated_at(metrics, checkpoint_step)) + ".</p>",
        "<h2>Run configuration</h2>",
        _table(cfg_rows, ("setting", "value")),
        "<p class='sub' style='text-align:center'><b>Table 2.</b> The run's config.yaml.</p>",
        "<h2>Environment</h2>",
        _table(env_rows, ("component", "value")),
        # records on <body> how many images decoded, so a headless browser can check the page
        "<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);"
        "document.body.setAttribute('data-images-loaded',i.filter(function(m){return m.complete&&m.naturalWidth>0}).length+'/'+i.length);});</script>",
        "</body></html>",
    ]
    return rd.save_report("\n".join(parts))


def _factor_figures(held: dict[str, Any], dataset: GroundTruthDataset, order: np.ndarray,
                    kl: np.ndarray | None) -> list[str]:
    """The section "Which latent holds which factor": the MI heat map and response curves (Figures 3-4)."""
    heatmap = mi_heatmap_png(held["nmi"], held["factor_names"], [int(j) for j in order])
    shown = ([int(j) for j in order if held["nmi"][j].max() >= LABEL_MIN_NMI and _active(kl, j)][:8]
             or [int(j) for j in order[:3]])
    responses = response_curves_png(held["codes"], held["classes"], dataset, held["factors"], shown)
    return [
        "<h2>Which latent holds which factor</h2>",
        f"<p>{_captured_sentence(held)}</p>",
        f"<figure>{_img(heatmap, 'normalised mutual information', cls='')}<figcaption><b>Figure 3.</b> Mutual information "
        "between each latent (rows, in the order of Figure 2) and each factor (columns), divided by the factor's entropy: "
        f"1 means the latent determines the factor. {held['n']:,} random images, mean codes, 20-bin histograms (MIG's "
        "estimator). A disentangled model has one dark cell per column, in different rows.</figcaption></figure>",
        f"<figure>{_img(responses, 'response curves', cls='')}<figcaption><b>Figure 4.</b> Response curves: for each "
        "factor, the mean code of each informative latent over the images with that factor value (the other factors "
        "vary at random). A latent that holds a factor moves with it and stays flat for the others.</figcaption></figure>",
    ]


NEIGHBOUR_POOL = 2000  # images searched by the nearest-neighbour figure (the section takes about 2 s on a CPU)
NEIGHBOUR_QUERIES = 5
NEIGHBOUR_K = 3


def _neighbours_figure(method: Method, dataset: GroundTruthDataset, kl: np.ndarray | None, seed: int,
                       has_factors: bool) -> list[str]:
    """The section "Nearest neighbours per feature" (seed 004's Fig. 5), drawn for every run: the
    qualitative check for data without factors (the only view of what a feature holds there),
    and cheap elsewhere. Features in the order of Figure 2 (mean KL summed over the feature's
    dims, informative first) when the KL is known, at most ``MAX_FEATURES`` of them."""
    size = feature_size_of(method)
    num_features = method.latent_dim // size if method.latent_dim % size == 0 else None
    by_kl = kl is not None and num_features is not None and len(kl) == method.latent_dim
    features = None  # feature_neighbours' default: the first MAX_FEATURES
    if by_kl:
        feature_kl = np.asarray(kl, dtype=np.float64).reshape(num_features, size).sum(1)
        features = [int(f) for f in np.argsort(-feature_kl, kind="stable")[:MAX_FEATURES]]
    pool = min(NEIGHBOUR_POOL, len(dataset))
    if pool < 2:
        return []  # nothing to compare a query with
    found = feature_neighbours(method, dataset, min(NEIGHBOUR_QUERIES, pool), min(NEIGHBOUR_K, pool - 1), pool, seed,
                               features)
    png = neighbours_png(neighbours_figure(method, dataset, found=found))
    d, total, n, k = found.feature_size, found.num_features, len(found.features), found.neighbours.shape[2]
    what = ("Each feature is one latent (Z<sub>k</sub> = z<sub>k</sub>)." if d == 1 else
            f"Each feature is {d} latent dims (Z<sub>k</sub> = z<sub>{d}k</sub> .. z<sub>{d}k+{d - 1}</sub>).")
    if by_kl:
        summed = ", summed over the feature's dims" if d > 1 else ""
        order = (f" Blocks in the order of Figure 2 (mean KL to the prior{summed}, informative first)"
                 + (f"; the {n} of {total} features with the highest KL." if n < total else "."))
    else:
        order = " Blocks in index order" + (f"; the first {n} of {total} features." if n < total else ".")
    why = ("" if has_factors else " The dataset has no factor labels, so Figures 3-4 are not drawn: this figure is the "
           "report's view of what each feature holds (as seed 004 judges its Flowers model, Sec. 5.5).")
    return [
        "<h2>Nearest neighbours per feature</h2>",
        f"<figure>{_img(png, 'nearest neighbours per feature', cls='')}<figcaption><b>Figure 5.</b> Each row: a query "
        f"image (left column) and its {k} nearest neighbours by feature Z<sub>k</sub> alone (Euclidean distance "
        f"on that feature in each image's corner), among {len(found.pool):,} random images; the same "
        f"{len(found.queries)} queries in every block. {what}{order} A feature that holds one factor gathers images "
        "that agree in that factor and differ in the rest; an unused feature (KL near 0) gives arbitrary neighbours "
        f"at tiny distances.{why}</figcaption></figure>",
    ]


def _abstraction_figures(method: Method, dataset: GroundTruthDataset, x: torch.Tensor, seed: int) -> list[str]:
    """For a model with a fitted mixture prior over entities and a ReL (the AbsAE): decoded samples of
    its components and relation chains applied to an image (seed 000's Figs. 4-5); else nothing."""
    prior = getattr(method, "prior", None)
    if prior is None or not hasattr(method, "relate") or not bool(getattr(prior, "fitted", False)):
        return []
    from ..data.weak.entities import as_entity_spec
    from ..data.weak.relations import relation_table
    from .abstraction import component_samples, relation_chain

    per = 8
    shown = list(range(min(method.num_entities, 12)))
    samples = png_bytes(grid(component_samples(method, shown, per, seed), rows=len(shown)))
    try:
        spec = as_entity_spec(dataset, method.entities_option)
        names = spec.entity_names()
        table = relation_table(spec, method.relations_option, getattr(method.hparams, "wrap", False))
    except ValueError:
        return []
    rows = []
    for r, rname in enumerate(table.names):
        images, ents = relation_chain(method, x[0], r, steps=5)
        chain = " &rarr; ".join(html.escape(names[e]) for e in ents)
        rows.append(f"<tr><td class='lab'>{html.escape(rname)}</td><td>{_img(png_bytes(grid(images, rows=1, pad=1)), rname, 34 * 6)}"
                    f"</td><td class='lab'>{chain}</td></tr>")
    return [
        "<h2>Prior components and relations</h2>",
        f"<figure>{_img(samples, 'prior component samples', 34 * per)}<figcaption><b>Figure 2b.</b> Samples of the "
        f"first {len(shown)} prior components (rows: {html.escape('; '.join(names[k] for k in shown))}), decoded.</figcaption></figure>",
        f"<figure><table class='trav'>{''.join(rows)}</table><figcaption><b>Figure 2c.</b> Each relation applied five "
        "times to the first example image (its reconstruction first), the ReL's output fed back in; right: the "
        "component each code is classified as.</figcaption></figure>",
    ]


_META = ("environment", "evaluated_at_step", "evaluation_seed", "evaluations")  # metrics.json keys that are no scores

LABEL_MIN_NMI = 0.05  # a latent with less normalised MI than this about every factor holds none
ACTIVE_MIN_KL = 0.01  # nats: a latent whose posterior stays at the prior is unused, and its traversal moves nothing


def _active(kl: np.ndarray | None, j: int) -> bool:
    """Whether latent ``j`` is used (mean KL to the prior at least ACTIVE_MIN_KL; True when unknown).

    MIG's histogram estimator bins each latent over its own range, so an unused latent's tiny
    wobble can still show a normalised MI of 0.05-0.1: such a latent is not labelled with a factor."""
    return kl is None or float(kl[j]) >= ACTIVE_MIN_KL


_L19 = "Locatello et al. 2019, ICML, score distributions of six unsupervised methods at 300k steps, read approximately"
_S004 = "seed 004 (Table 1, FactorVAE gamma 10, independent factors)"
# metric key prefix -> (what it means, in one line; published values on dSprites for context)
METRIC_GUIDE: dict[str, tuple[str, str]] = {
    "mig": ("per factor, the normalised-MI gap between its two most informative latents, averaged (Chen et al. 2018)",
            f"dSprites: about 0.0-0.4 ({_L19})"),
    "factors_captured": ("varying factors that each have a latent of their own (per-factor MIG gap >= 0.1, "
                         "and that latent holds no other factor better)", "dSprites has 5 varying factors; untwine's own count"),
    "sap": ("per factor, the gap in predictability between its two best single latents, averaged (Kumar et al. 2018)",
            f"dSprites: about 0.0-0.15 ({_L19})"),
    "dci.disentanglement": ("each latent is important for one factor only (tree importances; Eastwood & Williams 2018)",
                            f"dSprites: about 0.0-0.6 ({_L19}); 0.73 in {_S004}, random-forest DCI"),
    "dci.completeness": ("each factor is captured by one latent only (the same importances, per factor)", ""),
    "dci.informativeness": ("accuracy of predicting each factor from the whole code", ""),
    "irs": ("robustness of each latent to changes of the factors it does not hold (Suter et al. 2019)",
            f"0.62 in {_S004}"),
    "modularity": ("each latent depends on at most one factor (Ridgeway & Mozer 2018)",
                   f"dSprites: about 0.75-0.95 ({_L19})"),
    "modularity.explicitness": ("factors linearly predictable from the code (one-vs-rest logistic AUC)", ""),
    "unsupervised.gaussian_total_correlation": ("total correlation of a Gaussian fit to the codes (lower: more independent latents)", ""),
    "unsupervised.gaussian_wasserstein_correlation": ("Wasserstein dependence of the Gaussian fit (lower: more independent)", ""),
    "unsupervised.mutual_info_score": ("average pairwise MI between latents (lower: more independent)", ""),
    "beta_vae_score": ("accuracy of telling which factor was held fixed from code differences (Higgins et al. 2017)",
                       f"dSprites: about 0.6-0.9 ({_L19})"),
    "factor_vae_score": ("majority-vote accuracy of telling the fixed factor from the least-varying latent (Kim & Mnih 2018)",
                         f"dSprites: about 0.5-0.85 ({_L19})"),
    "group_mig": ("MIG with a block of latents per factor group (seed 003)", ""),
}


def metric_guide(key: str) -> tuple[str, str]:
    """(meaning, published reference) of a metrics.json score key (its longest known prefix)."""
    best = ""
    for prefix in METRIC_GUIDE:
        if (key == prefix or key.startswith(prefix + ".") or key.startswith(prefix + "_")) and len(prefix) > len(best):
            best = prefix
    return METRIC_GUIDE.get(best, ("", ""))


def _metric_table(rows: list[tuple[str, Any, str, str]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(_fmt(v))}</td><td class='note'>{html.escape(meaning)}</td>"
        f"<td class='note'>{html.escape(ref)}</td></tr>" for k, v, meaning, ref in rows)
    return ("<table><thead><tr><th>metric</th><th>value</th><th>what it measures</th><th>published, for context</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")


def latents_and_factors(method: Method, dataset: GroundTruthDataset, n: int = 10000, seed: int = 0) -> dict[str, Any]:
    """Codes of ``n`` random images, the normalised MI (latents x varying factors), each latent's
    factor label and each factor's assignment (:mod:`untwine.metrics.factor_latents`)."""
    codes, classes = encode_sample(method, dataset, n, seed)
    factors = [k for k, size in enumerate(dataset.factor_sizes) if size > 1]
    names = [dataset.factor_names[k] for k in factors]
    nmi = normalized_mi(codes, classes)[:, factors]
    return {"codes": codes, "classes": classes, "factors": factors, "factor_names": names, "nmi": nmi, "n": n,
            "labels": latent_labels(nmi, names, LABEL_MIN_NMI), "assignment": assign_factors(nmi)}


def _captured_sentence(held: dict[str, Any]) -> str:
    got = [(name, a) for name, a in zip(held["factor_names"], held["assignment"]) if a["captured"]]
    missed = [name for name, a in zip(held["factor_names"], held["assignment"]) if not a["captured"]]
    text = (f"<b>{len(got)} of {len(held['factor_names'])}</b> varying factors are each captured by a latent of their own"
            " (per-factor MIG gap at least 0.1, and that latent holds no other factor better)")
    if got:
        text += ": " + ", ".join(f"{html.escape(n)} by z<sub>{a['latent']}</sub> (gap {a['gap']:.2f})" for n, a in got)
    if missed:
        text += ". Not captured: " + ", ".join(html.escape(n) for n in missed)
    return text + "."


def _evaluated_at(metrics: dict[str, Any] | None, checkpoint_step: int | None) -> str:
    """" at step N" from the checkpoint steps the scores were computed at (per metric when they differ)."""
    if not metrics:
        return ""
    per_metric = {n: e.get("step") for n, e in (metrics.get("evaluations") or {}).items() if isinstance(e, dict)}
    known = [s for s in per_metric.values() if s is not None]
    if not known and metrics.get("evaluated_at_step") is not None:
        known = [metrics["evaluated_at_step"]]
    if not known:
        return ""
    if len(set(known)) == 1:
        text = f" at step {known[0]}"
    else:
        text = " at steps " + ", ".join(f"{s} ({n})" for n, s in per_metric.items() if s is not None)
    if checkpoint_step is not None and any(s != checkpoint_step for s in known):
        text += f"; the checkpoint is now at step {checkpoint_step}: run untwine evaluate again to update them"
    return text


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's metrics.json, or None (a corrupt file is a RunDirError naming it and the fix)."""
    return RunDir(run_dir).read_metrics()


def report_run(run_dir: str | os.PathLike) -> Path:
    """(Re)write RUN_DIR/report.html from the run's checkpoint, logs (up to its step) and metrics.json."""
    run = load_run(run_dir)
    rd = RunDir(run_dir)
    return write_report(rd.path, run.method, run.dataset, run.config.to_dict(), run.history, rd.read_metrics(),
                        checkpoint_step=run.step)
