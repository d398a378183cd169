"""Uncertainties of a model on labelled or unlabelled structures (`lepot eval --uncertainty`), and how well
they are calibrated where reference energies exist (docs/uncertainty.md).

Per structure: the predicted energy, its standard deviation σ_E (eV) and, per atom, the local-energy
standard deviation, the local prediction rigidity and the extrapolation grade, all from the ASE
calculator (lepot.calculator.ase), so that eval, select and ASE runs compute them the same way; when asked
(it needs the descriptors' position gradients), also the predicted forces and their uncertainty σ_F.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from lepot.calculator import LepotCalculator
from lepot.calculator.uncertainty import FORCE_UNCERTAINTY_PROPERTY, UNCERTAINTY_PROPERTIES

INTERVAL_Z = 1.959963984540054  # two-sided 95 % interval of a normal distribution


@dataclass
class StructureUncertainty:
    energy: float  # eV, predicted
    energy_uncertainty: float  # eV, σ_E
    energies_uncertainty: np.ndarray  # [n_atoms] eV
    local_prediction_rigidity: np.ndarray  # [n_atoms] eV⁻²
    extrapolation_grade: np.ndarray  # [n_atoms]
    reference_energy: float = None  # eV, from the data when it has one
    forces: np.ndarray = None  # [n_atoms][3] eV/Å, predicted (with forces_uncertainty only)
    forces_uncertainty: np.ndarray = None  # [n_atoms][3] eV/Å, σ_F (when asked for)
    reference_forces: np.ndarray = None  # [n_atoms][3] eV/Å, from the data when it has them

    @property
    def n_atoms(self):
        return len(self.extrapolation_grade)


def structure_uncertainties(model, structures, progress=None, forces=False):
    """[StructureUncertainty] of lepot.fitting.data Structures (or ase.Atoms) under ``model``; with ``forces``
    also the predicted forces and σ_F."""
    calculator = LepotCalculator(model, skin=0.0)
    out = []
    extra = (FORCE_UNCERTAINTY_PROPERTY,) if forces else ()
    for structure in structures:
        atoms = getattr(structure, "atoms", structure)
        calculator.calculate(atoms, ("energy",) + UNCERTAINTY_PROPERTIES + extra)
        results = calculator.results
        out.append(StructureUncertainty(
            results["energy"], results["energy_uncertainty"], results["energies_uncertainty"].copy(),
            results["local_prediction_rigidity"].copy(), results["extrapolation_grade"].copy(),
            getattr(structure, "energy", None),
            results["forces"].copy() if forces else None,
            results[FORCE_UNCERTAINTY_PROPERTY].copy() if forces else None,
            getattr(structure, "forces", None) if forces else None))
        if progress is not None:
            progress.update(1)
    return out


def calibration_summary(records):
    """{structures, coverage_95, rank_correlation, median_grade, max_grade, force_coverage_95,
    force_rank_correlation}: the share of reference energies inside the predicted 95 % intervals and
    Spearman's rank correlation between σ_E/N and |error|/N, over the records that have a reference energy
    (None without any); grades over all atoms; for records with σ_F and reference forces, the share of force
    components inside their 95 % intervals and the rank correlation of each structure's RMS σ_F with its
    force RMSE (None without any)."""
    grades = np.concatenate([r.extrapolation_grade for r in records]) if records else np.zeros(0)
    labelled = [r for r in records if r.reference_energy is not None]
    summary = {"structures": len(records), "labelled": len(labelled), "coverage_95": None, "rank_correlation": None,
               "median_grade": float(np.median(grades)) if grades.size else None,
               "max_grade": float(grades.max()) if grades.size else None}
    if labelled:
        errors = np.array([abs(r.energy - r.reference_energy) for r in labelled])
        sigmas = np.array([r.energy_uncertainty for r in labelled])
        atoms = np.array([r.n_atoms for r in labelled])
        summary["coverage_95"] = float(np.mean(errors <= INTERVAL_Z * sigmas))
        if len(labelled) > 2:
            summary["rank_correlation"] = float(spearmanr(sigmas / atoms, errors / atoms).correlation)
    with_forces = [r for r in records if r.forces_uncertainty is not None and r.reference_forces is not None]
    summary["force_coverage_95"] = summary["force_rank_correlation"] = None
    if with_forces:
        errors = [r.forces - r.reference_forces for r in with_forces]
        summary["force_coverage_95"] = float(np.mean(np.concatenate(
            [(np.abs(e) <= INTERVAL_Z * r.forces_uncertainty).reshape(-1) for e, r in zip(errors, with_forces)])))
        if len(with_forces) > 2:
            summary["force_rank_correlation"] = float(spearmanr(
                [np.sqrt(np.mean(r.forces_uncertainty**2)) for r in with_forces],
                [np.sqrt(np.mean(e**2)) for e in errors]).correlation)
    return summary


def format_summaries(summaries):
    """Text table of {file: calibration_summary}."""
    lines = ["| data | structures | with energies | 95 % interval coverage | rank correlation σ–error | "
             "median grade | max grade | force 95 % coverage | rank correlation σ_F–force error |",
             "|---|---|---|---|---|---|---|---|---|"]

    def show(value, pattern):
        return "–" if value is None else pattern.format(value)

    for path, s in summaries.items():
        lines.append(f"| {path} | {s['structures']} | {s['labelled']} | {show(s['coverage_95'], '{:.3f}')} | "
                     f"{show(s['rank_correlation'], '{:.3f}')} | {show(s['median_grade'], '{:.3g}')} | "
                     f"{show(s['max_grade'], '{:.3g}')} | {show(s['force_coverage_95'], '{:.3f}')} | "
                     f"{show(s['force_rank_correlation'], '{:.3f}')} |")
    return "\n".join(lines)
