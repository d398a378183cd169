"""The smoothness prior (lepot.fitting.solver, solver.smoothness_power) and the evidence criterion: the
penalty is the explicit augmented least-squares problem it claims, the power chosen by "auto" is the grid's
lowest criterion, the log-evidence equals the Gaussian marginal likelihood computed directly, each feature's
roughness is the sum of its factors' LE eigenvalues, and a fit with the prior is the same serial and under
MPI and byte-identical when repeated."""


import numpy as np
import pytest

from lepot.calculator import build_basis
from lepot.fitting import fit
from lepot.fitting.config import ConfigError
from lepot.fitting.design import TriangularFactor
from lepot.fitting.solver import POWER_GRID, RidgeProblem, solve
from test_fitting import SAMPLE, assert_refused, fit_on_two_ranks, small_config


def random_factor(seed, n_rows=120, n_columns=10):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n_rows, n_columns)) * np.logspace(0, 2, n_columns)
    targets = matrix @ rng.normal(size=n_columns) + 0.3 * rng.normal(size=n_rows)
    factor = TriangularFactor(n_columns)
    for start in range(0, n_rows, 32):
        factor.add(matrix[start : start + 32], targets[start : start + 32])
    return matrix, targets, factor


@pytest.mark.parametrize("power", [0.0, 1.0, 2.5])
def test_prior_equals_the_augmented_least_squares_problem(power):
    """min |X w - y|² + μ Σ_j (D_j ε_j^p w_j)², with μ = λ_rel S_max² of the column-scaled problem and D the
    column norms of X, solved by stacking the penalty rows under X."""
    matrix, targets, factor = random_factor(3)
    roughness = np.linspace(1.0, 40.0, matrix.shape[1])
    relative_lambda = 1e-3
    solution = solve(factor, relative_lambda, roughness=roughness, power=power)
    scaled = RidgeProblem(factor, roughness**power)
    mu = relative_lambda * scaled.s_max2
    penalty = np.diag(np.sqrt(mu) * np.linalg.norm(matrix, axis=0) * roughness**power)
    expected = np.linalg.lstsq(np.vstack([matrix, penalty]), np.concatenate([targets, np.zeros(matrix.shape[1])]),
                               rcond=None)[0]
    np.testing.assert_allclose(solution.coefficients, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())
    assert solution.smoothness_power == power


def test_power_zero_is_the_plain_ridge():
    _, _, factor = random_factor(4)
    plain = solve(factor, "gcv")
    prior = solve(factor, "gcv", roughness=np.linspace(1.0, 9.0, 10), power=0.0)
    np.testing.assert_allclose(prior.coefficients, plain.coefficients, rtol=1e-12)
    assert plain.smoothness_power is None and prior.smoothness_power == 0.0


@pytest.mark.parametrize("criterion, tolerance", [("gcv", 0.01), ("gcv", 0.0), ("evidence", 0.01)])
def test_auto_power_is_chosen_from_brute_force_searches(criterion, tolerance):
    """A λ search at each fixed power; auto returns the largest p within tolerance of the lowest criterion
    (GCV), or the largest evidence."""
    _, _, factor = random_factor(5)
    roughness = np.geomspace(1.0, 60.0, 10)
    chosen = solve(factor, criterion, tolerance=tolerance, roughness=roughness, power="auto")
    lowest = {p: solve(factor, criterion, tolerance=tolerance, roughness=roughness, power=p).power_scores[p]
              for p in POWER_GRID}
    assert chosen.power_scores == pytest.approx(lowest, rel=1e-12)
    best = min(lowest.values())
    if criterion == "evidence":
        assert chosen.smoothness_power == min(lowest, key=lowest.get)
    else:
        assert chosen.smoothness_power == max(p for p, v in lowest.items() if v <= best * (1 + tolerance))
    fixed = solve(factor, criterion, tolerance=tolerance, roughness=roughness, power=chosen.smoothness_power)
    np.testing.assert_allclose(chosen.coefficients, fixed.coefficients, rtol=1e-12)


