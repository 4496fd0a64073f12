"""Visualisation: latent traversals, reconstructions, curves, and the HTML report."""

from .images import grid, png_bytes, save_png
from .traversal import latent_kl, latent_traversal, reconstructions, traversal_grid, traversal_values

__all__ = ["grid", "latent_kl", "latent_traversal", "png_bytes", "reconstructions", "save_png",
           "traversal_grid", "traversal_values"]
