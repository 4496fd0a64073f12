"""Visualisation: latent traversals, reconstructions, nearest neighbours per feature, curves, and the HTML report."""

from .agreement import agreement_heatmap
from .images import grid, png_bytes, save_png
from .neighbours import feature_neighbours, nearest_neighbours, neighbours_figure
from .report import report_run, write_report
from .traversal import latent_kl, latent_traversal, reconstructions, traversal_grid, traversal_values

__all__ = ["feature_neighbours", "grid", "latent_kl", "latent_traversal", "nearest_neighbours", "neighbours_figure",
           "png_bytes", "reconstructions", "report_run", "save_png", "traversal_grid", "traversal_values", "write_report"]
