"""LAMMPS MD cost on a random quaternary Nb-Mo-Ta-W cell: the compressed lepot model vs the published SNAP.

    .venv/bin/python benchmarks/lammps_nbmotaw.py            (or: make bench)

2000-atom bcc cell (10 × 10 × 10 conventional cells, a = 3.22 Å), 500 atoms of each element placed at
random (LAMMPS `set type/subset`, fixed seeds), velocities for 300 K, NVE, 1 fs steps: 20 warm-up
steps, then 100 timed steps (LAMMPS's own "Loop time" of the second run), 1 and 2 MPI ranks
(OMP_NUM_THREADS=1), the venv's lmp / mpirun:
- lepot: potentials/NbMoTaW.json through the plugin;
- SNAP: Li et al. (2020), ../shared/data/nbmotaw/Ta-W-Nb-Mo.snapcoeff/.snapparam (2J = 6), pair_style snap.
Test MAE on the 8 quaternary cells of quaternary_test.extxyz is printed next to the cost: lepot's from its
file's metadata (its test group TaNbMoW is that file), SNAP's as measured by benchmarks/nbmotaw_accuracy.py
(= the data README's figure).
"""

import json
from pathlib import Path

from common import lammps_microseconds_per_atom_step, machine_line, nve_run_lines

ROOT = Path(__file__).resolve().parent.parent
SNAP_FOLDER = ROOT.parent / "shared" / "data" / "nbmotaw"
WARMUP, STEPS, N_ATOMS = 20, 100, 2000
# (energy meV/atom, force eV/Å) on quaternary_test.extxyz (README.md there; benchmarks/nbmotaw_accuracy.py)
SNAP_ACCURACY = (7.32, 0.186)


def pair_lines(name):
    if name == "SNAP":
        stem = SNAP_FOLDER / "Ta-W-Nb-Mo"
        return f"pair_style snap\npair_coeff * * {stem}.snapcoeff {stem}.snapparam Nb Mo Ta W"
    return f"pair_style lepot\npair_coeff * * {ROOT / 'potentials' / 'NbMoTaW.json'} Nb Mo Ta W"


def script(name):
    return f"""units metal
atom_style atomic
boundary p p p
lattice bcc 3.22
region box block 0 10 0 10 0 10
create_box 4 box
create_atoms 1 box
set type 1 type/subset 2 500 8811
set type 1 type/subset 3 500 8812
set type 1 type/subset 4 500 8813
mass 1 92.906
mass 2 95.95
mass 3 180.948
mass 4 183.84
{pair_lines(name)}
{nve_run_lines(WARMUP, STEPS)}"""


def measure(name, ranks):
    return lammps_microseconds_per_atom_step(script(name), N_ATOMS, STEPS, ranks)


def lepot_accuracy():
    errors = json.loads((ROOT / "potentials" / "NbMoTaW.json").read_text())["metadata"]["fit"]["errors"]["test"]
    return errors["TaNbMoW"]["energy_meV_per_atom"]["mae"], errors["TaNbMoW"]["forces_eV_per_A"]["mae"]


def main():
    accuracy = {"lepot NbMoTaW.json": lepot_accuracy(), "SNAP": SNAP_ACCURACY}
    print(machine_line())
    print(f"{N_ATOMS}-atom random equiatomic NbMoTaW bcc, NVE 300 K, {STEPS} timed steps after {WARMUP}; "
          "OMP_NUM_THREADS=1\n")
    print("| ranks | potential | µs/atom-step | SNAP time ÷ this | quaternary_test E / F MAE |")
    print("|---|---|---|---|---|")
    for ranks in (1, 2):
        times = {name: measure("SNAP" if name == "SNAP" else "lepot", ranks) for name in accuracy}
        for name, value in times.items():
            energy, forces = accuracy[name]
            print(f"| {ranks} | {name} | {value:.1f} | {times['SNAP'] / value:.2f} | {energy:.2f} meV/atom, {forces:.3f} eV/Å |")


if __name__ == "__main__":
    main()
