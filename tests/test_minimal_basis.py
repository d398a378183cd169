"""Functionally independent invariant subsets: the greedy selection against an SVD rank, the 3N - 3
bound, subset bases, and the fit option."""

import numpy as np
import pytest
from models import SAMPLE
from structures import random_triclinic

from lepot.calculator import DescriptorCalculator, build_basis
from lepot.calculator.minimal_basis import (
    centre_jacobian,
    random_environment,
    select_functionally_independent,
    subset_basis,
)
from lepot.fitting import fit


@pytest.fixture(scope="module")
def basis():
    return build_basis(["Mo", "W"], cutoff=4.5, n_max=4, l_max=3, body_order=3, budgets={3: 20})


@pytest.mark.parametrize("n_neighbours", [4, 12])
def test_greedy_count_equals_the_jacobian_rank(basis, n_neighbours):
    selection = select_functionally_independent(basis, n_neighbours=n_neighbours, n_environments=1, seed=3)
    jacobian = centre_jacobian(DescriptorCalculator(basis), random_environment(list(basis.species), n_neighbours,
                                                                               basis.cutoff, np.random.default_rng(3)))
    jacobian /= np.linalg.norm(jacobian, axis=1, keepdims=True)
    singular = np.linalg.svd(jacobian, compute_uv=False)
    rank = int(np.sum(singular > 1e-10 * singular[0]))
    assert singular[rank - 1] > 1e-6 * singular[0]  # a clear gap between independent and dependent directions
    assert len(selection.kept) == rank
    assert len(selection.kept) <= 3 * n_neighbours - 3  # rotations of the environment leave invariants unchanged
    # every feature's Jacobian row lies in the span of the kept rows
    _, _, vt = np.linalg.svd(jacobian[selection.kept], full_matrices=False)
    residual = jacobian - (jacobian @ vt.T) @ vt
    assert np.abs(residual).max() < 1e-6
    assert sum(kept for kept, _ in selection.counts.values()) == len(selection.kept)


def test_subset_basis_gives_the_selected_columns(basis):
    features = np.array([0, 3, 17, basis.n_features - 1])
    subset = subset_basis(basis, features)
    atoms = random_triclinic(["Mo", "W"], 6, 4.2, seed=90)
    full = DescriptorCalculator(basis).compute(atoms).values
    np.testing.assert_array_equal(DescriptorCalculator(subset).compute(atoms).values, full[:, features])
    assert subset.couplings.labels == tuple(basis.couplings.labels[q] for q in features)


def test_fit_with_a_minimal_basis(tmp_path):
    config = {
        "species": ["Mo"],
        "data": {"train": str(SAMPLE), "validation_fraction": 0.0},
        "model": {"cutoff": 5.0, "n_max": 5, "l_max": 3, "body_order": 3, "budgets": {3: 25},
                  "minimal_basis": {"neighbours": 10}},
        "output": {"model": str(tmp_path / "m.json")},
    }
    result = fit(config, progress=False)
    assert result.model.basis.n_features <= 27
    recorded = result.model.metadata["fit"]["minimal_basis"]
    assert sum(kept for kept, _ in recorded.values()) == result.model.basis.n_features
