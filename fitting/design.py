"""Weighted least-squares rows of the linear model, and their streamed QR reduction.

Columns (n_columns = n_centre · n_features [+ n_species]): the coefficients W_q(κ) of centre channel κ,
channel-major, then — when reference energies are fitted — one E0 per species. A centre of species s
has the coefficients w_q(s) = Σ_κ v_κ(s) W_q(κ); the centre embedding v [n_centre][n_species] is one-hot
by default (one coefficient vector per species, v = identity) or a compressed centre embedding.

Rows of one structure with N atoms (each multiplied by its row weight, lepot.fitting.config RowWeights):
  energy  1 row    x = [Σ_i v_κ(a_i) B(i)]_κ / N,   E0 columns: count_s / N;  y = (E - E_core - Σ given E0) / N   eV/atom
  forces  3N rows  x = -[Σ_i v_κ(a_i) ∂B(i)/∂r_j,α]_κ,                       y = F_j,α - F_core                   eV/Å
  stress  6 rows   x = [Σ_i v_κ(a_i) ∂B(i)/∂ε_v]_κ / N  (Voigt v, ASE order), y = (σ V)_v / N - core               eV/atom
(σ V = ∂E/∂ε, the virial with ASE's sign.) Rows whose weight is zero are not built.

Reduction (TSQR): the augmented block [X | y] of every chunk of structures is folded into the running
triangular factor (lepot.fitting.triangular: a QR that uses the factor's triangle), keeping only
R_aug = [[R, z], [0, ρ]] of size (n_columns+1)². Memory is O(chunk rows × n_columns + n_columns²),
independent of the data size, and the factor is numerically as good as a QR of the full matrix (unlike
normal equations, which square the condition number). Under MPI every rank reduces its own structures; the rank factors are then
folded in rank order.
"""

import numpy as np

from lepot.calculator import DescriptorCalculator, Potential
from lepot.calculator.conventions import ASE_VOIGT

from .triangular import fold_rows


class RowBuilder:
    """Builds the weighted rows of structures for one basis and fit setting."""

    def __init__(
        self, basis, row_weights, fit_reference_energies, given_reference_energies=None, core_model=None, centre_embedding=None
    ):
        """weights: the config's 'weights' section; given_reference_energies: [n_species] eV or None;
        core_model: a Model holding only the core repulsion (zero coefficients, zero E0) or None;
        centre_embedding: v [n_centre][n_species], or None for one coefficient vector per species."""
        self.basis = basis
        self.centre_embedding = (
            np.eye(basis.n_species) if centre_embedding is None else np.asarray(centre_embedding, dtype=float)
        )
        if self.centre_embedding.ndim != 2 or self.centre_embedding.shape[1] != basis.n_species:
            raise ValueError(
                f"centre embedding of shape {self.centre_embedding.shape} must be [n_centre][{basis.n_species}]"
            )
        self.row_weights = row_weights
        self.fit_reference_energies = fit_reference_energies
        self.given_reference_energies = given_reference_energies
        self.descriptors = DescriptorCalculator(basis)
        self.core = None if core_model is None else Potential(core_model, skin=0.0)  # a new structure each call
        n = self.centre_embedding.shape[0] * basis.n_features
        self.n_columns = n + (basis.n_species if fit_reference_energies else 0)

    @property
    def n_coefficient_columns(self):
        return self.centre_embedding.shape[0] * self.basis.n_features

    def column_roughness(self):
        """ε_j ≥ 1 of every column [n_columns] for the smoothness prior: each coefficient column its feature's
        Σ of LE eigenvalues (Basis.feature_roughness), the E0 columns 1 (their prior is the plain ridge)."""
        per_feature = self.basis.feature_roughness()
        extra = self.n_columns - self.n_coefficient_columns
        return np.concatenate([np.tile(per_feature, self.centre_embedding.shape[0]), np.ones(extra)])

    def species_coefficients(self, coefficients):
        """w_q(s) = Σ_κ v_κ(s) W_q(κ), shape [n_species][n_features], from solved coefficients [n_columns]."""
        channels = np.asarray(coefficients)[: self.n_coefficient_columns].reshape(-1, self.basis.n_features)
        return self.centre_embedding.T @ channels

    def reference_energies(self, coefficients):
        """Fitted E0 [n_species] (eV) from solved coefficients (only when reference energies are fitted)."""
        return np.asarray(coefficients)[self.n_coefficient_columns :]

    def structure_row_weights(self, structure):
        """{energy, forces, stress}: the row weights of one structure (its config_type's factors applied; stress
        0 for a structure that is not periodic in 3D, which has no stress)."""
        factors = self.row_weights["config_types"].get(structure.config_type, {})
        weights = {key: self.row_weights[key] * factors.get(key, 1.0) for key in ("energy", "forces", "stress")}
        if not structure.periodic:
            weights["stress"] = 0.0
        return weights

    def rows(self, structure):
        """(X [n_rows][n_columns], y [n_rows]) of one structure, already weighted: energy, forces, stress rows."""
        by_target = self.rows_by_target(structure)
        if not by_target:
            return np.zeros((0, self.n_columns)), np.zeros(0)
        return np.vstack([x for x, _ in by_target.values()]), np.concatenate([y for _, y in by_target.values()])

    def rows_by_target(self, structure):
        """{target: (X, y)} of one structure for the targets with a non-zero weight, in the order energy,
        forces, stress (the rows of rows(), split by target)."""
        return self.rows_and_descriptors(structure)[0]

    def rows_and_descriptors(self, structure):
        """(rows_by_target(structure), the per-atom descriptors B(i) [n_atoms][n_features] they were built from)."""
        row_weight = self.structure_row_weights(structure)
        atoms = structure.atoms
        n_atoms = len(atoms)
        n_species, n_features = self.basis.n_species, self.basis.n_features
        n_coefficients = self.centre_embedding.shape[0] * n_features
        species = self.basis.species_index(atoms.numbers)
        centre_weights = self.centre_embedding[:, species]  # [n_centre][n_atoms], v_κ(a_i)
        gradients = []
        if row_weight["forces"] > 0:
            gradients.append("positions")
        if row_weight["stress"] > 0:
            gradients.append("strain")
        result = self.descriptors.compute(atoms, gradients=tuple(gradients))
        core = self.core.compute(atoms) if self.core is not None else None
        by_target = {}

        if row_weight["energy"] > 0:
            row = np.zeros((1, self.n_columns))
            row[0, :n_coefficients] = (centre_weights @ result.values).reshape(-1)
            if self.fit_reference_energies:
                row[0, n_coefficients:] = np.bincount(species, minlength=n_species)
            target = structure.energy - (core.energy if core else 0.0)
            if self.given_reference_energies is not None:
                target -= self.given_reference_energies[species].sum()
            by_target["energy"] = (row * (row_weight["energy"] / n_atoms),
                                   np.array([target]) * (row_weight["energy"] / n_atoms))

        if row_weight["forces"] > 0:
            rows = np.zeros((n_atoms, 3, self.n_columns))
            rows[:, :, :n_coefficients] = result.channel_summed_position_gradients(centre_weights, -row_weight["forces"])
            target = structure.forces - (core.forces if core else 0.0)
            by_target["forces"] = (rows.reshape(3 * n_atoms, -1), target.reshape(-1) * row_weight["forces"])

        if row_weight["stress"] > 0:
            rows = np.zeros((6, self.n_columns))
            for kappa, weight_of_atom in enumerate(centre_weights):
                strain = np.einsum("i,iabq->abq", weight_of_atom, result.strain_gradients)  # [3][3][F]
                strain = 0.5 * (strain + strain.transpose(1, 0, 2))
                for v, (a, b) in enumerate(ASE_VOIGT):
                    rows[v, kappa * n_features : (kappa + 1) * n_features] = strain[a, b]
            volume = atoms.cell.volume
            virial = structure.stress * volume
            if core:
                virial = virial - core.stress * volume
            target = np.array([virial[a, b] for a, b in ASE_VOIGT])
            by_target["stress"] = (rows * (row_weight["stress"] / n_atoms), target * (row_weight["stress"] / n_atoms))
        return by_target, result.values


