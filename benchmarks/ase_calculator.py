"""ASE calculator cost: energy + forces + stress per atom, lepot vs python-ace (PACE) vs featomic.

    .venv/bin/python benchmarks/ase_calculator.py            (or: make bench)

Structure: 1000-atom bcc Mo (10x10x10 primitive cells, a = 3.16 Å), rattled by σ = 0.05 Å.
Each (code, threads) runs in a fresh subprocess with OMP_NUM_THREADS / RAYON_NUM_THREADS set; the
time is the best of several full evaluations through the ASE calculator interface
(``calculate(atoms, ["energy", "forces", "stress"], all_changes)``, so no cache is involved),
neighbour list included.

- lepot: LepotCalculator on linear ν ≤ 2 models with random coefficients, cutoff 5 Å, at two sizes:
  the default (n_max 6, l_max 4: 77 features) and n_max 8, l_max 6 (172 features).
- PACE: python-ace's PyACECalculator, a linear-embedding (FinnisSinclair [1, 1]) ACE of rank ≤ 2
  (the same body order as lepot's ν ≤ 2), spherical-Bessel radial basis, cutoff 5 Å,
  nradmax [8, 7], lmax [0, 6] -> 204 functions, random coefficients.
- featomic: SoapPowerSpectrum with the LE basis of the 172-feature lepot model, features + position
  and strain gradients (what a descriptor-based potential would need per step), no contraction.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from common import best_time, machine_line

CUTOFF = 5.0
REPEATS = 5


def structure():
    from ase.build import bulk

    atoms = bulk("Mo", "bcc", a=3.16).repeat((10, 10, 10))
    atoms.rattle(stdev=0.05, seed=0)
    return atoms


def time_calculator(calculator, atoms):
    from ase.calculators.calculator import all_changes

    return best_time(lambda: calculator.calculate(atoms, ["energy", "forces", "stress"], all_changes), REPEATS)


def lepot_worker():
    from lepot.calculator import LepotCalculator, Model, build_basis

    rows = []
    for n_max, l_max in ((6, 4), (8, 6)):
        basis = build_basis(["Mo"], cutoff=CUTOFF, n_max=n_max, l_max=l_max, cutoff_width=1.0)
        coefficients = np.random.default_rng(0).normal(size=(1, basis.n_features))
        calculator = LepotCalculator(Model(basis, coefficients, [-10.0]))
        atoms = structure()
        rows.append(dict(label=f"lepot n_max={n_max} l_max={l_max}", size=basis.n_features,
                         seconds=time_calculator(calculator, atoms), atoms=len(atoms)))
    return rows


def pace_worker():
    from pyace import PyACECalculator, create_multispecies_basis_config

    config = {
        "deltaSplineBins": 0.001,
        "elements": ["Mo"],
        "embeddings": {"ALL": {"npot": "FinnisSinclair", "fs_parameters": [1, 1], "ndensity": 1}},
        "bonds": {"ALL": {"radbase": "SBessel", "radparameters": [5.25], "rcut": CUTOFF, "dcut": 0.01,
                          "NameOfCutoffFunction": "cos"}},
        "functions": {"ALL": {"nradmax_by_orders": [8, 7], "lmax_by_orders": [0, 6]}},
    }
    basis = create_multispecies_basis_config(config, func_coefs_initializer="random")
    calculator = PyACECalculator(basis)
    atoms = structure()
    return [dict(label="PACE (python-ace) rank<=2", size=basis.total_number_of_functions,
                 seconds=time_calculator(calculator, atoms), atoms=len(atoms))]


def featomic_worker():
    import featomic
    from featomic.basis import LaplacianEigenstate
    from featomic.cutoff import Cutoff, ShiftedCosine
    from featomic.density import DiracDelta
    from featomic.splines import SoapSpliner

    spliner = SoapSpliner(
        cutoff=Cutoff(radius=CUTOFF, smoothing=ShiftedCosine(width=1.0)),
        density=DiracDelta(center_atom_weight=0.0),
        basis=LaplacianEigenstate(radius=CUTOFF, max_radial=7, max_angular=6, spline_accuracy=1e-8),
    )
    calculator = featomic.SoapPowerSpectrum(**spliner.get_hypers())
    atoms = structure()
    size = calculator.compute(atoms).block().values.shape[1]
    seconds = best_time(lambda: calculator.compute(atoms, gradients=["positions", "strain"]), REPEATS)
    return [dict(label="featomic power spectrum + position/strain gradients", size=size, seconds=seconds,
                 atoms=len(atoms))]


WORKERS = {"lepot": lepot_worker, "pace": pace_worker, "featomic": featomic_worker}


def run_worker(code, threads):
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads))
    output = subprocess.run([sys.executable, __file__, "--worker", code], env=environment, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker]()))
        return
    print(machine_line())
    print(f"1000-atom rattled bcc Mo, cutoff {CUTOFF} Å, energy + forces + stress, best of {REPEATS}\n")
    print("| threads | code | features / functions | µs/atom | PACE µs/atom ÷ this |")
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        rows = run_worker("lepot", threads) + run_worker("pace", threads) + run_worker("featomic", threads)
        pace = next(r for r in rows if r["label"].startswith("PACE"))
        for row in rows:
            per_atom = row["seconds"] / row["atoms"] * 1e6
            ratio = pace["seconds"] / row["seconds"]
            print(f"| {threads} | {row['label']} | {row['size']} | {per_atom:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
