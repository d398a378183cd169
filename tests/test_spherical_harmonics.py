"""Real spherical harmonics of the core against scipy, and their gradients against finite differences."""

import numpy as np
import pytest
from scipy.special import sph_harm_y

from lepot.calculator._evaluator import spherical_harmonics

L_MAX = 10


def scipy_real_harmonics(l_max, vectors):
    """Reference real Y_lm in lepot's convention (no Condon-Shortley phase), from scipy's complex ones."""
    r = np.linalg.norm(vectors, axis=1)
    theta = np.arccos(np.clip(vectors[:, 2] / r, -1, 1))
    phi = np.arctan2(vectors[:, 1], vectors[:, 0])
    result = np.zeros((len(vectors), (l_max + 1) ** 2))
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            complex_y = sph_harm_y(l, abs(m), theta, phi)  # includes (-1)^m
            if m == 0:
                value = complex_y.real
            elif m > 0:
                value = np.sqrt(2) * (-1) ** m * complex_y.real
            else:
                value = np.sqrt(2) * (-1) ** m * complex_y.imag
            result[:, l * l + l + m] = value
    return result


def random_vectors(n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) * rng.uniform(0.5, 5.0, size=(n, 1))


def test_values_match_scipy():
    vectors = random_vectors(300, 0)
    ylm, _ = spherical_harmonics(L_MAX, vectors)
    np.testing.assert_allclose(ylm, scipy_real_harmonics(L_MAX, vectors), atol=1e-12, rtol=1e-10)


def test_values_on_the_z_axis_match_scipy():
    vectors = np.array([[0.0, 0.0, 1.3], [0.0, 0.0, -2.0], [1e-300, 0.0, 1.0]])
    ylm, gradients = spherical_harmonics(L_MAX, vectors)
    assert np.all(np.isfinite(ylm)) and np.all(np.isfinite(gradients))
    np.testing.assert_allclose(ylm, scipy_real_harmonics(L_MAX, vectors), atol=1e-12)


def test_orthonormal_on_the_sphere():
    # Gauss-Legendre in cos(theta) x uniform phi integrates products up to degree 2 L_MAX exactly
    nodes, weights = np.polynomial.legendre.leggauss(L_MAX + 2)
    phis = np.linspace(0, 2 * np.pi, 2 * L_MAX + 3, endpoint=False)
    z, phi = np.meshgrid(nodes, phis, indexing="ij")
    s = np.sqrt(1 - z**2)
    vectors = np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=-1).reshape(-1, 3)
    w = (weights[:, None] * np.full_like(phi, 2 * np.pi / len(phis))).reshape(-1)
    ylm, _ = spherical_harmonics(L_MAX, vectors)
    np.testing.assert_allclose(ylm.T @ (w[:, None] * ylm), np.eye((L_MAX + 1) ** 2), atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 50.0])
def test_gradients_match_finite_differences(scale):
    vectors = random_vectors(40, 1) * scale
    vectors = np.vstack([vectors, [[0.0, 0.0, 2.0 * scale], [0.0, 0.0, -scale]]])
    _, gradients = spherical_harmonics(L_MAX, vectors)
    h = 1e-6 * scale
    numerical = np.zeros_like(gradients)
    for alpha in range(3):
        step = np.zeros(3)
        step[alpha] = h
        plus, _ = spherical_harmonics(L_MAX, vectors + step)
        minus, _ = spherical_harmonics(L_MAX, vectors - step)
        numerical[:, :, alpha] = (plus - minus) / (2 * h)
    error = np.max(np.abs(gradients - numerical)) / np.max(np.abs(numerical))
    assert error < 1e-6


def test_gradients_are_tangential():
    vectors = random_vectors(50, 2)
    _, gradients = spherical_harmonics(6, vectors)
    radial = np.einsum("nlx,nx->nl", gradients, vectors)
    assert np.max(np.abs(radial)) < 1e-12


def test_bad_l_max_and_shape():
    with pytest.raises(ValueError, match="l_max"):
        spherical_harmonics(25, np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        spherical_harmonics(2, np.ones((2, 4)))
