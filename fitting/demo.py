"""The main job behind `lepot demo` (README's first command), run from the repository root:

1. fit a small Mo potential on the structures shipped in examples/data (examples/fit_demo.yaml),
2. print its errors on the shipped mlearn Mo test set,
3. relax a rattled, strained bcc Mo cell with ASE (BFGS + FrechetCellFilter) and report the lattice
   constant, cohesive-energy-like per-atom energy and the timing of the calculator,
4. print a summary.
The LAMMPS stage is added with the LAMMPS plugin.
"""

import os
import time
import warnings

import numpy as np

CONFIG = os.path.join("examples", "fit_demo.yaml")


def run_demo(n_threads=None):
    from ase.build import bulk
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    from lepot.calculator import LepotCalculator

    from .errors import format_tables
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

    test = result.tables.get("test", {}).get("all")
    print("\n== summary")
    print(f"potential: {result.model.basis.n_features} features, "
          f"{result.solution.effective_parameters:.0f} effective parameters, fitted in {fit_seconds:.1f} s")
    if test:
        print(f"test set:  energy MAE {test['energy_meV_per_atom']['mae']:.2f} meV/atom, "
              f"force MAE {test['forces_eV_per_A']['mae']:.3f} eV/Å ({test['n_structures']} structures)")
    print(f"ASE:       bcc Mo a = {lattice:.4f} Å after {optimiser.nsteps} BFGS steps")
    if not converged:
        raise ValueError("the ASE relaxation did not converge")
