"""Laplacian-eigenstate (LE) radial basis and its spline tables.

The LE functions are the radial parts of the eigenfunctions of the Laplacian in a ball of radius
r_c with a Dirichlet boundary (Bigi et al., "A smooth basis for atomistic machine learning"):

    S_nl(r) = N_nl j_l(z_nl r / r_c),   z_nl = (n+1)-th positive zero of j_l,
    N_nl    = sqrt(2 / r_c^3) / |j_{l+1}(z_nl)|   so that  ∫_0^{r_c} r^2 S_nl(r)^2 dr = 1.

The Laplacian eigenvalue of (n, l) is z_nl^2 / r_c^2. For a size ``n_max`` the basis keeps every
(n, l) with z_nl^2 <= (n_max π)^2 (the l = 0 eigenvalue of n = n_max - 1) and l <= l_max: low l
gets more radial functions than high l. The radial function used by the model is
R_nl(r) = f_c(r) S_nl(r) with the shifted-cosine cutoff f_c (see ``cutoff_function``), which is
applied analytically by the compiled core; only the smooth S_nl are tabulated.

The functions, their zeros and the selection are computed by the compiled core
(core/laplacian_eigenstates.hpp), the same code the parameter-file reader checks stored tables with;
this module builds the spline tables from them.

Units: r and r_c in Å, S_nl in Å^(-3/2), dS_nl/dr in Å^(-5/2).
"""

from dataclasses import dataclass, field

import numpy as np

from . import _evaluator


def spherical_bessel_zeros(l_max, n_zeros):
    """First ``n_zeros`` positive zeros of j_l for l = 0..l_max, shape [l_max+1][n_zeros].

    Computed by the core (core/laplacian_eigenstates.hpp): the interlacing z_{n,l} < z_{n,l+1} < z_{n+1,l}
    brackets the zeros of j_{l+1} between consecutive zeros of j_l, starting from z_{n,0} = (n+1) π.
    """
    if l_max < 0 or n_zeros < 1:
        raise ValueError(f"need l_max >= 0 and n_zeros >= 1, got l_max={l_max}, n_zeros={n_zeros}")
    return _evaluator.spherical_bessel_zeros(int(l_max), int(n_zeros))


def le_radial_sizes(n_max, l_max):
    """Number of radial functions n_l kept for each l = 0..l_max under the LE eigenvalue rule.

    Trailing angular channels with no function below the eigenvalue limit are dropped, so the
    returned list can be shorter than l_max + 1.
    """
    return _eigenstates(1.0, n_max, l_max).n_radial


def _eigenstates(cutoff, n_max, l_max):
    """The core's LE functions; its limits (n_max <= 128, l_max <= 20) are checked there."""
    if not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"n_max must be an integer >= 1, got {n_max!r}")
    if not isinstance(l_max, (int, np.integer)) or l_max < 0:
        raise ValueError(f"l_max must be an integer >= 0, got {l_max!r}")
    return _evaluator.LaplacianEigenstates(float(cutoff), int(n_max), int(l_max))


def cutoff_function(r, cutoff, width):
    """Shifted-cosine cutoff f_c(r) and df_c/dr (1/Å), the same function as core/cutoff_function.hpp."""
    r = np.asarray(r, dtype=float)
    start = cutoff - width
    phase = np.pi * np.clip((r - start) / width, 0.0, 1.0)
    value = 0.5 * (1.0 + np.cos(phase))
    derivative = np.where((r > start) & (r < cutoff), -0.5 * np.pi / width * np.sin(phase), 0.0)
    return value, derivative


