"""ASE calculator for lepot potentials.

    from lepot.calculator import LepotCalculator
    atoms.calc = LepotCalculator("Mo")              # a shipped potential, or a path to a parameter file
    atoms.get_potential_energy(); atoms.get_forces(); atoms.get_stress()

Properties (one evaluation computes all of them):
    energy, free_energy   eV (free_energy = energy: no electronic entropy in the model)
    energies              eV per atom, summing to energy
    forces                eV/Å
    stress                eV/Å³, Voigt (xx, yy, zz, yz, xz, xy), σ = (1/V) ∂E/∂ε, tensile positive
    stresses              eV/Å³ per atom, Voigt, summing to stress
stress and stresses need a cell with non-zero volume (any pbc); otherwise they are not available.

With a parameter file that stores the coefficients' posterior ("uncertainty", written by lepot fit;
docs/uncertainty.md), also, computed only when one of them is asked for (calc.get_property(name, atoms)):
    energy_uncertainty          eV, standard deviation of the predicted energy (calibrated on held-out energies)
    energies_uncertainty        eV per atom, standard deviation of each local energy (posterior and local noise)
    local_prediction_rigidity   eV⁻² per atom, LPR_i = 1 / (posterior variance of E_i at unit noise)
    extrapolation_grade         per atom, 1 at the median validation environment; ≫ 1 is extrapolation
and, only when asked for by name (it needs the descriptors' position gradients):
    forces_uncertainty          eV/Å [n_atoms][3], posterior standard deviation of each force component;
                                gauge-free, so the per-atom measure to use with several elements
"""

from pathlib import Path

from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from . import _evaluator
from .conventions import ASE_VOIGT, to_voigt
from .descriptors import DescriptorCalculator
from .model import Model, load_model
from .neighbours import cell_volume
from .potential import Potential
from .uncertainty import FORCE_UNCERTAINTY_PROPERTY, UNCERTAINTY_PROPERTIES


def resolve_model(model):
    """A Model from a Model, a parameter-file path, or the name of a shipped potential."""
    if isinstance(model, Model):
        return model
    candidate = Path(model)
    if candidate.exists():
        return load_model(candidate)
    if candidate.suffix == "" and len(candidate.parts) == 1:
        from lepot import potentials

        try:
            return load_model(potentials.path(str(model)))
        except ValueError as error:
            raise ValueError(f"{model!r} is neither a parameter file nor a shipped potential: {error}") from None
    raise ValueError(f"parameter file {str(model)!r} does not exist")


class LepotCalculator(Calculator):
    """ASE calculator for a lepot potential.

    model: a :class:`lepot.calculator.model.Model`, a path to a parameter file, or a shipped potential
    name (see ``lepot.potentials.available()``). n_threads: OpenMP threads (None: OMP_NUM_THREADS).
    skin: Å of Verlet skin; the neighbour list is rebuilt only when an atom has moved more than skin / 2
    or the cell changed (0: every call). Results do not depend on it.
    uncertainty_precision: the arithmetic of the posterior for the four per-structure and per-atom uncertainty
    properties, "double" (default, exact to round-off) or "single" (about twice as fast; |u|² within 1e-3
    relative), as pair_style lepot's keyword of the same name (docs/uncertainty.md).
    One evaluation gives energy, energies, forces and stress; per-atom stresses ("stresses") are computed
    when asked for (their per-pair tally costs ~30 % of a fast model's step), then with everything else.
    """

    implemented_properties = ("energy", "free_energy", "energies", "forces", "stress", "stresses",
                              *UNCERTAINTY_PROPERTIES, FORCE_UNCERTAINTY_PROPERTY)

    def __init__(self, model, n_threads=None, skin=0.3, uncertainty_precision="double", **kwargs):
        super().__init__(**kwargs)
        _evaluator.check_uncertainty_precision(uncertainty_precision)
        self.uncertainty_precision = uncertainty_precision
        self.model = resolve_model(model)
        self.potential = Potential(self.model, n_threads=n_threads, skin=skin)
        self.n_threads = n_threads
        self._descriptors = None  # a DescriptorCalculator, made when an uncertainty is first asked for

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if any(p in properties for p in ("stress", "stresses")) and cell_volume(self.atoms.cell.array) <= 1e-12:
            raise PropertyNotImplementedError("stress needs a cell with non-zero volume")
        result = self.potential.compute(self.atoms, per_atom_virials="stresses" in properties)
        self.results = {
            "energy": result.energy,
            "free_energy": result.energy,
            "energies": result.energies,
            "forces": result.forces,
        }
        if result.stress is not None:
            self.results["stress"] = to_voigt(result.stress, ASE_VOIGT)
        if result.stresses is not None:
            self.results["stresses"] = to_voigt(result.stresses, ASE_VOIGT)
        if any(p in UNCERTAINTY_PROPERTIES for p in properties):
            self.results.update(self._uncertainties())
        if FORCE_UNCERTAINTY_PROPERTY in properties:
            descriptors = self._descriptor_calculator().compute(self.atoms, gradients=("positions",))
            self.results[FORCE_UNCERTAINTY_PROPERTY] = self._posterior().force_uncertainties(
                self.model.basis.species_index(self.atoms.numbers), descriptors)

    def _uncertainties(self):
        values = self._descriptor_calculator().compute(self.atoms).values
        return self._posterior().evaluate(self.model.basis.species_index(self.atoms.numbers), values,
                                          self.uncertainty_precision)

    def _posterior(self):
        if self.model.uncertainty is None:
            raise PropertyNotImplementedError(
                "this parameter file stores no uncertainty ('uncertainty': null); refit it with lepot fit "
                "(output.uncertainty: true, the default)")
        return self.model.uncertainty

    def _descriptor_calculator(self):
        if self._descriptors is None:
            self._descriptors = DescriptorCalculator(self.model.basis, self.n_threads)
        return self._descriptors
