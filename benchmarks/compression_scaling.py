"""Fit cost against the number of elements S: compressed (K = 2, learned embedding, compressed centre
weights) vs element-resolved lepot models, on EMT data, S = 2..7.

    .venv/bin/python benchmarks/compression_scaling.py            (or: make bench)

Data: for each S, the first S of Al, Ni, Cu, Pd, Ag, Pt, Au; 60 random fcc solid solutions of 32 atoms
labelled with ASE's EMT (lepot.fitting.emt_data), 20 % held out for testing. Each fit runs `lepot fit`
in a fresh process; reported are its wall time, its peak resident memory (the process's ru_maxrss), the
number of features and weight columns, and the test errors. Same basis for both: cutoff 4.5 Å, LE
n_max 4, l_max 3, body order 3 with budget {3: 12}. The element-resolved model is fitted up to S = 4
only: its column count grows as S · (features ∝ S³) — 8400 columns at S = 5, 28 322 at S = 7, whose
triangular factor alone would take 6.4 GB — and the table says so instead of running it.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine_line

ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")
N_STRUCTURES, TEST_FRACTION = 60, 0.2
BASIS = dict(cutoff=4.5, cutoff_width=1.0, n_max=4, l_max=3, body_order=3, budgets={3: 12})
ELEMENT_RESOLVED_MAX_S = 4  # beyond this the element-resolved design has > 8000 columns (R factor > 0.5 GB)
VARIANTS = {
    "compressed K=2 (learned)": dict(compression=2, centre_weights="compressed",
                                     learn_embedding={"structures": 16, "iterations": 8}),
    "element-resolved": dict(),
}


def write_data(species, folder):
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    from lepot.fitting.emt_data import emt_alloy_structures

    frames = []
    for structure in emt_alloy_structures(species, N_STRUCTURES, seed=len(species)):
        atoms = structure.atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, energy=structure.energy, forces=structure.forces,
                                           stress=structure.stress)
        frames.append(atoms)
    n_test = int(TEST_FRACTION * len(frames))
    ase.io.write(folder / "train.extxyz", frames[n_test:])
    ase.io.write(folder / "test.extxyz", frames[:n_test])


def fit_worker(config_path):
    """Run one fit in this process and print its summary as JSON (called in a fresh subprocess)."""
    from lepot.fitting import fit

    start = time.perf_counter()
    result = fit(config_path, communicator=None, progress=False)
    errors = result.tables["test"]["all"]
    print(json.dumps(dict(
        seconds=time.perf_counter() - start,
        features=result.model.basis.n_features,
        columns=result.model.metadata["fit"]["solver"]["n_columns"],
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # this process's peak (KiB -> MiB)
        energy=errors["energy_meV_per_atom"]["mae"],
        forces=errors["forces_eV_per_A"]["mae"],
    )))


def run_fit(config, folder, name):
    import yaml

    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    completed = subprocess.run([sys.executable, __file__, "--worker", str(path)], capture_output=True, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="2"), check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        fit_worker(sys.argv[2])
        return
    print(machine_line())
    print(f"EMT fcc solid solutions, {N_STRUCTURES} structures of 32 atoms per S ({TEST_FRACTION:.0%} test); "
          f"basis {BASIS}\n")
    print("| S | model | features | columns (coefficients + E0) | fit time (s) | peak memory (MiB) | test E MAE (meV/atom) "
          "| test F MAE (eV/Å) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for n_species in range(2, len(ELEMENTS) + 1):
            species = list(ELEMENTS[:n_species])
            data = folder / f"S{n_species}"
            data.mkdir()
            write_data(species, data)
            for name, options in VARIANTS.items():
                if not options and n_species > ELEMENT_RESOLVED_MAX_S:
                    from lepot.calculator import build_basis

                    columns = n_species * build_basis(species, **BASIS).n_features
                    print(f"| {n_species} | {name} | {columns // n_species} | {columns} | not run | "
                          f"R factor alone {columns**2 * 8 / 2**30:.1f} GiB | | |", flush=True)
                    continue
                config = {
                    "species": species,
                    "data": {"train": str(data / "train.extxyz"), "test": str(data / "test.extxyz"),
                             "validation_fraction": 0.0},
                    "model": dict(BASIS, **options),
                    "output": {"model": str(data / f"{name.split()[0]}.json")},
                }
                result = run_fit(config, data, name.split()[0])
                print(f"| {n_species} | {name} | {result['features']} | {result['columns']} | {result['seconds']:.1f} "
                      f"| {result['peak_mib']:.0f} | {result['energy']:.2f} | {result['forces']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
