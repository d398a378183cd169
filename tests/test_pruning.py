"""Cost-aware pruning (lepot.fitting.pruning): the restricted factor is the least-squares problem of its
columns, and a pruned fit equals a plain fit of the kept basis on the same rows."""

from pathlib import Path

import numpy as np
import pytest

from lepot.calculator.minimal_basis import subset_basis
from lepot.fitting import fit
from lepot.fitting.config import DEFAULT_MAX_TERMS, PRUNE_STEP, ConfigError, make_config
from lepot.fitting.data import read_structures
from lepot.fitting.design import RowBuilder, TriangularFactor, reduce_structures
from lepot.fitting.pruning import restrict_factor
from lepot.fitting.solver import solve
from test_fitting import SAMPLE, assert_refused, fit_on_two_ranks, small_config


def test_restricted_factor_is_the_least_squares_problem_of_its_columns():
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(90, 12)) * np.logspace(0, 3, 12)
    targets = rng.normal(size=90)
    factor = TriangularFactor(12)
    for start in range(0, 90, 25):
        factor.add(matrix[start : start + 25], targets[start : start + 25])
    columns = np.array([0, 2, 3, 7, 8, 11])
    restricted = restrict_factor(factor, columns)
    expected, residual, _, _ = np.linalg.lstsq(matrix[:, columns], targets, rcond=None)
    solution = solve(restricted, 0.0)
    np.testing.assert_allclose(solution.coefficients, expected, rtol=1e-9, atol=0)
    assert restricted.residual_outside == pytest.approx(float(residual[0]), rel=1e-9)
    assert restricted.n_rows == 90


def pruned_config(tmp_path, max_terms):
    return small_config(
        SAMPLE, tmp_path / "pruned.json",
        model={"n_max": 4, "l_max": 3, "body_order": 3, "budgets": {3: 20}, "prune": {"max_terms": max_terms, "step": 0.2}},
        solver={"regularisation": 1e-9},
    )


def test_pruned_fit_equals_a_fit_of_the_kept_basis(tmp_path):
    full = fit(small_config(SAMPLE, tmp_path / "full.json",
                            model={"n_max": 4, "l_max": 3, "body_order": 3, "budgets": {3: 20}},
                            solver={"regularisation": 1e-9}), progress=False).model
    couplings = full.basis.couplings
    terms = np.bincount(couplings.term_feature, minlength=full.basis.n_features)
    high = np.array([label[0] >= 3 for label in couplings.labels])
    max_terms = int(terms[high].sum()) // 2

    result = fit(pruned_config(tmp_path, max_terms), progress=False)
    pruned = result.model
    rounds = pruned.metadata["fit"]["pruning"]
    assert rounds[0]["terms"] == int(terms[high].sum()) and rounds[-1]["terms"] <= max_terms < rounds[-2]["terms"]
    assert all(later["terms"] < earlier["terms"] for earlier, later in zip(rounds, rounds[1:]))
    kept_labels = set(pruned.basis.couplings.labels)
    assert kept_labels <= set(couplings.labels)
    assert all(label in kept_labels for label in couplings.labels if label[0] <= 2)

    # the same kept features fitted from scratch on the same rows give the same weights
    kept = [q for q, label in enumerate(couplings.labels) if label in kept_labels]
    basis = subset_basis(full.basis, kept)
    builder = RowBuilder(basis, result.model.metadata["fit"]["config"]["weights"], True)
    factor = reduce_structures(builder, read_structures([str(SAMPLE)]), 32)
    direct = solve(factor, 1e-9)
    np.testing.assert_allclose(pruned.coefficients[0], direct.coefficients[: basis.n_features], rtol=1e-7,
                               atol=1e-7 * np.abs(direct.coefficients[: basis.n_features]).max())
    assert pruned.reference_energies[0] == pytest.approx(direct.coefficients[-1], rel=1e-9)


def test_automatic_pruning_applies_only_with_invariants_to_prune(tmp_path):
    def resolved(**model):
        return make_config({"species": ["Mo"], "data": {"train": str(SAMPLE)}, "model": model,
                            "output": {"model": str(tmp_path / "m.json")}}).model.prune

    assert resolved() == "auto"  # resolved with body_order auto (test_automatic_compression.py)
    assert resolved(body_order=3) == {"max_terms": DEFAULT_MAX_TERMS, "step": PRUNE_STEP}
    assert resolved(body_order=2) is None
    assert resolved(body_order=3, prune=None) is None
    assert resolved(body_order=4, prune={"max_terms": 10}) == {"max_terms": 10, "step": PRUNE_STEP}


def test_bad_pruning_settings_are_named(tmp_path):
    output = tmp_path / "m.json"
    assert_refused(small_config(SAMPLE, output, model={"body_order": 3, "prune": {"step": 0.1}}), ConfigError,
                   r"'model.prune' must be auto, null or a mapping", output)
    assert_refused(small_config(SAMPLE, output, model={"body_order": 3, "prune": {"max_terms": 10, "step": 1.5}}),
                   ConfigError, r"'model.prune.step' must be a fraction", output)
    assert_refused(small_config(SAMPLE, output, model={"prune": {"max_terms": 10}}), ConfigError,
                   r"needs model.body_order >= 3", output)


def test_pruned_fit_under_mpi_equals_serial(tmp_path):
    parallel = fit_on_two_ranks(pruned_config(tmp_path, 300), tmp_path)
    serial = fit(pruned_config(tmp_path, 300), progress=False).model
    assert len(serial.metadata["fit"]["pruning"]) > 1
    assert parallel.basis.couplings.labels == serial.basis.couplings.labels
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8, atol=1e-10 * np.abs(serial.coefficients).max())


def test_pruning_with_the_ridge_chosen_on_validation_data(tmp_path):
    config = pruned_config(tmp_path, 300)
    config["solver"] = {"regularisation": "validation"}
    config["data"]["validation_fraction"] = 0.2
    result = fit(config, progress=False)
    rounds = result.model.metadata["fit"]["pruning"]
    assert len(rounds) > 1 and rounds[-1]["terms"] <= 300
    assert all(np.isfinite(r["criterion"]) and r["criterion"] > 0 for r in rounds)
    # with the ridge chosen on validation data, the criterion is the validation residual = RMS² × rows
    rows = [r["criterion"] / r["validation_rms"] ** 2 for r in rounds]
    assert rows[0] == pytest.approx(round(rows[0]), rel=1e-9) and rows[0] > 1
    assert all(count == pytest.approx(rows[0], rel=1e-9) for count in rows)
    assert "weighted validation RMS" in Path(result.outputs["report"]).read_text()
    assert result.solution.method == "validation"
    assert np.isfinite(result.tables["validation"]["all"]["forces_eV_per_A"]["mae"])
