"""The weighted rows of lepot.fitting.design: force and stress rows are the derivatives of the energy row,
for one coefficient vector per species and for a compressed centre embedding (whose zero entries leave
samples out of the force scatter)."""

import numpy as np
import pytest
from finite_differences import position_derivatives, relative_error, strain_derivatives
from structures import random_triclinic

from lepot.calculator import build_basis
from lepot.fitting.data import Structure
from lepot.fitting.design import RowBuilder

WEIGHTS = {"energy": 30.0, "forces": 2.0, "stress": 5.0, "config_types": {}}
EMBEDDINGS = {
    "one per species": None,
    "compressed, one entry zero": np.array([[0.7, -0.4, 0.0], [0.2, 1.1, -0.6]]),  # [n_centre][n_species]
}


@pytest.mark.parametrize("embedding", EMBEDDINGS.values(), ids=EMBEDDINGS.keys())
def test_force_and_stress_rows_are_derivatives_of_the_energy_row(embedding):
    basis = build_basis(["Nb", "Mo", "W"], cutoff=4.0, n_max=3, l_max=2, body_order=3, budgets={3: 6})
    builder = RowBuilder(basis, WEIGHTS, fit_reference_energies=True, centre_embedding=embedding)
    atoms = random_triclinic(["Nb", "Mo", "W"], 9, 6.0, seed=3)
    n_atoms = len(atoms)

    def energy_row(displaced):
        """x_E · N / w_E = [Σ_i v_κ(a_i) B(i)]_κ and the species counts: the unweighted energy row."""
        structure = Structure(displaced, energy=0.0, forces=np.zeros((n_atoms, 3)), stress=np.zeros((3, 3)))
        return builder.rows_by_target(structure)["energy"][0][0] * n_atoms / WEIGHTS["energy"]

    structure = Structure(atoms, energy=0.0, forces=np.zeros((n_atoms, 3)), stress=np.zeros((3, 3)))
    rows = builder.rows_by_target(structure)
    n_coefficients = builder.n_coefficient_columns

    numerical = position_derivatives(energy_row, atoms)  # [n_atoms][3][n_columns]
    force_rows = rows["forces"][0].reshape(n_atoms, 3, -1) / WEIGHTS["forces"]
    assert relative_error(force_rows[..., :n_coefficients], -numerical[..., :n_coefficients]) < 1e-6
    assert np.all(force_rows[..., n_coefficients:] == 0.0)

    numerical = strain_derivatives(energy_row, atoms)  # [3][3][n_columns]
    stress_rows = rows["stress"][0] * n_atoms / WEIGHTS["stress"]  # [6][n_columns], ASE Voigt order
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    expected = np.array([0.5 * (numerical[a, b] + numerical[b, a]) for a, b in voigt])
    assert relative_error(stress_rows[:, :n_coefficients], expected[:, :n_coefficients]) < 1e-6
