"""What the extrapolation grade costs in LAMMPS MD (target: <= 20 % of a step when computed every 10 steps).

    .venv/bin/python benchmarks/uncertainty_cost.py [--repeats 2]

The MD runs of benchmarks/lammps_md.py (2000-atom bcc Mo, 1728-atom diamond Si, NVE 300 K, 100 timed
steps, the shipped Mo.json / Si.json and their fast variants) without and with

    fix grade all pair N lepot grade 1
    compute worst all reduce max f_grade        (printed by thermo every 10 steps)

for N = 10 and N = 1, with `pair_style lepot uncertainty_precision double` (the default) and `single`, on 1
and 2 ranks, in the same run; µs per atom-step (best of --repeats) and the ratio to the plain run.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import crystal_lines, lammps_microseconds_per_atom_step, machine_line, nve_run_lines  # noqa: E402
from lammps_md import CELLS, STEPS, WARMUP  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def script(element, model, every, precision="double"):
    lattice, cells, _, mass = CELLS[element]
    grade = "" if every is None else (f"fix grade all pair {every} lepot grade 1\ncompute worst all reduce max f_grade\n"
                                      "thermo_style custom step pe c_worst\n")
    return f"""{crystal_lines(lattice, (cells, cells, cells), mass)}
pair_style lepot uncertainty_precision {precision}
pair_coeff * * {ROOT / 'potentials' / model} {element}
{grade}{nve_run_lines(WARMUP, STEPS)}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(machine_line())
    print("| file | ranks | plain µs/atom-step | precision | grade every 10 steps | ÷ plain | grade every step | ÷ plain |")
    print("|---|---|---|---|---|---|---|---|")
    for element, model in (("Mo", "Mo_fast.json"), ("Mo", "Mo.json"), ("Si", "Si_fast.json"), ("Si", "Si.json")):
        n_atoms = CELLS[element][2]
        for ranks in (1, 2):
            cases = [(None, "double")] + [(every, precision) for precision in ("double", "single") for every in (10, 1)]
            times = {case: min(lammps_microseconds_per_atom_step(script(element, model, *case), n_atoms, STEPS, ranks)
                               for _ in range(args.repeats)) for case in cases}
            plain = times[None, "double"]
            for precision in ("double", "single"):
                every_10, every_step = times[10, precision], times[1, precision]
                print(f"| {model} | {ranks} | {plain:.1f} | {precision} | {every_10:.1f} | {every_10 / plain:.3f} | "
                      f"{every_step:.1f} | {every_step / plain:.2f} |", flush=True)


if __name__ == "__main__":
    main()
