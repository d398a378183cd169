"""LE radial basis: Bessel zeros, eigenvalue selection, orthonormality, cutoff, spline accuracy."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import spherical_jn

from lepot.calculator import _evaluator
from lepot.calculator.radial_basis import (
    cutoff_function,
    le_radial_sizes,
    make_radial_basis,
    spherical_bessel_zeros,
)


def sign_change_zeros(l, count):
    """Independent reference: bracket zeros of j_l by sign changes on a fine grid, then bisect."""
    x = np.linspace(1e-3, (count + l + 2) * np.pi, 400_000)
    f = spherical_jn(l, x)
    brackets = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)[:count]
    zeros = []
    for b in brackets:
        lo, hi = x[b], x[b + 1]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if np.sign(spherical_jn(l, mid)) == np.sign(spherical_jn(l, lo)):
                lo = mid
            else:
                hi = mid
        zeros.append(0.5 * (lo + hi))
    return np.array(zeros)


def test_bessel_zeros_match_sign_change_reference():
    zeros = spherical_bessel_zeros(8, 7)
    for l in range(9):
        np.testing.assert_allclose(zeros[l], sign_change_zeros(l, 7), rtol=1e-12)


def test_le_selection_follows_eigenvalue_rule():
    n_max = 6
    reference = []
    for l in range(12):
        z = sign_change_zeros(l, n_max + 1)
        reference.append(int(np.sum(z <= n_max * np.pi * (1 + 1e-12))))
    while reference[-1] == 0:
        reference.pop()
    assert le_radial_sizes(n_max, 11) == reference
    # the l = 0 channel has exactly n_max functions and the counts never increase with l
    assert reference[0] == n_max
    assert all(a >= b for a, b in zip(reference, reference[1:]))
    # an l_max below the natural one truncates
    assert le_radial_sizes(n_max, 2) == reference[:3]


@pytest.mark.parametrize("cutoff", [3.0, 5.5])
def test_smooth_part_is_orthonormal_by_quadrature(cutoff):
    basis = make_radial_basis(cutoff, n_max=5, l_max=4)
    labels = basis.function_labels()
    for l in range(basis.l_max + 1):
        members = [p for p, (_, ll) in enumerate(labels) if ll == l]
        gram = np.zeros((len(members), len(members)))
        for a, p in enumerate(members):
            for b, q in enumerate(members):
                integrand = lambda r: r**2 * basis.smooth_part([r])[0][0, p] * basis.smooth_part([r])[0][0, q]  # noqa: E731
                gram[a, b] = quad(integrand, 0.0, cutoff, limit=200, epsabs=1e-13, epsrel=1e-12)[0]
        np.testing.assert_allclose(gram, np.eye(len(members)), atol=1e-10)


def test_cutoff_function_is_c1_and_vanishes_at_cutoff():
    cutoff, width = 5.0, 1.2
    r = np.array([0.0, 3.7, 3.8, 4.4, 4.999999, 5.0, 6.0])
    value, derivative = cutoff_function(r, cutoff, width)
    assert value[0] == 1.0 and value[1] == 1.0 and value[-1] == 0.0 and value[-2] == 0.0
    assert value[4] < 1e-11 and abs(derivative[4]) < 1e-5
    h = 1e-6
    for x in [3.85, 4.3, 4.9]:
        numerical = (cutoff_function(x + h, cutoff, width)[0] - cutoff_function(x - h, cutoff, width)[0]) / (2 * h)
        np.testing.assert_allclose(cutoff_function(x, cutoff, width)[1], numerical, rtol=1e-8)


@pytest.mark.parametrize("tolerance", [1e-5, 1e-8, 1e-10])
def test_compiled_spline_reaches_requested_accuracy(tolerance):
    basis = make_radial_basis(5.0, n_max=7, l_max=5)
    table = basis.tabulate(tolerance)
    r = np.random.default_rng(0).uniform(0.0, 5.0, 4000)
    values, _ = _evaluator.evaluate_radial_spline(5.0, table.node_values, table.node_derivatives, r)
    exact, _ = basis.smooth_part(r)
    scale = np.max(np.abs(basis.smooth_part(np.linspace(0, 5, 2001))[0]), axis=0)
    assert np.max(np.abs(values - exact) / scale) <= tolerance


def test_spline_derivative_is_derivative_of_interpolant_and_close_to_exact():
    basis = make_radial_basis(4.0, n_max=5, l_max=3)
    table = basis.tabulate(1e-9)
    r = np.random.default_rng(1).uniform(0.01, 3.99, 500)
    h = 1e-6
    values_plus, _ = _evaluator.evaluate_radial_spline(4.0, table.node_values, table.node_derivatives, r + h)
    values_minus, _ = _evaluator.evaluate_radial_spline(4.0, table.node_values, table.node_derivatives, r - h)
    _, derivatives = _evaluator.evaluate_radial_spline(4.0, table.node_values, table.node_derivatives, r)
    numerical = (values_plus - values_minus) / (2 * h)
    assert np.max(np.abs(derivatives - numerical)) <= 1e-6 * np.max(np.abs(numerical))
    _, exact = basis.smooth_part(r)
    # cubic Hermite: derivative error is O(h^3) where the value error is O(h^4)
    assert np.max(np.abs(derivatives - exact)) <= 1e-5 * np.max(np.abs(exact))


def test_spline_is_zero_beyond_cutoff():
    basis = make_radial_basis(4.0, n_max=3, l_max=2)
    table = basis.tabulate(1e-8)
    values, derivatives = _evaluator.evaluate_radial_spline(
        4.0, table.node_values, table.node_derivatives, np.array([4.0, 4.5, 100.0])
    )
    assert not values.any() and not derivatives.any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(cutoff=-1.0, n_max=4, l_max=3), "cutoff"),
        (dict(cutoff=5.0, n_max=0, l_max=3), "n_max"),
        (dict(cutoff=5.0, n_max=4, l_max=-1), "l_max"),
        (dict(cutoff=5.0, n_max=4, l_max=3, cutoff_width=6.0), "cutoff_width"),
    ],
)
def test_bad_radial_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_radial_basis(**kwargs)


def test_non_finite_spline_table_is_rejected():
    basis = make_radial_basis(4.0, n_max=3, l_max=1)
    table = basis.tabulate(1e-6)
    broken = table.node_values.copy()
    broken[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        _evaluator.evaluate_radial_spline(4.0, broken, table.node_derivatives, np.array([1.0]))
