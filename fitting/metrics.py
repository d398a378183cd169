"""Error metrics of a model's predictions on structures (RMSE, MAE): the tables of `lepot fit` reports and
`lepot eval`. (The exceptions of lepot are the classes named *Error: ConfigError, DataError,
FitMemoryError, ModelFileError.)

Units: energy errors in meV/atom (per-atom energies), forces in eV/Å (per Cartesian component),
stress in GPa (per Voigt component, ASE sign). RMSE and MAE per group: "all" and each config_type.
"""

from dataclasses import dataclass, field

import numpy as np

from lepot.calculator import Potential
from lepot.calculator.conventions import ASE_VOIGT

GPA_PER_EV_PER_A3 = 160.21766208


@dataclass
class Residuals:
    """Reference and predicted values of one group of structures."""

    n_structures: int = 0
    n_atoms: int = 0
    energy: list = field(default_factory=list)  # (reference, predicted) eV/atom
    forces: list = field(default_factory=list)  # (reference [k], predicted [k]) eV/Å
    stress: list = field(default_factory=list)  # (reference [6], predicted [6]) GPa

    def add(self, other):
        self.n_structures += other.n_structures
        self.n_atoms += other.n_atoms
        self.energy += other.energy
        self.forces += other.forces
        self.stress += other.stress


def predict(model, structures, progress=None):
    """{config_type: Residuals} for ``structures`` (targets missing in the data are skipped)."""
    potential = Potential(model, skin=0.0)  # a new structure each call
    groups = {}
    for structure in structures:
        result = potential.compute(structure.atoms)
        n = structure.n_atoms
        group = groups.setdefault(structure.config_type, Residuals())
        group.n_structures += 1
        group.n_atoms += n
        if structure.energy is not None:
            group.energy.append((structure.energy / n, result.energy / n))
        if structure.forces is not None:
            group.forces.append((structure.forces.reshape(-1), result.forces.reshape(-1)))
        if structure.stress is not None and result.stress is not None:
            reference = np.array([structure.stress[a, b] for a, b in ASE_VOIGT]) * GPA_PER_EV_PER_A3
            predicted = np.array([result.stress[a, b] for a, b in ASE_VOIGT]) * GPA_PER_EV_PER_A3
            group.stress.append((reference, predicted))
        if progress is not None:
            progress.update(1)
    return groups


def _statistics(pairs, scale=1.0):
    if not pairs:
        return None
    reference = np.concatenate([np.atleast_1d(p[0]) for p in pairs])
    predicted = np.concatenate([np.atleast_1d(p[1]) for p in pairs])
    error = (predicted - reference) * scale
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error))), "count": int(error.size)}


def error_table(groups):
    """{group: {n_structures, n_atoms, energy, forces, stress}} with 'all' first; each entry
    {rmse, mae, count} or None when the data has no such target."""
    total = Residuals()
    for residuals in groups.values():
        total.add(residuals)
    table = {}
    for name, residuals in [("all", total)] + sorted(groups.items()):
        table[name] = {
            "n_structures": residuals.n_structures,
            "n_atoms": residuals.n_atoms,
            "energy_meV_per_atom": _statistics(residuals.energy, 1000.0),
            "forces_eV_per_A": _statistics(residuals.forces),
            "stress_GPa": _statistics(residuals.stress),
        }
    return table


def format_tables(tables):
    """Markdown table of {split: error_table}: one line per split and group."""
    lines = [
        "| split | group | structures | atoms | E RMSE (meV/atom) | E MAE (meV/atom) | F RMSE (eV/Å) | F MAE (eV/Å) "
        "| σ RMSE (GPa) | σ MAE (GPa) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(entry, key, digits):
        return "–" if entry is None else f"{entry[key]:.{digits}f}"

    for split, table in tables.items():
        for group, row in table.items():
            e, f, s = row["energy_meV_per_atom"], row["forces_eV_per_A"], row["stress_GPa"]
            lines.append(
                f"| {split} | {group} | {row['n_structures']} | {row['n_atoms']} | {cell(e, 'rmse', 2)} | "
                f"{cell(e, 'mae', 2)} | {cell(f, 'rmse', 4)} | {cell(f, 'mae', 4)} | {cell(s, 'rmse', 3)} | "
                f"{cell(s, 'mae', 3)} |"
            )
    return "\n".join(lines)
