"""How the library defaults of `lepot fit` were chosen: candidate settings on the validation split of mlearn Mo and Si.

    .venv/bin/python benchmarks/default_settings.py [--element Mo|Si ...]    (needs ../shared/data)

Every candidate is a minimal config (species and data only, as a new user writes it) plus the candidate's
model and weight keys. Each is fitted on mlearn train minus its validation split (10 % of train, seed 0) and
scored on that split only: the score is the mean over elements and over energy and forces of the
validation MAE divided by the body-order-2 candidate's (the former defaults), so 1.0 is "as good as
before" and the lowest score wins. The cost in MD is held fixed rather than chosen: every body-order-3
candidate is pruned to at most 35 000 coupling terms, the size of the shipped Mo.json. Test MAE is
printed for the record and used for nothing.
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

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mlearn"

PRUNED = {"max_terms": 35000}
CANDIDATES = {
    "body order 2, energy weight 100 (former defaults)": ({"body_order": 2, "prune": None}, {"energy": 100.0}),
    "body order 3, budget 55, energy weight 100": ({"body_order": 3, "budgets": {3: 55}, "prune": PRUNED}, {"energy": 100.0}),
    "body order 3, budget 70, energy weight 100": ({"body_order": 3, "budgets": {3: 70}, "prune": PRUNED}, {"energy": 100.0}),
    "body order 3, budget 70, energy weight 60": ({"body_order": 3, "budgets": {3: 70}, "prune": PRUNED}, {"energy": 60.0}),
    "body order 3, budget 70, energy weight 30": ({"body_order": 3, "budgets": {3: 70}, "prune": PRUNED}, {"energy": 30.0}),
}
REFERENCE = next(iter(CANDIDATES))


def errors(table):
    return table["all"]["energy_meV_per_atom"]["mae"], table["all"]["forces_eV_per_A"]["mae"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--element", choices=("Mo", "Si"), action="append")
    elements = parser.parse_args().element or ["Mo", "Si"]
    print(machine_line())
    print("| element | candidate | features (after pruning) | fit s | validation E MAE (meV/atom) | validation F MAE (eV/Å) "
          "| test E MAE | test F MAE |")
    print("|---|---|---|---|---|---|---|---|")
    validation = {}
    for element in elements:
        for name, (model, weights) in CANDIDATES.items():
            config = {"species": [element],
                      "data": {"train": str(DATA / element / "train.extxyz"), "test": str(DATA / element / "test.extxyz")},
                      "model": model, "weights": weights}
            with tempfile.TemporaryDirectory() as folder:
                config["output"] = {"model": str(Path(folder) / "model.json")}
                start = time.perf_counter()
                result = fit(config, progress=False)
                seconds = time.perf_counter() - start
            validation[element, name] = errors(result.tables["validation"])
            test = errors(result.tables["test"])
            print(f"| {element} | {name} | {result.model.basis.n_features} | {seconds:.0f} "
                  f"| {validation[element, name][0]:.2f} | {validation[element, name][1]:.4f} "
                  f"| {test[0]:.2f} | {test[1]:.4f} |", flush=True)
    print("\n| candidate | score (mean validation MAE ÷ former defaults'; lower is better) |\n|---|---|")
    scores = {}
    for name in CANDIDATES:
        ratios = [validation[element, name][k] / validation[element, REFERENCE][k] for element in elements for k in (0, 1)]
        scores[name] = sum(ratios) / len(ratios)
        print(f"| {name} | {scores[name]:.3f} |")
    print(f"\nlowest score: {min(scores, key=scores.get)}")


if __name__ == "__main__":
    main()
