"""Descriptor throughput: lepot vs featomic's LE SOAP power spectrum, side by side in one run.

    .venv/bin/python benchmarks/descriptors.py            (or: make bench)

Both codes get the same structures (rattled bcc Mo, 128 and 1024 atoms, a = 3.16 Å, σ = 0.05 Å),
the same cutoff (5 Å, shifted-cosine smoothing over 1 Å) and the same LE radial/angular sizes
(lepot n_max = N, l_max = L  <->  featomic LaplacianEigenstate(max_radial = N - 1, max_angular = L),
Dirac-delta density, i.e. the LE functions evaluated at the neighbour distances, as lepot does).
Each (code, threads) combination runs in a fresh subprocess with OMP_NUM_THREADS / RAYON_NUM_THREADS
set, so thread pools are sized before import. Reported: atoms/s for features alone and for
features + position gradients (best of several repeats after a warm-up), and their ratio.
featomic's power spectrum keeps every (n1, n2) pair while lepot keeps n1 <= n2, so featomic
computes more numbers per atom; the table gives both feature counts.
"""

import argparse
import json
import os
import subprocess
import sys

from common import best_time, machine_line

CUTOFF = 5.0
WIDTH = 1.0
N_MAX = 8
L_MAX = 6
SIZES = (128, 1024)
REPEATS = 5


def bcc_mo(n_atoms, seed=0):
    from ase.build import bulk

    repeat = round((n_atoms / 2) ** (1 / 3))
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(repeat)
    assert len(atoms) == n_atoms
    atoms.rattle(stdev=0.05, seed=seed)
    return atoms


def lepot_worker():
    from lepot.calculator import DescriptorCalculator, build_basis

    calculator = DescriptorCalculator(build_basis(["Mo"], cutoff=CUTOFF, n_max=N_MAX, l_max=L_MAX, cutoff_width=WIDTH))
    rows = []
    for n in SIZES:
        atoms = bcc_mo(n)
        rows.append(
            dict(
                atoms=n,
                features=calculator.basis.n_features,
                values=best_time(lambda: calculator.compute(atoms), REPEATS),
                gradients=best_time(lambda: calculator.compute(atoms, gradients=("positions",)), REPEATS),
            )
        )
    return rows


def featomic_worker():
    import featomic
    from featomic.basis import LaplacianEigenstate
    from featomic.cutoff import Cutoff, ShiftedCosine
    from featomic.density import DiracDelta
    from featomic.splines import SoapSpliner

    cutoff = Cutoff(radius=CUTOFF, smoothing=ShiftedCosine(width=WIDTH))
    density = DiracDelta(center_atom_weight=0.0)
    basis = LaplacianEigenstate(radius=CUTOFF, max_radial=N_MAX - 1, max_angular=L_MAX, spline_accuracy=1e-8)
    spliner = SoapSpliner(cutoff=cutoff, density=density, basis=basis)
    calculator = featomic.SoapPowerSpectrum(**spliner.get_hypers())
    rows = []
    for n in SIZES:
        atoms = bcc_mo(n)
        n_features = calculator.compute(atoms).block().values.shape[1]
        rows.append(
            dict(
                atoms=n,
                features=n_features,
                values=best_time(lambda: calculator.compute(atoms), REPEATS),
                gradients=best_time(lambda: calculator.compute(atoms, gradients=["positions"]), REPEATS),
            )
        )
    return rows


def run_worker(code, threads):
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads))
    output = subprocess.run(
        [sys.executable, __file__, "--worker", code], env=environment, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["lepot", "featomic"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        rows = lepot_worker() if args.worker == "lepot" else featomic_worker()
        print(json.dumps(rows))
        return

    print(machine_line())
    print(f"settings: cutoff {CUTOFF} Å, width {WIDTH} Å, LE n_max {N_MAX}, l_max {L_MAX}; best of {REPEATS}\n")
    print("| atoms | threads | lepot features | featomic features | lepot atoms/s (values) | featomic atoms/s (values) "
          "| ratio | lepot atoms/s (+gradients) | featomic atoms/s (+gradients) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in (1, 2):
        lepot_rows = run_worker("lepot", threads)
        featomic_rows = run_worker("featomic", threads)
        for ours, theirs in zip(lepot_rows, featomic_rows):
            n = ours["atoms"]
            print(
                f"| {n} | {threads} | {ours['features']} | {theirs['features']} "
                f"| {n / ours['values']:.0f} | {n / theirs['values']:.0f} | {theirs['values'] / ours['values']:.1f}× "
                f"| {n / ours['gradients']:.0f} | {n / theirs['gradients']:.0f} "
                f"| {theirs['gradients'] / ours['gradients']:.1f}× |"
            )


if __name__ == "__main__":
    main()
