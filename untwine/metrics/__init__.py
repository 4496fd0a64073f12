"""Disentanglement metrics: plain functions over (codes, factors) arrays, plus sampling metrics."""
