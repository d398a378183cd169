"""Row weights chosen by the evidence (weights.choose: evidence) against the configured ones, on mlearn Mo and Si.

    .venv/bin/python benchmarks/chosen_weights.py [--element Mo|Si]    (needs ../shared/data)

For each element, the library defaults (examples/fit_<El>_fast.yaml, body order 2, energy weight 100) and
the recommended accurate setting (examples/fit_<El>.yaml, body order 3, energy weight 60; without its
pruning) are fitted twice: with their weights, and with the weights the evidence of the training data
chooses (the configured ones as starting scales). Printed: the weights used, the fit time, and MAE on
the validation split (10 % of train, seed 0; what a setting is chosen on) and, for the record, the test set.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.fitting import fit  # noqa: E402
from lepot.fitting.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def cell(table, key, digits):
    entry = table["all"][key]
    return "–" if entry is None else f"{entry['mae']:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--element", choices=("Mo", "Si"), action="append")
    arguments = parser.parse_args()
    print(machine_line())
    print("| element | setting | weights (energy / forces / stress) | fit s | validation E MAE | validation F MAE "
          "| validation σ MAE (GPa) | test E MAE | test F MAE |")
    print("|---|---|---|---|---|---|---|---|---|")
    for element in arguments.element or ["Mo", "Si"]:
        for setting, suffix in (("fast (library defaults)", "_fast"), ("accurate, not pruned", "")):
            for choose in (None, "evidence"):
                config = load_config(ROOT / "examples" / f"fit_{element}{suffix}.yaml").to_dict()
                config["model"]["prune"] = None
                config["weights"]["choose"] = choose
                for split in ("train", "test"):
                    config["data"][split] = str(ROOT / "examples" / config["data"][split])
                with tempfile.TemporaryDirectory() as folder:
                    config["output"] = {"model": str(Path(folder) / "model.json")}
                    start = time.perf_counter()
                    result = fit(config, progress=False)
                    seconds = time.perf_counter() - start
                chosen = result.model.metadata["fit"]["solver"]["chosen_weights"]
                weights = chosen["weights"] if chosen else {t: config["weights"][t] for t in ("energy", "forces", "stress")}
                validation, test = result.tables["validation"], result.tables["test"]
                print(f"| {element} | {setting}{', chosen' if choose else ''} | {weights['energy']:.3g} / "
                      f"{weights['forces']:.3g} / {weights['stress']:.3g} | {seconds:.0f} "
                      f"| {cell(validation, 'energy_meV_per_atom', 2)} | {cell(validation, 'forces_eV_per_A', 4)} "
                      f"| {cell(validation, 'stress_GPa', 3)} | {cell(test, 'energy_meV_per_atom', 2)} "
                      f"| {cell(test, 'forces_eV_per_A', 4)} |", flush=True)


if __name__ == "__main__":
    main()
