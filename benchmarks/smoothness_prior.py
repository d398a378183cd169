"""The smoothness prior on mlearn Mo and Si: validation and test errors against its power p, and the p that
GCV on the training data picks.

    .venv/bin/python benchmarks/smoothness_prior.py [--element Mo|Si] [--prune] [--fast]    (needs ../shared/data)

For each element, examples/fit_<El>.yaml (the recommended setting: body order 3, budget 70; without its
pruning unless --prune), or with --fast examples/fit_<El>_fast.yaml (the fast settings, body order 2), is
reduced into its triangular factors once; then the ridge is solved with the
smoothness prior at every p of lepot.fitting.solver.POWER_GRID (and without it), the strength chosen on the
training factor each time by GCV, by the Bayesian evidence and by 5-fold cross-validation over the training
structures (solver.regularisation cv; the design is reduced fold by fold once, and the training factor is
the folds' merge), and each model is evaluated on the validation
split (10 % of train, seed 0) and on the test set. Printed per criterion and p: the lowest criterion over λ
(what power="auto" compares: GCV, −ln evidence, or the mean held-out squared residual), the relative ridge, the effective parameters, and
validation / test MAE (meV/atom, eV/Å). The test columns are for
the record only: no setting is chosen from them.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.fitting.config import load_config  # noqa: E402
from lepot.fitting.fit import (Solved, assemble_model, build_fit_basis, choose_compression, load_data,  # noqa: E402
                               reduce_design)
from lepot.fitting.metrics import error_table, predict  # noqa: E402
from lepot.fitting.pruning import prune_features  # noqa: E402
from lepot.fitting.solver import POWER_GRID, solve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def mae(model, structures):
    table = error_table(predict(model, structures))["all"]
    return table["energy_meV_per_atom"]["mae"], table["forces_eV_per_A"]["mae"]


def study(element, prune, fast):
    config = load_config(ROOT / "examples" / f"fit_{element}{'_fast' if fast else ''}.yaml")
    prune_settings = config["model"]["prune"]
    if not prune:
        config.model.prune = None
    config.solver.regularisation = "cv"  # fold factors for the cv rows; gcv and evidence use their merge
    data = load_data(config)
    config = choose_compression(config, data)
    fitted = build_fit_basis(config, data)
    design = reduce_design(config, data, fitted)
    roughness = design.builder.column_roughness()
    n_centre = design.builder.centre_embedding.shape[0]
    print(f"\n{element}{' (fast)' if fast else ''}: {design.builder.n_columns} columns, {design.factor.n_rows} rows"
          f"{', pruned to ' + str(prune_settings['max_terms']) + ' terms' if prune else ''}")
    print("| criterion | p | lowest criterion over λ | relative ridge | effective parameters | validation E MAE "
          "| validation F MAE | test E MAE | test F MAE |")
    print("|---|---|---|---|---|---|---|---|---|")
    for criterion, power in [(c, p) for c in ("gcv", "evidence", "cv") for p in (None,) + POWER_GRID]:
        if prune:
            pruning = prune_features(design.factor, fitted.basis, n_centre, prune_settings["max_terms"],
                                     prune_settings["step"], criterion, design.validation_factor,
                                     config["solver"]["tolerance"], roughness, power, design.fold_factors)
            solution = pruning.solution
            coefficients = np.zeros(design.builder.n_columns)
            coefficients[pruning.columns] = solution.coefficients
        else:
            pruning = None
            solution = solve(design.factor, criterion, None, config["solver"]["tolerance"], roughness, power,
                             design.fold_factors)
            coefficients = solution.coefficients
        model = assemble_model(config, data, fitted, design, Solved(solution, coefficients, pruning))
        validation = mae(model, data.splits["validation"])
        test = mae(model, data.splits["test"])
        lowest = "-" if solution.power_scores is None else f"{solution.power_scores[power]:.5g}"
        print(f"| {criterion} | {'none' if power is None else f'{power:g}'} | {lowest} | {solution.regularisation:.3g} "
              f"| {solution.effective_parameters:.0f} | {validation[0]:.2f} | {validation[1]:.4f} "
              f"| {test[0]:.2f} | {test[1]:.4f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--element", choices=("Mo", "Si"), action="append")
    parser.add_argument("--prune", action="store_true", help="with the setting's pruning (refit per round)")
    parser.add_argument("--fast", action="store_true", help="the body-order-2 setting (library defaults)")
    arguments = parser.parse_args()
    print(machine_line())
    for element in arguments.element or ["Mo", "Si"]:
        study(element, arguments.prune, arguments.fast)


if __name__ == "__main__":
    main()
