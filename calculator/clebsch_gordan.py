"""Clebsch-Gordan coefficients for lepot's real spherical harmonics.

Complex coefficients <l1 m1 l2 m2 | L M> come from Racah's formula (Condon-Shortley convention). The
real coefficients couple real harmonics (lepot's convention, core/spherical_harmonics.hpp) into real
harmonics:

    T_M = Σ_{m1 m2} C[m1, m2, M] a_{m1} b_{m2}

is a degree-L real spherical tensor whenever a and b are of degrees l1 and l2. They are obtained as
C = Σ U_L C_complex U_l1^* U_l2^* with U_l the unitary map from complex to real harmonics, Y_real = U_l
Y_complex, which is computed numerically from this package's own Y_lm and scipy's complex ones (so the
two conventions cannot drift apart). The result is real up to a global phase (i when l1 + l2 + L is
odd), which is removed. Arrays are indexed by m + l.
"""

import functools
from math import factorial, sqrt

import numpy as np


def complex_clebsch_gordan(l1, m1, l2, m2, big_l, big_m):
    """<l1 m1 l2 m2 | L M> by Racah's formula."""
    if m1 + m2 != big_m or not abs(l1 - l2) <= big_l <= l1 + l2 or abs(m1) > l1 or abs(m2) > l2 or abs(big_m) > big_l:
        return 0.0
    prefactor = sqrt(
        (2 * big_l + 1)
        * factorial(big_l + l1 - l2)
        * factorial(big_l - l1 + l2)
        * factorial(l1 + l2 - big_l)
        / factorial(l1 + l2 + big_l + 1)
    )
    prefactor *= sqrt(
        factorial(big_l + big_m)
        * factorial(big_l - big_m)
        * factorial(l1 - m1)
        * factorial(l1 + m1)
        * factorial(l2 - m2)
        * factorial(l2 + m2)
    )
    total = 0.0
    for k in range(0, l1 + l2 - big_l + 1):
        denominators = (
            k,
            l1 + l2 - big_l - k,
            l1 - m1 - k,
            l2 + m2 - k,
            big_l - l2 + m1 + k,
            big_l - l1 - m2 + k,
        )
        if min(denominators) < 0:
            continue
        term = 1.0
        for d in denominators:
            term /= factorial(d)
        total += (-1) ** k * term
    return prefactor * total


@functools.lru_cache(maxsize=None)
def complex_to_real(l):
    """U_l [2l+1][2l+1] with Y_real = U_l Y_complex (complex in scipy's convention, m = -l..l)."""
    from scipy.special import sph_harm_y

    from ._evaluator import spherical_harmonics

    rng = np.random.default_rng(1234 + l)
    vectors = rng.normal(size=(4 * (2 * l + 1) + 8, 3))
    real, _ = spherical_harmonics(l, vectors)
    real = real[:, l * l :]
    r = np.linalg.norm(vectors, axis=1)
    theta, phi = np.arccos(vectors[:, 2] / r), np.arctan2(vectors[:, 1], vectors[:, 0])
    complex_values = np.stack([sph_harm_y(l, m, theta, phi) for m in range(-l, l + 1)], axis=1)
    transform = np.linalg.lstsq(complex_values, real.astype(complex), rcond=None)[0].T
    if np.max(np.abs(transform @ transform.conj().T - np.eye(2 * l + 1))) > 1e-10:
        raise RuntimeError(f"complex-to-real transform of l={l} is not unitary")
    return transform


@functools.lru_cache(maxsize=None)
def real_clebsch_gordan(l1, l2, big_l):
    """C [2l1+1][2l2+1][2L+1] coupling real harmonics of degrees l1, l2 into degree L (zeros if forbidden)."""
    if not abs(l1 - l2) <= big_l <= l1 + l2:
        return np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * big_l + 1))
    coefficients = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * big_l + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            if abs(m1 + m2) <= big_l:
                coefficients[m1 + l1, m2 + l2, m1 + m2 + big_l] = complex_clebsch_gordan(l1, m1, l2, m2, big_l, m1 + m2)
    u1, u2, u = complex_to_real(l1), complex_to_real(l2), complex_to_real(big_l)
    real = np.einsum("Mc,abc,ia,jb->ijM", u, coefficients, u1.conj(), u2.conj())
    if np.max(np.abs(real.imag)) > np.max(np.abs(real.real)):
        real = real * -1j
    if np.max(np.abs(real.imag)) > 1e-12:
        raise RuntimeError(f"real Clebsch-Gordan ({l1}, {l2}, {big_l}) has a residual imaginary part")
    out = np.ascontiguousarray(real.real)
    out[np.abs(out) < 1e-15] = 0.0
    return out
