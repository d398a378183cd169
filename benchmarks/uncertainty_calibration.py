"""Are the shipped potentials' uncertainties calibrated on data they never saw, and do they flag extrapolation?

    .venv/bin/python benchmarks/uncertainty_calibration.py            (needs ../shared/data)

1. mlearn Mo and Si (Mo_fast, Mo, Si_fast, Si): on the test sets, the share of test energies inside the
   predicted 95 % intervals (target 85–99 %) and Spearman's rank correlation between the predicted
   σ_E/N and the actual |error|/N per structure (target >= 0.5). The posteriors were calibrated by lepot fit
   on held-out training data only (the validation split and the training structures left out in turn).
   The same files' force uncertainty σ_F (ASE's forces_uncertainty) against their force errors, on the
   validation split of their fit (examples/fit_<name>.yaml; what a choice would be made on) and on the test
   set: Spearman's rank correlation between each structure's RMS σ_F and its force RMSE, and the share of
   force components with |error| <= 1.96 σ_F (σ_F's own scale α_F² calibrated on held-out forces; files of
   format_version 4 used the energies' α²).
2. The extrapolation study: examples/fit_NbMoTaW_binaries.yaml (the NbMoTaW settings fitted on elements and
   binaries only; fitted into benchmarks/output/ first when that file is missing, ~3 min): σ_E/N and the
   extrapolation grade per config_type group of ../shared/data/nbmotaw/test.extxyz, and the force uncertainty
   σ_F (ASE's forces_uncertainty: each structure's largest per-atom |σ_F|, the group's median of those); the
   16 quaternary TaNbMoW cells against the median of the binary groups (target: >= 10x). Then the same table for the shipped
   NbMoTaW.json, fitted with quaternary_train.extxyz, on test.extxyz's elements and binaries and on
   quaternary_test.extxyz.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.calculator import load_model  # noqa: E402
from lepot.fitting.data import read_structures  # noqa: E402
from lepot.fitting.uncertainty_eval import calibration_summary, structure_uncertainties  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def mlearn_table():
    print("| potential | test structures | 95 % interval coverage | rank correlation σ/N–|error|/N | "
          "median grade | max grade | posterior scale | local variance scale | energy noise (meV/atom) | "
          "per-atom energy noise (meV) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ("Mo_fast", "Mo", "Si_fast", "Si"):
        model = load_model(ROOT / "potentials" / f"{name}.json")
        element = name.split("_")[0]
        summary = calibration_summary(structure_uncertainties(model, read_structures(DATA / "mlearn" / element / "test.extxyz")))
        posterior = model.uncertainty
        print(f"| {name}.json | {summary['labelled']} | {summary['coverage_95']:.3f} | {summary['rank_correlation']:.3f} | "
              f"{summary['median_grade']:.3g} | {summary['max_grade']:.3g} | {posterior.posterior_scale:.3g} | "
              f"{posterior.local_variance_scale:.3g} | {1e3 * posterior.energy_noise:.3g} | "
              f"{1e3 * posterior.atom_energy_noise:.3g} |")


def mlearn_force_table():
    from lepot.fitting.fit import as_config, load_data

    print("| potential | split | structures | rank correlation RMS σ_F–force RMSE | force components within 1.96 σ_F |")
    print("|---|---|---|---|---|")
    for name in ("Mo_fast", "Mo", "Si_fast", "Si"):
        model = load_model(ROOT / "potentials" / f"{name}.json")
        splits = load_data(as_config(ROOT / "examples" / f"fit_{name}.yaml")).splits
        for split in ("validation", "test"):
            summary = calibration_summary(structure_uncertainties(model, splits[split], forces=True))
            print(f"| {name}.json | {split} | {len(splits[split])} | {summary['force_rank_correlation']:.3f} | "
                  f"{summary['force_coverage_95']:.3f} |", flush=True)


def binaries_only_model():
    """The extrapolation study's model (examples/fit_NbMoTaW_binaries.yaml), fitted when missing."""
    path = ROOT / "benchmarks" / "output" / "NbMoTaW_binaries.json"
    if not path.exists():
        from lepot.fitting.fit import fit  # the submodule's function (mlearn_force_table imported the submodule)

        path.parent.mkdir(parents=True, exist_ok=True)
        fit(ROOT / "examples" / "fit_NbMoTaW_binaries.yaml", communicator=None, progress=False)
    return path


def nbmotaw_table(path, test_files):
    model = load_model(path)
    structures = read_structures(test_files)
    records = structure_uncertainties(model, structures, forces=True)
    groups = {}
    for structure, record in zip(structures, records):
        largest = float(np.linalg.norm(record.forces_uncertainty, axis=1).max())  # eV/Å, the least pinned atom's |σ_F|
        groups.setdefault(structure.config_type, []).append((record, largest))
    print("| group | structures | median σ_E/N (meV/atom) | median |error|/N (meV/atom) | median grade | max grade "
          "| median of max |σ_F| (eV/Å) |")
    print("|---|---|---|---|---|---|---|")
    medians = {}
    for group, members in sorted(groups.items()):
        sigma = np.array([r.energy_uncertainty / r.n_atoms for r, _ in members]) * 1e3
        error = np.array([abs(r.energy - r.reference_energy) / r.n_atoms for r, _ in members]) * 1e3
        grades = np.concatenate([r.extrapolation_grade for r, _ in members])
        force_sigma = np.median([f for _, f in members])
        medians[group] = (float(np.median(sigma)), float(np.median(grades)), float(force_sigma))
        print(f"| {group} | {len(members)} | {np.median(sigma):.3g} | {np.median(error):.3g} | {np.median(grades):.3g} | "
              f"{grades.max():.3g} | {force_sigma:.3g} |")
    binaries = [g for g in groups if "-" in g]  # the binary solid solutions, e.g. "Ta-Mo"
    binary_sigma = np.median([medians[g][0] for g in binaries])
    binary_grade = np.median([medians[g][1] for g in binaries])
    binary_force = np.median([medians[g][2] for g in binaries])
    print(f"\nbinary groups {binaries}: median of their σ_E/N medians {binary_sigma:.3g} meV/atom, of their grade medians "
          f"{binary_grade:.3g}, of their max-|σ_F| medians {binary_force:.3g} eV/Å")
    quaternary = medians["TaNbMoW"]
    print(f"quaternary TaNbMoW: σ_E/N {quaternary[0]:.3g} meV/atom = {quaternary[0] / binary_sigma:.1f}x the binaries'; "
          f"grade {quaternary[1]:.3g} = {quaternary[1] / binary_grade:.1f}x; max |σ_F| {quaternary[2]:.3g} eV/Å = "
          f"{quaternary[2] / binary_force:.1f}x")


if __name__ == "__main__":
    print(machine_line())
    mlearn_table()
    print()
    mlearn_force_table()
    print()
    binaries_only = binaries_only_model()
    print(f"{binaries_only.name} (elements and binaries only), test.extxyz:\n")
    nbmotaw_table(binaries_only, DATA / "nbmotaw" / "test.extxyz")
    print("\nNbMoTaW.json (with quaternary_train.extxyz), test.extxyz without its quaternary cells + quaternary_test.extxyz:\n")
    nbmotaw_table(ROOT / "potentials" / "NbMoTaW.json",
                  [DATA / "nbmotaw" / "test.extxyz@:110", DATA / "nbmotaw" / "test.extxyz@126:",
                   DATA / "nbmotaw" / "quaternary_test.extxyz"])