@pytest.mark.parametrize("power", [None, 1.0])
def test_log_evidence_equals_the_marginal_likelihood(power):
    """ln N(y | 0, β⁻¹ I + α⁻¹ X' X'ᵀ) with X' the column-scaled design, α = λ β and β = n / Q(λ), computed
    from the rows directly, against the factor's closed form; and the evidence solve maximises it."""
    from scipy.stats import multivariate_normal

    matrix, targets, factor = random_factor(8, n_rows=60, n_columns=8)
    roughness = np.linspace(1.0, 20.0, 8)
    problem = RidgeProblem(factor, None if power is None else roughness**power)
    scaled = matrix / problem.scale

    def direct(relative_lambda):
        lam = relative_lambda * problem.s_max2
        w = np.linalg.solve(scaled.T @ scaled + lam * np.eye(8), scaled.T @ targets)
        q = np.sum((targets - scaled @ w) ** 2) + lam * np.sum(w**2)
        beta = len(targets) / q
        covariance = np.eye(len(targets)) / beta + scaled @ scaled.T / (lam * beta)
        return -multivariate_normal(np.zeros(len(targets)), covariance).logpdf(targets)

    for relative_lambda in (1e-8, 1e-4, 1e-2, 0.3):
        assert problem.negative_log_evidence(relative_lambda) == pytest.approx(direct(relative_lambda), rel=1e-9)
    chosen = solve(factor, "evidence", roughness=None if power is None else roughness, power=power)
    grid = np.logspace(-8, 0, 81)
    assert direct(chosen.regularisation) <= min(direct(x) for x in grid) + 1e-9


def test_roughness_must_be_at_least_one_per_column():
    _, _, factor = random_factor(6)
    with pytest.raises(ValueError, match="roughness must be 10 values >= 1"):
        solve(factor, "gcv", roughness=np.full(10, 0.5), power=1.0)
    with pytest.raises(ValueError, match="roughness must be 10 values >= 1"):
        solve(factor, "gcv", roughness=np.ones(9), power=1.0)


def test_feature_roughness_sums_the_le_eigenvalues_of_the_factors():
    basis = build_basis(["Mo"], cutoff=4.5, n_max=4, l_max=3, body_order=3, budgets={3: 12})
    zeros = dict(zip(basis.radial.function_labels(), basis.radial.zeros))
    epsilon = {label: (z / np.pi) ** 2 for label, z in zeros.items()}
    roughness = basis.feature_roughness()
    assert roughness.shape == (basis.n_features,)
    for q, (order, l, channels) in enumerate(basis.couplings.labels):
        if order == 1:
            expected = epsilon[(channels[0][1], 0)]
        elif order == 2:
            expected = epsilon[(channels[0][1], l)] + epsilon[(channels[1][1], l)]
        else:
            expected = sum(epsilon[(n, factor_l)] for _, n, factor_l in channels)
        assert roughness[q] == pytest.approx(expected, rel=1e-12)
    assert roughness.min() == pytest.approx(1.0)  # ε(0, 0) = (π/π)²


def prior_config(tmp_path, name, power="auto"):
    return small_config(SAMPLE, tmp_path / f"{name}.json", model={"body_order": 3, "budgets": {3: 12}},
                        solver={"smoothness_power": power})


def test_fit_with_the_prior_reports_its_choice_and_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")  # the file's creation time
    first = fit(prior_config(tmp_path, "prior"), progress=False)
    written = (tmp_path / "prior.json").read_bytes()
    fit(prior_config(tmp_path, "prior"), progress=False)
    assert (tmp_path / "prior.json").read_bytes() == written
    solver = first.model.metadata["fit"]["solver"]
    assert solver["smoothness_power"] in POWER_GRID
    assert set(solver["smoothness_power_scores"]) == {f"{p:g}" for p in POWER_GRID}
    assert "smoothness prior" in (tmp_path / "prior.md").read_text()


def test_fit_with_the_prior_under_mpi_equals_serial(tmp_path):
    parallel = fit_on_two_ranks(prior_config(tmp_path, "mpi", power=1.5), tmp_path)
    serial = fit(prior_config(tmp_path, "serial", power=1.5), progress=False).model
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8,
                               atol=1e-10 * np.abs(serial.coefficients).max())


@pytest.mark.parametrize("power", ["smooth", -1.0, True])
def test_bad_smoothness_power_is_named(tmp_path, power):
    config = prior_config(tmp_path, "bad", power=power)
    assert_refused(config, ConfigError, "solver.smoothness_power", tmp_path / "bad.json")
