"""Active learning on mlearn Mo: does `lepot select` reach an error with fewer structures than random picks?

    .venv/bin/python benchmarks/active_learning.py [--seeds 3] [--rounds 6] [--config examples/fit_Mo_fast.yaml]
                                                   [--methods variance energy information random]
                                                   [--plot benchmarks/active_learning_Mo.png]

20 % of the mlearn Mo training set (seeded) is held out as validation data; the rest is the pool. Start from
20 pool structures chosen at random (per seed); each round fit with the config's settings (all labelled
structures train; the posterior is then calibrated by the fit's own noise, which selection does not use),
then add 20 more of the pool, chosen by lepot.fitting.selection.select_structures with criterion
"variance", "energy" or "information", or at random (same seed). Printed: validation and test energy and force MAE
per training-set size, averaged over seeds; drawn: benchmarks/active_learning_Mo.png (validation and test).
The default criterion of `lepot select` is chosen on the validation curves; the test set only scores.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import ase.io  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.fitting import fit  # noqa: E402
from lepot.fitting.data import read_structures  # noqa: E402
from lepot.fitting.metrics import error_table, predict  # noqa: E402
from lepot.fitting.selection import labelled_atoms, select_structures  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "mlearn" / "Mo"
START, STEP = 20, 20
VALIDATION_SEED = 1234


def fit_on(structures, settings, folder, validation):
    """(validation E MAE, validation F MAE, test E MAE, test F MAE) (meV/atom, eV/Å) and the model of a fit of
    ``settings`` on ``structures``."""
    train = Path(folder) / "train.extxyz"
    ase.io.write(train, [labelled_atoms(s) for s in structures], format="extxyz")
    config = dict(settings)
    config["data"] = dict(settings["data"], train=str(train), test=str(DATA / "test.extxyz"), validation=None,
                          validation_fraction=0.0)
    config["output"] = {"model": str(Path(folder) / "model.json")}
    result = fit(config, communicator=None, progress=False)
    scores = []
    for table in (error_table(predict(result.model, validation))["all"], result.tables["test"]["all"]):
        scores += [table["energy_meV_per_atom"]["mae"], table["forces_eV_per_A"]["mae"]]
    return tuple(scores), result.model


def learning_curve(pool, validation, settings, seed, rounds, method, folder):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    chosen, rest = list(order[:START]), list(order[START:])
    curve = []
    for round_index in range(rounds):
        errors, model = fit_on([pool[k] for k in chosen], settings, folder, validation)
        curve.append((len(chosen), *errors))
        if round_index == rounds - 1 or not rest:
            break
        if method != "random":
            picked = [rest[k] for k in select_structures(model, [pool[k] for k in rest], STEP, method).indices]
        else:
            picked = list(rng.choice(rest, size=min(STEP, len(rest)), replace=False))
        chosen += picked
        rest = [k for k in rest if k not in set(picked)]
    return curve


METHODS = {"variance": "tab:blue", "energy": "tab:purple", "information": "tab:green", "random": "tab:orange"}


def plot(curves, path, config):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(9, 6.4), sharex=True)
    panels = ((1, "validation energy MAE (meV/atom)"), (2, "validation force MAE (eV/Å)"),
              (3, "test energy MAE (meV/atom)"), (4, "test force MAE (eV/Å)"))
    for (column, label), axis in zip(panels, axes.reshape(-1)):
        for method, runs in curves.items():
            colour = METHODS[method]
            runs = np.array(runs)  # shape [seeds][rounds][5]
            sizes = runs[0, :, 0]
            for run in runs:
                axis.plot(sizes, run[:, column], color=colour, alpha=0.2, lw=1)
            name = "random" if method == "random" else f"lepot select ({method})"
            axis.plot(sizes, runs[:, :, column].mean(axis=0), color=colour, lw=2, marker="o", ms=3,
                      label=f"{name}, mean of {len(runs)} seeds")
        axis.set_ylabel(label)
        axis.set_yscale("log")
    for axis in axes[1]:
        axis.set_xlabel("training structures")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(f"Active learning on mlearn Mo ({config} settings)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--config", default=str(ROOT / "examples" / "fit_Mo_fast.yaml"))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="selection criteria to compare (random: the baseline)")
    parser.add_argument("--plot", default=str(ROOT / "benchmarks" / "active_learning_Mo.png"))
    args = parser.parse_args()
    settings = yaml.safe_load(Path(args.config).read_text())
    settings.pop("output", None)
    structures = read_structures(DATA / "train.extxyz")
    held_out = set(np.random.default_rng(VALIDATION_SEED).permutation(len(structures))[: len(structures) // 5].tolist())
    validation = [s for k, s in enumerate(structures) if k in held_out]
    pool = [s for k, s in enumerate(structures) if k not in held_out]
    print(machine_line())
    print(f"pool: {len(pool)} structures of {DATA / 'train.extxyz'}, {len(validation)} held out for validation; "
          f"settings {args.config}")
    methods = [method for method in METHODS if method in args.methods]
    curves = {method: [] for method in methods}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            for method in curves:
                curve = learning_curve(pool, validation, settings, seed, args.rounds, method, folder)
                curves[method].append(curve)
                print(f"seed {seed} {method}: " + ", ".join(
                    f"{int(c[0])}: val {c[1]:.2f}/{c[2]:.4f} test {c[3]:.2f}/{c[4]:.4f}" for c in curve), flush=True)
    for split, offset in (("validation", 1), ("test", 3)):
        print(f"\n{split}, mean over {args.seeds} seeds (energy MAE meV/atom / force MAE eV/Å):\n")
        print("| structures | " + " | ".join(methods) + " |")
        print("|---|" + "---|" * len(methods))
        means = {method: np.array(curves[method]).mean(axis=0) for method in methods}
        for r in range(len(means[methods[0]])):
            print(f"| {int(means[methods[0]][r][0])} | " + " | ".join(
                f"{means[m][r][offset]:.2f} / {means[m][r][offset + 1]:.4f}" for m in methods) + " |")
    plot(curves, args.plot, Path(args.config).name)
    print(f"\ndrew {args.plot}")


if __name__ == "__main__":
    main()