class TriangularFactor:
    """Running R_aug of [X | y] (see module docstring) and the number of rows reduced into it."""

    def __init__(self, n_columns):
        self.n_columns = n_columns
        self.augmented = np.zeros((n_columns + 1, n_columns + 1), order="F")  # shape [n_columns+1][n_columns+1]
        self.n_rows = 0

    def add(self, matrix, targets):
        """Fold rows X [m][n_columns] and y [m] into the factor."""
        if len(matrix) == 0:
            return
        self.augmented = fold_rows(self.augmented, np.hstack([matrix, targets[:, None]]), in_place=True)
        self.n_rows += len(matrix)

    def merge(self, factors):
        """Fold other factors (e.g. one per MPI rank) into this one, in the given order."""
        for factor in factors:
            self.augmented = fold_rows(self.augmented, factor.augmented, rows_triangular=True, in_place=True)
        self.n_rows += sum(f.n_rows for f in factors)

    @property
    def r(self):
        return self.augmented[: self.n_columns, : self.n_columns]

    @property
    def z(self):
        return self.augmented[: self.n_columns, self.n_columns]

    @property
    def residual_outside(self):
        """ρ²: the part of |y|² no choice of weights can reach (eV² in row units)."""
        return float(self.augmented[self.n_columns, self.n_columns] ** 2)


def reduce_structures(builder, structures, chunk_size, progress=None):
    """TriangularFactor of all rows of ``structures``, built chunk by chunk."""
    factor = TriangularFactor(builder.n_columns)
    for start in range(0, len(structures), chunk_size):
        chunk = structures[start : start + chunk_size]
        pieces = [builder.rows(s) for s in chunk]
        matrix = np.vstack([p[0] for p in pieces])
        targets = np.concatenate([p[1] for p in pieces])
        factor.add(matrix, targets)
        if progress is not None:
            progress.update(len(chunk))
    return factor


def reduce_structures_by_target(builder, structures, chunk_size, progress=None):
    """{target: TriangularFactor} of the rows of each target (energy, forces, stress) of ``structures``,
    built chunk by chunk; their merge is reduce_structures' factor (lepot.fitting.weights re-weights them)."""
    factors = {target: TriangularFactor(builder.n_columns) for target in ("energy", "forces", "stress")}
    for start in range(0, len(structures), chunk_size):
        chunk = structures[start : start + chunk_size]
        pieces = [builder.rows_by_target(s) for s in chunk]
        for target, factor in factors.items():
            blocks = [p[target] for p in pieces if target in p]
            if blocks:
                factor.add(np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]))
        if progress is not None:
            progress.update(len(chunk))
    return factors


def mpi_reduce(factor, communicator):
    """Combine the per-rank factors; every rank gets the same total factor."""
    gathered = communicator.allgather((factor.augmented, factor.n_rows))
    total = TriangularFactor(factor.n_columns)
    parts = []
    for augmented, n_rows in gathered:
        part = TriangularFactor(factor.n_columns)
        part.augmented, part.n_rows = augmented, n_rows
        parts.append(part)
    total.merge(parts)
    return total
