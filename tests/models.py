"""Models for tests: random weights (for exact identities) and a small least-squares Mo fit (for dynamics)."""

import functools
from pathlib import Path

import ase.io
import numpy as np

from lepot.calculator import DescriptorCalculator, Model, build_basis

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "Mo_train_sample.extxyz"


def random_model(species, seed, core_repulsion=None, scale=0.05, **basis_options):
    options = dict(cutoff=4.5, n_max=4, l_max=3, core_repulsion=core_repulsion)
    options.update(basis_options)
    basis = build_basis(species, **options)
    rng = np.random.default_rng(seed)
    weights = scale * rng.normal(size=(basis.n_species, basis.n_features))
    reference_energies = rng.uniform(-5.0, -1.0, size=basis.n_species)
    return Model(basis, weights, reference_energies, {"purpose": "test"})


@functools.lru_cache(maxsize=1)
def fitted_mo_model():
    """Linear Mo model fitted by ridge regression to the energies and forces of the shipped sample.

    Independent of lepot.fitting: rows built here from descriptors and their gradients.
    """
    structures = ase.io.read(SAMPLE, ":")
    basis = build_basis(["Mo"], cutoff=5.0, n_max=6, l_max=4)
    calculator = DescriptorCalculator(basis)
    rows, targets = [], []
    for atoms in structures:
        result = calculator.compute(atoms, gradients=("positions",))
        n = len(atoms)
        rows.append(np.concatenate([result.values.sum(axis=0), [n]]) / n)
        targets.append(atoms.get_potential_energy() / n)
        jacobian = result.dense_position_gradients().sum(axis=0)  # [j][α][q], Σ_i ∂B(i)/∂r_j
        force_rows = -jacobian.reshape(3 * n, -1)
        rows.extend(np.hstack([force_rows, np.zeros((3 * n, 1))]) * 0.3)
        targets.extend(atoms.get_forces().reshape(-1) * 0.3)
    matrix, targets = np.array(rows), np.array(targets)
    scale = np.maximum(np.abs(matrix).max(axis=0), 1e-12)
    ridge = 1e-8
    solution = np.linalg.solve(
        (matrix / scale).T @ (matrix / scale) + ridge * np.eye(matrix.shape[1]), (matrix / scale).T @ targets
    )
    solution /= scale
    return Model(basis, solution[None, :-1], [solution[-1]], {"purpose": "test fit"})
