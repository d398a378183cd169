"""Energy, forces and virials of a :class:`lepot.calculator.model.Model` for ASE structures.

One call computes everything, by the adjoint method in the compiled core (never through the
descriptor Jacobian):

``energy``         float                eV
``energies``       [n_atoms]            eV, per-atom energies (they sum to ``energy``)
``forces``         [n_atoms][3]         eV/Å, -∂E/∂r
``virial``         [3][3]               eV, W = -Σ_pairs r_ij ⊗ ∂E_i/∂r_ij
``atom_virials``   [n_atoms][3][3]/None eV, each pair's share split equally between its two atoms (None unless
                                        asked for: compute(atoms, per_atom_virials=True), the default)
``stress``         [3][3] or None       eV/Å³, σ = -W/V (ASE sign), None if the cell has no volume
``stresses``       [n_atoms][3][3]/None eV/Å³, per-atom -W_i/V (they sum to ``stress``; with atom_virials)
"""

from dataclasses import dataclass

import numpy as np

from . import _evaluator
from .conventions import stress_from_virial
from .neighbours import VerletPairs, cell_volume


@dataclass
class PotentialResult:
    energy: float
    energies: np.ndarray
    forces: np.ndarray
    virial: np.ndarray
    atom_virials: np.ndarray
    stress: np.ndarray = None
    stresses: np.ndarray = None


class Potential:
    """The compiled evaluator of one model. ``n_threads``: OpenMP threads (None: OMP_NUM_THREADS / all cores).
    ``skin`` (Å): neighbour pairs are listed within cutoff + skin and reused while no atom has moved more
    than skin / 2 (lepot.calculator.neighbours.VerletPairs), as in MD codes; 0 lists them afresh each call.
    The results do not depend on it."""

    def __init__(self, model, n_threads=None, skin=0.3):
        self.model = model
        self.n_threads = 0 if n_threads is None else int(n_threads)
        if self.n_threads < 0:
            raise ValueError(f"n_threads must be positive, got {n_threads}")
        self._evaluator = _evaluator.PotentialEvaluator(model)
        self.neighbour_list = VerletPairs(model.basis.cutoff, skin)

    @property
    def n_monomials(self):
        """Distinct monomials of A left after contracting the coefficients into the couplings."""
        return self._evaluator.n_monomials

    def compute(self, atoms, per_atom_virials=True):
        """PotentialResult of ``atoms``; per_atom_virials=False skips atom_virials and stresses (cheaper in MD)."""
        basis = self.model.basis
        species_index = basis.species_index(atoms.numbers)
        pairs = self.neighbour_list.pairs(atoms.positions, atoms.cell.array, atoms.pbc)
        n_atoms = len(atoms)
        energies = np.zeros(n_atoms)
        forces = np.zeros((n_atoms, 3))
        virial = np.zeros((3, 3))
        atom_virials = np.zeros((n_atoms, 3, 3)) if per_atom_virials else None
        self._evaluator.compute(
            pairs.vectors,
            np.ascontiguousarray(species_index[pairs.neighbours]),
            species_index,
            pairs.centre_offsets,
            pairs.centres,
            pairs.neighbours,
            energies,
            forces,
            virial,
            atom_virials,
            n_threads=self.n_threads,
        )
        result = PotentialResult(float(energies.sum()), energies, forces, virial, atom_virials)
        volume = cell_volume(atoms.cell.array)
        if volume > 1e-12:
            result.stress = stress_from_virial(virial, volume)
            result.stresses = None if atom_virials is None else stress_from_virial(atom_virials, volume)
        return result
