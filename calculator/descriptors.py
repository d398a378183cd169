"""Per-atom descriptors and their analytic gradients for ASE structures.

Outputs (all float64, lengths in Å):

``values``               [n_atoms][n_features]     B_q(i), feature order = ``basis.couplings.labels``
``gradient_samples``     [n_samples][2]            (centre i, atom j) pairs with a non-zero gradient,
                                                   sorted; every centre has its (i, i) sample
``position_gradients``   [n_samples][3][n_features] ∂B_q(i)/∂r_j,α  for sample (i, j), in 1/Å
``strain_gradients``     [n_atoms][3][3][n_features] ∂B_q(i)/∂ε_αβ for the homogeneous deformation
                                                   r -> (1 + ε) r of positions and cell

The sum over atoms of ``strain_gradients`` is the derivative of Σ_i B(i) with respect to strain;
a linear energy E = Σ_i w·B(i) then has stress σ = (1/V) ∂E/∂ε (ASE sign: tensile positive).
"""

from dataclasses import dataclass

import numpy as np

from . import _evaluator
from .neighbours import neighbour_pairs

GRADIENT_KINDS = ("positions", "strain")


@dataclass
class Descriptors:
    """Descriptors of one structure (see the module docstring for shapes and units)."""

    values: np.ndarray
    numbers: np.ndarray
    gradient_samples: np.ndarray = None
    position_gradients: np.ndarray = None
    strain_gradients: np.ndarray = None

    def dense_position_gradients(self):
        """∂B_q(i)/∂r_j,α as a dense array [n_atoms][n_atoms][3][n_features] (small systems only)."""
        n_atoms, n_features = self.values.shape
        dense = np.zeros((n_atoms, n_atoms, 3, n_features))
        dense[self.gradient_samples[:, 0], self.gradient_samples[:, 1]] = self.position_gradients
        return dense

    def channel_summed_position_gradients(self, centre_weights, scale=1.0):
        """scale · Σ_i v_κ(a_i) ∂B(i)/∂r_j,α for every atom j, [n_atoms][3][n_centre · n_features] in 1/Å
        (channel-major: the coefficient columns of a linear model, so that the force rows of the model are
        minus this), from ``centre_weights`` v_κ(a_i) [n_centre][n_atoms]. One sparse product scatters every
        (i, j) sample into atom j's rows of each centre channel κ (samples with v_κ(a_i) = 0 are left out)."""
        import scipy.sparse

        n_centre, n_atoms = centre_weights.shape
        n_samples, _, n_features = self.position_gradients.shape
        centres, atoms = self.gradient_samples[:, 0], self.gradient_samples[:, 1]
        weights = centre_weights[:, centres]  # shape [n_centre][n_samples]
        channel, sample = np.nonzero(weights)
        scatter = scipy.sparse.csr_matrix(
            (scale * weights[channel, sample], (channel * n_atoms + atoms[sample], sample)),
            shape=(n_centre * n_atoms, n_samples),
        )  # shape [n_centre · n_atoms][n_samples]
        summed = scatter @ self.position_gradients.reshape(n_samples, 3 * n_features)  # [n_centre · n_atoms][3 · n_features]
        return summed.reshape(n_centre, n_atoms, 3, n_features).transpose(1, 2, 0, 3).reshape(n_atoms, 3, n_centre * n_features)


class DescriptorCalculator:
    """Computes descriptors of a :class:`lepot.calculator.basis.Basis` with the compiled core.

    ``n_threads``: OpenMP threads over atoms; None uses OMP_NUM_THREADS (or all cores).
    """

    def __init__(self, basis, n_threads=None):
        if basis.n_features < 1:
            raise ValueError("basis has no features")
        self.basis = basis
        self.n_threads = 0 if n_threads is None else int(n_threads)
        if self.n_threads < 0:
            raise ValueError(f"n_threads must be positive, got {n_threads}")
        self._evaluator = _evaluator.DescriptorEvaluator(basis)

    def _pairs(self, atoms):
        numbers = np.asarray(atoms.numbers)
        species_index = self.basis.species_index(numbers)
        pairs = neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, self.basis.cutoff)
        return numbers, species_index, pairs

    def density(self, atoms):
        """Density coefficients A, shape [n_atoms][n_pseudo * n_nlm] (layout in lepot.calculator.couplings)."""
        _, species_index, pairs = self._pairs(atoms)
        return self._evaluator.density(
            pairs.vectors, np.ascontiguousarray(species_index[pairs.neighbours]), species_index, pairs.centre_offsets
        )

    def compute(self, atoms, gradients=()):
        """Descriptors of ``atoms`` (an ase.Atoms); ``gradients`` any of ``("positions", "strain")``."""
        unknown = set(gradients) - set(GRADIENT_KINDS)
        if unknown:
            raise ValueError(f"unknown gradient kind(s) {sorted(unknown)}; choose from {GRADIENT_KINDS}")
        numbers, species_index, pairs = self._pairs(atoms)
        n_atoms, n_features = len(numbers), self.basis.n_features
        result = Descriptors(values=np.zeros((n_atoms, n_features)), numbers=numbers)
        neighbour_species = np.ascontiguousarray(species_index[pairs.neighbours])
        kwargs = {}
        if "positions" in gradients:
            samples, pair_rows, centre_rows = _gradient_samples(pairs)
            result.gradient_samples = samples
            result.position_gradients = np.zeros((len(samples), 3, n_features))
            kwargs.update(gradients=result.position_gradients, pair_rows=pair_rows, centre_rows=centre_rows)
        if "strain" in gradients:
            result.strain_gradients = np.zeros((n_atoms, 3, 3, n_features))
            kwargs.update(strain=result.strain_gradients)
        self._evaluator.compute(
            pairs.vectors, neighbour_species, species_index, pairs.centre_offsets, result.values, n_threads=self.n_threads,
            **kwargs,
        )
        return result


def _gradient_samples(pairs):
    """Unique (i, j) samples [n_samples][2], the sample row of every pair [n_pairs] and of every centre's (i, i)."""
    n = pairs.n_atoms
    atoms = np.arange(n, dtype=np.int64)
    keys = np.concatenate([pairs.centres * n + pairs.neighbours, atoms * n + atoms])
    unique_keys, rows = np.unique(keys, return_inverse=True)
    samples = np.stack([unique_keys // n, unique_keys % n], axis=1)
    return samples, rows[: pairs.n_pairs].astype(np.int64), rows[pairs.n_pairs :].astype(np.int64)
