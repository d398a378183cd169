"""k-fold cross-validation on fold factors (solver.regularisation: cv): the score equals explicit refits
without each fold, the folds are a seeded partition, and a fit with it is the same serial and under MPI."""


import numpy as np
import pytest

from lepot.fitting import fit
from lepot.fitting.config import ConfigError
from lepot.fitting.data import DataError, cross_validation_folds
from lepot.fitting.design import TriangularFactor
from lepot.fitting.solver import CrossValidation, solve
from test_fitting import SAMPLE, assert_refused, fit_on_two_ranks, small_config


def fold_rows(seed, n_folds=4, rows_per_fold=(30, 25, 35, 28), n_columns=7):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n_columns)
    blocks = []
    for rows in rows_per_fold[:n_folds]:
        matrix = rng.normal(size=(rows, n_columns)) * np.logspace(0, 2, n_columns)
        blocks.append((matrix, matrix @ truth + 0.5 * rng.normal(size=rows)))
    return blocks


def factor_of(blocks):
    factor = TriangularFactor(blocks[0][0].shape[1])
    for matrix, targets in blocks:
        factor.add(matrix, targets)
    return factor


@pytest.mark.parametrize("power", [None, 2.0])
def test_score_equals_explicit_refits_without_each_fold(power):
    blocks = fold_rows(9)
    roughness = np.linspace(1.0, 30.0, 7)
    column_prior = None if power is None else roughness**power
    validation = CrossValidation([factor_of([b]) for b in blocks], column_prior)
    for relative_lambda in (1e-9, 1e-5, 1e-2):
        squared, rows = 0.0, 0
        for k, (held_matrix, held_targets) in enumerate(blocks):
            matrix = np.vstack([b[0] for j, b in enumerate(blocks) if j != k])
            targets = np.concatenate([b[1] for j, b in enumerate(blocks) if j != k])
            scale = np.linalg.norm(matrix, axis=0) * (1.0 if column_prior is None else column_prior)
            s_max = np.linalg.svd(matrix / scale, compute_uv=False)[0]
            penalty = np.diag(np.sqrt(relative_lambda) * s_max * scale)
            weights = np.linalg.lstsq(np.vstack([matrix, penalty]), np.concatenate([targets, np.zeros(7)]),
                                      rcond=None)[0]
            squared += np.sum((held_matrix @ weights - held_targets) ** 2)
            rows += len(held_targets)
        assert validation.score(relative_lambda) == pytest.approx(squared / rows, rel=1e-8)


def test_cv_solution_is_the_full_fit_at_the_chosen_strength():
    blocks = fold_rows(10)
    folds = [factor_of([b]) for b in blocks]
    total = factor_of(blocks)
    chosen = solve(total, "cv", fold_factors=folds)
    fixed = solve(total, chosen.regularisation)
    np.testing.assert_allclose(chosen.coefficients, fixed.coefficients, rtol=1e-12)
    assert chosen.method == "cv"
    with pytest.raises(ValueError, match="at least 2 fold factors"):
        solve(total, "cv", fold_factors=folds[:1])


def test_folds_are_a_seeded_partition():
    first = cross_validation_folds(23, 5, seed=3)
    assert np.array_equal(first, cross_validation_folds(23, 5, seed=3))
    assert not np.array_equal(first, cross_validation_folds(23, 5, seed=4))
    assert sorted(np.bincount(first).tolist()) == [4, 4, 5, 5, 5]
    with pytest.raises(DataError, match="2 <= folds <= 3"):
        cross_validation_folds(3, 4, seed=0)


def cv_config(tmp_path, name, **solver):
    return small_config(SAMPLE, tmp_path / f"{name}.json", solver={"regularisation": "cv", "folds": 3, **solver})


def test_cv_fit_under_mpi_equals_serial(tmp_path):
    parallel = fit_on_two_ranks(cv_config(tmp_path, "mpi", smoothness_power="auto"), tmp_path)
    serial = fit(cv_config(tmp_path, "serial", smoothness_power="auto"), progress=False).model
    assert serial.metadata["fit"]["solver"]["method"] == "cv"
    assert parallel.metadata["fit"]["solver"]["smoothness_power"] == serial.metadata["fit"]["solver"]["smoothness_power"]
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8,
                               atol=1e-10 * np.abs(serial.coefficients).max())


@pytest.mark.parametrize("folds", [1, 2.5, True])
def test_bad_folds_are_named(tmp_path, folds):
    assert_refused(cv_config(tmp_path, "bad", folds=folds), ConfigError, "solver.folds", tmp_path / "bad.json")
