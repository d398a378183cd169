"""The ASE calculator against the LAMMPS plugin: per-atom cost of the same parameter file, same run.

    .venv/bin/python benchmarks/ase_vs_plugin.py [FILE ...]     (default: the shipped Mo and Si files)

For each file, on the cell of benchmarks/lammps_md.py (2000-atom bcc Mo, 1728-atom diamond Si), one thread:
- plugin: LAMMPS NVE at 300 K, µs per atom-step from LAMMPS's own loop time (neighbour lists, forces,
  integration: what an MD user pays), as in lammps_md.py;
- ASE MD: the same NVE run with ASE's VelocityVerlet and LepotCalculator (Verlet skin 0.3 Å, the
  default), 1 fs, 300 K, µs per atom-step over 40 steps after 10 warm-up steps (forces and energy each
  step, as ASE's integrator asks);
- ASE single point: energy + forces + stress of a fresh structure (skin 0: the neighbour list built every
  call), best of 5, µs per atom — what a relaxation or a data-set evaluation pays per call.
The ratio ASE MD ÷ plugin is what the issue bounds (≤ 1.5×).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402
from lammps_md import CELLS, measure  # noqa: E402

from lepot.calculator import LepotCalculator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = ["Mo_fast.json", "Mo.json", "Si_fast.json", "Si.json"]


def crystal(element):
    lattice, cells, _, _ = CELLS[element]
    kind, a = lattice.split()
    atoms = bulk(element, kind, a=float(a), cubic=True).repeat(cells)
    atoms.rattle(0.05, seed=1)
    return atoms


def ase_md_microseconds_per_atom_step(path, element, warmup=10, steps=40):
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = crystal(element)
    atoms.calc = LepotCalculator(str(path))
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(4928459))
    dynamics = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dynamics.run(warmup)
    start = time.perf_counter()
    dynamics.run(steps)
    return (time.perf_counter() - start) / (steps * len(atoms)) * 1e6


def ase_single_point_microseconds_per_atom(path, element):
    atoms = crystal(element)
    calculator = LepotCalculator(str(path), skin=0.0)
    best = np.inf
    for _ in range(6):
        calculator.reset()
        start = time.perf_counter()
        calculator.calculate(atoms, ["energy", "forces", "stress"], [])
        best = min(best, time.perf_counter() - start)
    return best / len(atoms) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    arguments = parser.parse_args()
    files = [Path(f) for f in arguments.files] or [ROOT / "potentials" / name for name in DEFAULT_FILES]
    print(machine_line())
    print("| file | plugin MD µs/atom-step | ASE MD µs/atom-step | ASE MD ÷ plugin | ASE single point µs/atom |")
    print("|---|---|---|---|---|")
    for path in files:
        element = json.loads(path.read_text())["species"][0]
        plugin = measure(element, path.resolve(), 1)
        md = ase_md_microseconds_per_atom_step(path, element)
        single = ase_single_point_microseconds_per_atom(path, element)
        print(f"| {path.name} | {plugin:.1f} | {md:.1f} | {md / plugin:.2f} | {single:.1f} |")


if __name__ == "__main__":
    main()
