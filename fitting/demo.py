"""The main job behind `lepot demo`: descriptors and their gradients for a shipped structure.

Later stages (fit -> ASE relaxation -> LAMMPS MD) extend this as they land.
"""

import os
import time

import numpy as np

DEFAULT_DATA = os.path.join("examples", "data", "Mo_mlearn_sample.extxyz")


def _best_time(function, repeats=3):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def run_demo(data_path=None, n_threads=None):
    import ase.io

    from lepot.calculator import DescriptorCalculator, build_basis

    path = data_path or DEFAULT_DATA
    if not os.path.exists(path):
        raise SystemExit(f"lepot demo: data file {path!r} not found (run from the repository root, or pass --data)")
    structures = ase.io.read(path, ":")
    atoms = max(structures, key=len)
    species = sorted(set(atoms.get_chemical_symbols()))

    start = time.perf_counter()
    basis = build_basis(species, cutoff=5.0, n_max=6, l_max=4, body_order=2)
    build_time = time.perf_counter() - start
    calculator = DescriptorCalculator(basis, n_threads=n_threads)

    values_time = _best_time(lambda: calculator.compute(atoms))
    gradient_time = _best_time(lambda: calculator.compute(atoms, gradients=("positions", "strain")))
    result = calculator.compute(atoms, gradients=("positions", "strain"))

    print(f"lepot demo — descriptors of {atoms.get_chemical_formula()} ({len(atoms)} atoms) from {path}")
    print(f"  basis: species {', '.join(basis.symbols)}, r_c = {basis.cutoff} Å, LE n_l = {list(basis.radial.n_radial)}")
    print(f"         {basis.n_features} features by body order {basis.couplings.counts_by_body_order()}")
    print(f"         spline: {basis.spline.n_nodes} nodes, max relative error {basis.spline.max_relative_error:.1e}")
    print(f"         built in {build_time * 1e3:.0f} ms")
    print(f"  features of atom 0 (first 6): {np.array2string(result.values[0, :6], precision=5)}")
    print(f"  mean over atoms of |B|: {np.abs(result.values).mean():.5f}")
    print(f"  gradient samples: {len(result.gradient_samples)} (i, j) pairs")
    print(f"  time, features only:             {values_time * 1e3:8.2f} ms  ({len(atoms) / values_time:9.0f} atoms/s)")
    print(f"  time, features + position/strain: {gradient_time * 1e3:7.2f} ms  ({len(atoms) / gradient_time:9.0f} atoms/s)")
    return 0