@dataclass(frozen=True)
class RadialBasis:
    """The LE radial functions of one basis.

    Attributes
    ----------
    cutoff : float
        r_c in Å.
    cutoff_width : float
        δ in Å, width of the shifted-cosine switching region below r_c.
    n_radial : tuple of int
        n_l for l = 0..l_max (non-increasing).
    zeros : ndarray, shape [n_radial_functions]
        z_nl for the functions in layout order (for l, for n).
    eigenstates : lepot.calculator._evaluator.LaplacianEigenstates
        the core's implementation of these functions, which evaluates them.
    """

    cutoff: float
    cutoff_width: float
    n_radial: tuple
    zeros: np.ndarray
    eigenstates: object = field(repr=False, compare=False)

    @property
    def l_max(self):
        return len(self.n_radial) - 1

    @property
    def n_functions(self):
        return int(sum(self.n_radial))

    def function_labels(self):
        """(n, l) of each radial function in layout order."""
        return [(n, l) for l, count in enumerate(self.n_radial) for n in range(count)]

    def eigenvalues(self):
        """{(n, l): z_nl² / π²}: each function's LE eigenvalue in units of (π / r_c)², its roughness (the
        truncation budgets of body orders >= 3 and the smoothness prior sum these over a feature's factors)."""
        return {label: float((z / np.pi) ** 2) for label, z in zip(self.function_labels(), self.zeros)}

    def normalisation(self):
        """N_nl, shape [n_functions], in Å^(-3/2)."""
        return self.eigenstates.normalisation

    def smooth_part(self, r):
        """S_nl(r) and dS_nl/dr, each shape [len(r)][n_functions], evaluated exactly (no spline)."""
        return self.eigenstates.evaluate(np.asarray(r, dtype=float).reshape(-1))

    def evaluate(self, r):
        """R_nl(r) = f_c(r) S_nl(r) and dR_nl/dr, each shape [len(r)][n_functions], exactly."""
        values, derivatives = self.smooth_part(r)
        fc, dfc = cutoff_function(np.asarray(r, dtype=float).reshape(-1, 1), self.cutoff, self.cutoff_width)
        return fc * values, fc * derivatives + dfc * values

    def tabulate(self, tolerance=1e-8, max_nodes=1 << 16):
        """Cubic-Hermite spline tables of S_nl on a uniform grid over [0, r_c].

        The grid is doubled until the interpolant's largest error, checked at the quarter points of
        every interval, is at most ``tolerance`` times the largest |S_nl| of each function.

        Returns ``SplineTable``.
        """
        if not tolerance > 0:
            raise ValueError(f"spline tolerance must be positive, got {tolerance}")
        n_intervals = 32
        while True:
            nodes = np.linspace(0.0, self.cutoff, n_intervals + 1)
            values, derivatives = self.smooth_part(nodes)
            error = _hermite_relative_error(self, nodes, values, derivatives)
            if error <= tolerance:
                return SplineTable(self.cutoff, values, derivatives, error)
            if 2 * n_intervals + 1 > max_nodes:
                raise ValueError(
                    f"radial spline did not reach tolerance {tolerance:g} with {max_nodes} nodes "
                    f"(error {error:.3g}); use a larger tolerance"
                )
            n_intervals *= 2


@dataclass(frozen=True)
class SplineTable:
    """Cubic-Hermite tables of the smooth LE functions.

    node_values, node_derivatives : ndarray, shape [n_nodes][n_functions]
        S_nl and dS_nl/dr at r_k = k r_c / (n_nodes - 1).
    max_relative_error : float
        Largest interpolation error found when the table was built, relative to max |S_nl|.
    """

    cutoff: float
    node_values: np.ndarray
    node_derivatives: np.ndarray
    max_relative_error: float

    @property
    def n_nodes(self):
        return self.node_values.shape[0]


def _hermite_relative_error(basis, nodes, values, derivatives):
    """Largest |Hermite interpolant - S| / max|S| over quarter points of every interval."""
    h = nodes[1] - nodes[0]
    worst = 0.0
    scale = np.max(np.abs(values), axis=0)
    for t in (0.25, 0.5, 0.75):
        r = nodes[:-1] + t * h
        exact, _ = basis.smooth_part(r)
        y0, y1 = values[:-1], values[1:]
        d0, d1 = derivatives[:-1] * h, derivatives[1:] * h
        interpolated = (
            (2 * t**3 - 3 * t**2 + 1) * y0 + (t**3 - 2 * t**2 + t) * d0 + (-2 * t**3 + 3 * t**2) * y1 + (t**3 - t**2) * d1
        )
        worst = max(worst, float(np.max(np.abs(interpolated - exact) / scale)))
    return worst


def make_radial_basis(cutoff, n_max, l_max, cutoff_width=None):
    """LE radial basis with the eigenvalue selection of ``n_max`` and ``l_max`` (see module docstring).

    ``cutoff_width`` (δ, Å) defaults to min(1 Å, cutoff / 2).
    """
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff must be a positive number of Å, got {cutoff}")
    if cutoff_width is None:
        cutoff_width = min(1.0, 0.5 * cutoff)
    if not (0 < cutoff_width <= cutoff):
        raise ValueError(f"cutoff_width must be in (0, cutoff={cutoff}] Å, got {cutoff_width}")
    eigenstates = _eigenstates(cutoff, n_max, l_max)
    return RadialBasis(float(cutoff), float(cutoff_width), tuple(eigenstates.n_radial), eigenstates.zeros, eigenstates)
