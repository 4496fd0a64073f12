"""Visualisation: latent traversals, reconstructions, curves, and the HTML report."""

from .images import grid, png_bytes, save_png
from .report import report_run, write_report
from .traversal import latent_kl, latent_traversal, reconstructions, traversal_grid, traversal_values

__all__ = ["grid", "latent_kl", "latent_traversal", "png_bytes", "reconstructions", "report_run", "save_png",
           "traversal_grid", "traversal_values", "write_report"]
