"""Functionally independent subsets of an invariant basis (the "optimal invariant bases" idea).

Invariants f_1..f_k of one environment are functionally dependent when some f_q is a (possibly
non-linear) function of the others; locally that shows as a rank-deficient Jacobian ∂f/∂r of the
features with respect to the neighbour positions. This module keeps, greedily in feature order
(body order first), every invariant whose Jacobian row is not in the span of the rows already kept, at
random environments of ``n_neighbours`` atoms (all of them must agree). At most 3N - 3 invariants of an
N-neighbour environment can be functionally independent, so for large bases this discards most
features: a non-linear model needs only those, but a *linear* model loses expressiveness — the
measured effect on fits is in docs/body-orders.md.
"""

from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms

from .couplings import assemble
from .descriptors import DescriptorCalculator


@dataclass(frozen=True)
class Selection:
    kept: np.ndarray  # int [n_kept], feature indices of the basis, increasing
    counts: dict  # {body order: (kept, total)}
    n_neighbours: int


def random_environment(species, n_neighbours, cutoff, rng, min_distance=1.6):
    """Centre atom at the origin (species[0]) and ``n_neighbours`` random neighbours inside 0.95 r_c."""
    positions = [np.zeros(3)]
    while len(positions) < n_neighbours + 1:
        candidate = rng.uniform(-1, 1, 3) * 0.95 * cutoff
        if np.linalg.norm(candidate) < 0.95 * cutoff and all(np.linalg.norm(candidate - p) >= min_distance for p in positions):
            positions.append(candidate)
    symbols = [species[0]] + [species[i] for i in rng.integers(0, len(species), n_neighbours)]
    return Atoms(symbols, positions=np.array(positions))


def centre_jacobian(calculator, atoms):
    """∂B_q(0)/∂r_j for the centre atom 0 and every neighbour j, as rows [n_features][3 n_neighbours]."""
    result = calculator.compute(atoms, gradients=("positions",))
    rows = result.gradient_samples[:, 0] == 0
    neighbours = result.gradient_samples[rows, 1]
    gradients = result.position_gradients[rows][neighbours > 0]  # [j][3][q], the centre row is -Σ_j
    return gradients.reshape(-1, gradients.shape[-1]).T


def select_functionally_independent(basis, n_neighbours=30, n_environments=2, seed=0, tolerance=1e-6):
    """Greedy functionally independent subset of ``basis``'s features (see the module docstring).

    A feature is kept when its normalised Jacobian row has a residual above ``tolerance`` against the
    span of the rows already kept (two-pass Gram-Schmidt), at every environment. Dependent rows leave
    residuals at round-off level (~1e-13), independent ones typically above 1e-3, so the threshold sits
    in a wide gap.
    """
    rng = np.random.default_rng(seed)
    calculator = DescriptorCalculator(basis)
    symbols = list(basis.species)
    jacobians = []
    for _ in range(n_environments):
        jacobian = centre_jacobian(calculator, random_environment(symbols, n_neighbours, basis.cutoff, rng))
        norms = np.linalg.norm(jacobian, axis=1, keepdims=True)
        jacobians.append(jacobian / np.where(norms > 0, norms, 1.0))
    kept, bases = [], [np.zeros((0, j.shape[1])) for j in jacobians]
    for q in range(basis.n_features):
        residuals = []
        for jacobian, orthonormal in zip(jacobians, bases):
            residual = jacobian[q] - orthonormal.T @ (orthonormal @ jacobian[q])
            residual -= orthonormal.T @ (orthonormal @ residual)
            norm = np.linalg.norm(residual)
            if not norm > tolerance:
                break
            residuals.append(residual / norm)
        if len(residuals) == len(jacobians):
            kept.append(q)
            bases = [np.vstack([b, r]) for b, r in zip(bases, residuals)]
    orders = basis.couplings.body_order
    counts = {int(o): (int(np.sum(orders[kept] == o)), int(np.sum(orders == o))) for o in np.unique(orders)}
    return Selection(np.array(kept, dtype=np.int64), counts, n_neighbours)


def subset_basis(basis, features):
    """The same basis restricted to ``features`` (indices, in the order given)."""
    couplings = basis.couplings
    offsets = couplings.term_factor_offsets
    grouped = []
    for q in features:
        terms = [
            (float(couplings.term_coefficient[t]), tuple(int(f) for f in couplings.factors[offsets[t] : offsets[t + 1]]))
            for t in np.flatnonzero(couplings.term_feature == q)
        ]
        grouped.append((couplings.labels[q], terms))
    return replace(basis, couplings=assemble(grouped))
