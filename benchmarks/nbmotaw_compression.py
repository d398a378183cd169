"""Accuracy against the number of pseudo-elements K on Nb-Mo-Ta-W, with the quaternary training cells.

    .venv/bin/python benchmarks/nbmotaw_compression.py [--body-orders 2 3] [--folder DIR [--tabulate-only]]

Needs ../shared/data/nbmotaw. Every fit is examples/fit_NbMoTaW.yaml (train.extxyz + quaternary_train.extxyz,
validation by config_type, the same weights and solver) with a smaller radial-angular basis (n_max 4, l_max 3,
body-order-3 budget 12) so that K = 4 and the element-resolved model fit on 2 cores, and for each body order
ν ≤ 2 (3-body) and ν ≤ 3 (4-body): K = 1, 2, 3, 4 (learned embedding, compressed centre weights) and the
element-resolved model (no compression, per-species centre weights). With four elements a learned K = 4
embedding spans the same features as the element-resolved one; the two differ by the ridge's scaling.

Printed: validation and test MAE (energy meV/atom / forces eV/Å), for the elements and binaries together and
for the quaternary cells (validation: the quaternary_train cell held out; test: quaternary_test.extxyz), the
column count and the fit time; plotted to benchmarks/nbmotaw_accuracy_against_k.png. Settings are compared
on validation; the test columns are reported, not used.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import machine_line

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "nbmotaw"
SMALL_BASIS = {"n_max": 4, "l_max": 3, "budgets": {3: 12}}
QUATERNARY = "TaNbMoW"


def config_for(body_order, compression, folder):
    config = yaml.safe_load((ROOT / "examples" / "fit_NbMoTaW.yaml").read_text())
    config["data"].update(
        train=[str(DATA / "train.extxyz"), str(DATA / "quaternary_train.extxyz")],
        test=[str(DATA / "test.extxyz@:110"), str(DATA / "test.extxyz@126:"), str(DATA / "quaternary_test.extxyz")],
    )
    config["model"].update(SMALL_BASIS, body_order=body_order, compression=compression)
    if compression is None:
        config["model"].update(learn_embedding=None, centre_weights="species", compression_per_channel=False)
    name = f"nu{body_order}_K{compression or 'S'}"
    config["output"] = {"model": str(folder / f"{name}.json"), "report": str(folder / f"{name}.md"),
                        "parity_plot": None, "uncertainty": False}
    return name, config


def group_mae(errors, quaternary):
    """(energy MAE meV/atom, force MAE eV/Å) over the quaternary group, or over every other group weighted by its
    structure and force-component counts."""
    groups = {g: row for g, row in errors.items() if g != "all" and (g == QUATERNARY) == quaternary}
    energy = sum(r["energy_meV_per_atom"]["mae"] * r["energy_meV_per_atom"]["count"] for r in groups.values())
    forces = sum(r["forces_eV_per_A"]["mae"] * r["forces_eV_per_A"]["count"] for r in groups.values())
    return (energy / sum(r["energy_meV_per_atom"]["count"] for r in groups.values()),
            forces / sum(r["forces_eV_per_A"]["count"] for r in groups.values()))


def run(body_order, compression, folder, fit_missing=True):
    """The table row of one setting; fits it into ``folder`` (unless ``fit_missing`` is false: then None when
    its file is not there)."""
    name, config = config_for(body_order, compression, folder)
    path = folder / f"{name}.yaml"
    seconds = None
    if not Path(config["output"]["model"]).exists():
        if not fit_missing:
            return None
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lepot.fitting.cli", "fit", str(path)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    fit = json.loads(Path(config["output"]["model"]).read_text())["metadata"]["fit"]
    row = {"body_order": body_order, "K": compression or "S (element-resolved)", "seconds": seconds,
           "columns": fit["solver"]["n_columns"]}
    for split in ("validation", "test"):
        for quaternary in (False, True):
            row[(split, quaternary)] = group_mae(fit["errors"][split], quaternary)
    return row


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(9, 6.5), sharex=True)
    for body_order in sorted({r["body_order"] for r in rows}):
        chosen = [r for r in rows if r["body_order"] == body_order]
        labels = [str(r["K"]).split(" ")[0] for r in chosen]
        for column, quaternary in enumerate((False, True)):
            for row_index, target in enumerate(("energy (meV/atom)", "forces (eV/Å)")):
                axis = axes[row_index, column]
                for split, style in (("validation", "-o"), ("test", "--s")):
                    axis.plot(labels, [r[(split, quaternary)][row_index] for r in chosen], style,
                              label=f"ν ≤ {body_order}, {split}")
                axis.set_yscale("log")
                axis.set_ylabel(f"MAE, {target}")
                axis.set_title("quaternary TaNbMoW" if quaternary else "elements and binaries")
    for axis in axes[1]:
        axis.set_xlabel("pseudo-elements K (S: element-resolved)")
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body-orders", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--folder", type=Path, default=None,
                        help="keep the fits here and reuse those already there (default: a temporary folder)")
    parser.add_argument("--tabulate-only", action="store_true", help="table and plot the fits in --folder, fit none")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = arguments.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        rows = [run(nu, k, folder, not arguments.tabulate_only) for nu in arguments.body_orders for k in (1, 2, 3, 4, None)]
        rows = [row for row in rows if row is not None]
    print(machine_line())
    print("MAE energy meV/atom / forces eV/Å; E+B: elements and binaries; Q: quaternary\n")
    print("| ν | K | columns | validation E+B | validation Q | test E+B | test Q | fit time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[(s, q)][0]:.2f} / {r[(s, q)][1]:.3f}" for s in ("validation", "test") for q in (False, True)]
        seconds = "–" if r["seconds"] is None else f"{r['seconds']:.0f}"
        print(f"| {r['body_order']} | {r['K']} | {r['columns']} | " + " | ".join(cells) + f" | {seconds} |")
    plot(rows, ROOT / "benchmarks" / "nbmotaw_accuracy_against_k.png")


if __name__ == "__main__":
    main()
