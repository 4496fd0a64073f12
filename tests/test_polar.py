"""Polar/Cartesian MSE of seed 001 section 4.2 on representations with known answers."""

import math

import numpy as np
import pytest

from untwine.metrics.polar import polar_cartesian_mse, summarize_scores


def grid():
    x, y = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="ij")
    return x.ravel(), y.ravel()


def test_perfect_cartesian_code_with_flips_and_a_noise_channel():
    x, y = grid()
    rng = np.random.default_rng(0)
    codes = np.stack([-3 * y + 1, rng.normal(size=x.size), 0.5 * x], axis=1)
    out = polar_cartesian_mse(codes, np.stack([x, y], 1))
    # By hand: values 0..63 are rescaled to 0..64, error k/63 per coordinate, so MSE = 2 mean_k (k/63)^2.
    expected = 2 * np.mean((np.arange(64) / 63) ** 2)
    assert out["cartesian_mse"] == pytest.approx(expected, rel=1e-9)
    assert (out["cartesian_c1_channel"], out["cartesian_c2_channel"]) == (2, 0)
    assert (out["cartesian_c1_sign"], out["cartesian_c2_sign"]) == (1, -1)
    assert out["polar_mse"] > 100 * out["cartesian_mse"]


def test_perfect_polar_code():
    x, y = grid()
    phi, rho = np.arctan2(y, x), np.hypot(x, y)
    out = polar_cartesian_mse(np.stack([2 * rho, -phi], 1), np.stack([x, y], 1), max_distance=63 * math.sqrt(2))
    assert out["polar_mse"] < 1e-9
    assert (out["polar_angle_channel"], out["polar_distance_channel"]) == (1, 0)
    assert out["cartesian_mse"] > 50


def test_rejects_bad_shapes_and_summary():
    with pytest.raises(ValueError, match="d >= 2"):
        polar_cartesian_mse(np.zeros((5, 1)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="factors_xy"):
        polar_cartesian_mse(np.zeros((5, 2)), np.zeros((4, 2)))
    s = summarize_scores([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0])
    assert s == {"lowest": 1.0, "mean": 6.0, "mean_best": 1.5, "n": 11}
