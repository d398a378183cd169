"""Row weights chosen by the evidence (lepot.fitting.weights, weights.choose): the evidence equals the Gaussian
marginal likelihood with one noise level per target computed from the rows, its gradient equals finite
differences, the maximum recovers known noise ratios, and a fit with it is the same serial and under MPI."""


import numpy as np
import pytest

from lepot.fitting import fit
from lepot.fitting.config import ConfigError
from lepot.fitting.design import TriangularFactor
from lepot.fitting.weights import TargetEvidence, reweighted_factor
from test_fitting import SAMPLE, assert_refused, fit_on_two_ranks, small_config

NOISE = {"energy": 0.02, "forces": 0.3, "stress": 0.1}
ROWS = {"energy": 40, "forces": 150, "stress": 30}


def target_rows(seed, n_columns=6, noise=NOISE, rows=ROWS):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n_columns)
    blocks = {}
    for target, count in rows.items():
        matrix = rng.normal(size=(count, n_columns)) * np.logspace(0, 1, n_columns)
        blocks[target] = (matrix, matrix @ truth + noise[target] * rng.normal(size=count))
    return blocks


def factors_of(blocks):
    factors = {}
    for target, (matrix, targets) in blocks.items():
        factors[target] = TriangularFactor(matrix.shape[1])
        factors[target].add(matrix, targets)
    return factors


def test_evidence_equals_the_marginal_likelihood_with_one_noise_per_target():
    from scipy.stats import multivariate_normal

    blocks = target_rows(1)
    evidence = TargetEvidence(factors_of(blocks))
    matrix = np.vstack([b[0] for b in blocks.values()])
    targets = np.concatenate([b[1] for b in blocks.values()])
    scaled = matrix / np.linalg.norm(matrix, axis=0)
    for parameters in ([np.log(0.5), 3.0, 1.0, 2.0], [np.log(1e-3), 7.0, 2.5, 4.0]):
        alpha, betas = np.exp(parameters[0]), np.exp(parameters[1:])
        noise = np.concatenate([np.full(len(b[1]), 1.0 / beta) for b, beta in zip(blocks.values(), betas)])
        covariance = np.diag(noise) + scaled @ scaled.T / alpha
        direct = -multivariate_normal(np.zeros(len(targets)), covariance).logpdf(targets)
        value, gradient = evidence.negative_log_evidence(np.array(parameters))
        assert value == pytest.approx(direct, rel=1e-9)
        for k in range(4):
            step = np.zeros(4)
            step[k] = 1e-5
            difference = (evidence.negative_log_evidence(np.array(parameters) + step, False)[0]
                          - evidence.negative_log_evidence(np.array(parameters) - step, False)[0]) / 2e-5
            assert gradient[k] == pytest.approx(difference, rel=1e-6, abs=1e-6)


def test_the_maximum_recovers_the_noise_of_each_target():
    """With many rows per target, 1/√β_t approaches the noise the data were made with, and the chosen
    multipliers are the noise ratios (forces 1)."""
    rows = {"energy": 4000, "forces": 6000, "stress": 3000}
    choice = TargetEvidence(factors_of(target_rows(2, rows=rows))).choose()
    for target, sigma in NOISE.items():
        assert choice.noise[target] == pytest.approx(sigma, rel=0.05)
        assert choice.multipliers[target] == pytest.approx(NOISE["forces"] / sigma, rel=0.05)
    assert choice.multipliers["forces"] == 1.0


def test_reweighted_factor_is_the_factor_of_the_scaled_rows():
    blocks = target_rows(3)
    multipliers = {"energy": 7.0, "forces": 1.0, "stress": 0.5}
    merged = reweighted_factor(factors_of(blocks), multipliers)
    direct = TriangularFactor(6)
    for target, (matrix, targets) in blocks.items():
        direct.add(multipliers[target] * matrix, multipliers[target] * targets)
    np.testing.assert_allclose(merged.r.T @ merged.r, direct.r.T @ direct.r, rtol=1e-10)
    np.testing.assert_allclose(merged.r.T @ merged.z, direct.r.T @ direct.z, rtol=1e-10)
    assert merged.residual_outside == pytest.approx(direct.residual_outside, rel=1e-9)
    assert merged.n_rows == direct.n_rows == sum(ROWS.values())


def chosen_config(tmp_path, name):
    return small_config(SAMPLE, tmp_path / f"{name}.json", weights={"choose": "evidence"})


def test_fit_with_chosen_weights_reports_them_and_mpi_equals_serial(tmp_path):
    parallel = fit_on_two_ranks(chosen_config(tmp_path, "mpi"), tmp_path)
    serial = fit(chosen_config(tmp_path, "serial"), progress=False).model
    chosen = serial.metadata["fit"]["solver"]["chosen_weights"]
    assert chosen["weights"]["forces"] == 1.0 and chosen["weights"]["energy"] > 0
    assert "row weights chosen by the evidence" in (tmp_path / "serial.md").read_text()
    assert parallel.metadata["fit"]["solver"]["chosen_weights"]["weights"] == pytest.approx(chosen["weights"], rel=1e-8)
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8,
                               atol=1e-10 * np.abs(serial.coefficients).max())


def test_bad_choose_settings_are_named(tmp_path):
    config = small_config(SAMPLE, tmp_path / "bad.json", weights={"choose": "gcv"})
    assert_refused(config, ConfigError, "weights.choose", tmp_path / "bad.json")
    config = small_config(SAMPLE, tmp_path / "bad.json", weights={"choose": "evidence"}, solver={"regularisation": "cv"})
    assert_refused(config, ConfigError, "weights.choose", tmp_path / "bad.json")
