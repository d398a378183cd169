"""Ridge regression from a triangular factor, with the regularisation strength chosen automatically.

With R, z, ρ from lepot.fitting.design (X = Q R, Qᵀy = z, ρ² unreachable residual), columns are scaled
to unit norm (D = column norms of X = column norms of R) and the scaled problem is solved by the SVD
R D⁻¹ = U S Vᵀ, z' = Uᵀ z:

    w(λ) = D⁻¹ V diag(S / (S² + λ)) z'
    RSS(λ) = ρ² + Σ_k (λ z'_k / (S_k² + λ))²           dof(λ) = Σ_k S_k² / (S_k² + λ)
    GCV(λ) = n RSS(λ) / (n - dof(λ))²                 (generalised cross-validation, Golub et al. 1979)

With a smoothness prior (``roughness`` ε_j ≥ 1 per column, ``power`` p), column j is scaled by D_j ε_j^p
instead of D_j, so the penalty λ Σ_j (D_j ε_j^p w_j)² grows with the roughness of the column's feature
(ε: Σ of its factors' LE eigenvalues, lepot.calculator.Basis.feature_roughness) — a diagonal Tikhonov
prior, i.e. a plain ridge on rescaled columns, so it needs nothing from the rows: it works on any
factor (streamed, MPI-combined, restricted by pruning). p = 0 is the plain scaled ridge. With
``power="auto"`` every p of POWER_GRID is tried (one SVD of R per p) and, as for λ, the largest p (the
smoothest prior) whose lowest criterion over λ (GCV on the training factor, or the validation residual)
is within ``tolerance`` of the best p's is kept: GCV is nearly flat in p on real data (mlearn Mo and Si:
within 0.1 %), so "lowest" alone would be decided by round-off. With the evidence, the largest evidence.

With ``regularisation="evidence"`` λ maximises the Bayesian evidence of the data (MacKay 1992) instead:
weights w' = D w with prior N(0, α⁻¹ I), Gaussian noise of precision β, λ = α/β, and β at its optimum
β = n/Q for each λ, which leaves (m columns, n rows, S the singular values of R D⁻¹)

    ln p(y | λ) = (m/2) ln λ − (n/2) ln(Q/n) − n/2 − ½ Σ_k ln(λ + S_k²) − (n/2) ln 2π
    Q(λ) = RSS(λ) + λ |w'(λ)|²

(null directions, S_k = 0, contribute ln λ − ln λ = 0). The λ of the largest evidence is taken as it is:
differences of log-evidence are log Bayes factors, so no tolerance rule applies; the powers of the
smoothness prior are compared the same way (the largest evidence).

With ``regularisation="cv"`` the criterion is k-fold cross-validation over structures, on the factors
alone: the training rows are reduced fold by fold (``fold_factors``, lepot.fitting.fit), the problem
without fold k is the QR of the other folds' stacked factors, and the score is
Σ_k |X_k w_{-k}(λ) − y_k|² / n (each fold's weighted rows), with the same tolerance rule as GCV.

λ is searched as λ = 10^t S_max², t in [-20, 0]. The criterion (GCV, or with ``validation`` the
residual on a validation factor) is minimised on a grid refined by Brent's method; then, because the
criterion of a linear potential is typically flat over many decades while the coefficients grow by orders
of magnitude as λ falls, the chosen λ is the largest one whose criterion is within ``tolerance``
(default 1 %) of the minimum — the simplest model that fits as well, in the spirit of the
one-standard-error rule. That point is found by root-finding between grid points, so it moves
continuously with the data: round-off differences in R (serial vs MPI) give round-off differences
in λ and w. Deterministic; nothing here is random.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .design import TriangularFactor

LOG_RANGE = (-20.0, 0.0)
POWER_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)  # smoothness-prior powers tried by power="auto"
GRID_STEP = 0.25
DEFAULT_TOLERANCE = 0.01


@dataclass
class Solution:
    coefficients: np.ndarray  # [n_columns]
    regularisation: float  # λ / S_max², relative ridge strength
    effective_parameters: float  # dof(λ)
    condition_number: float  # S_max / smallest non-null S of the column-scaled design
    method: str
    criterion: float  # GCV score or validation RSS at the chosen λ
    smoothness_power: float = None  # p of the smoothness prior (None: no prior)
    power_scores: dict = None  # {p: lowest criterion over λ} when p was chosen (power="auto")
    curves: dict = None  # {p (None: no prior): (log10 λ_rel grid, criterion)} of the λ searches
    ridge_root: np.ndarray = None  # [n_columns] √λ D_j: the penalty λ |D w|² used, as the rows diag(√λ D) w


class RidgeProblem:
    def __init__(self, factor, column_prior=None):
        """column_prior: g_j > 0 per column (the smoothness prior ε_j^p), or None for 1."""
        r = factor.r
        self.n_rows = factor.n_rows
        self.rho2 = factor.residual_outside
        norms = np.sqrt((r * r).sum(axis=0))
        self.scale = np.where(norms > 0, norms, 1.0)
        if column_prior is not None:
            self.scale = self.scale * np.asarray(column_prior, dtype=float)
        u, s, vt = np.linalg.svd(r / self.scale, full_matrices=False)
        # directions with S below max(n_rows, n_columns)·ε·S_max are numerically null (exactly dependent
        # columns, e.g. pair terms seen from either species): they get no coefficient, as in numpy.linalg.lstsq
        cutoff = max(self.n_rows, r.shape[1]) * np.finfo(float).eps * (s[0] if s.size else 0.0)
        s = np.where(s > cutoff, s, 0.0)
        self.singular, self.vt = s, vt
        self.projected = u.T @ factor.z
        self.s_max2 = float(s[0] ** 2) if s.size and s[0] > 0 else 1.0

    def _filter(self, relative_lambda):
        """S_k² / (S_k² + λ) per direction (0 for null directions, also when λ = 0)."""
        s2 = self.singular**2
        lam = relative_lambda * self.s_max2
        active = s2 > 0
        return np.where(active, s2 / np.where(active, s2 + lam, 1.0), 0.0)

    def coefficients(self, relative_lambda):
        s = self.singular
        inverse = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
        return (self.vt.T @ (self._filter(relative_lambda) * inverse * self.projected)) / self.scale

    def gcv(self, relative_lambda):
        keep = self._filter(relative_lambda)
        rss = self.rho2 + float(np.sum(((1.0 - keep) * self.projected) ** 2))
        dof = float(np.sum(keep))
        return self.n_rows * rss / max(self.n_rows - dof, 1e-12) ** 2

    def negative_log_evidence(self, relative_lambda):
        """−ln p(y | λ) with the noise precision at its optimum (module docstring); needs λ > 0."""
        lam = relative_lambda * self.s_max2
        s2 = self.singular**2
        keep = self._filter(relative_lambda)
        rss = self.rho2 + float(np.sum(((1.0 - keep) * self.projected) ** 2))
        active = s2 > 0
        scaled_weights = np.where(active, self.singular * self.projected / np.where(active, s2 + lam, 1.0), 0.0)
        q = rss + lam * float(np.sum(scaled_weights**2))
        n, m = self.n_rows, len(self.singular)
        log_evidence = (0.5 * m * np.log(lam) - 0.5 * n * np.log(q / n) - 0.5 * n
                        - 0.5 * float(np.sum(np.log(lam + s2))) - 0.5 * n * np.log(2.0 * np.pi))
        return -log_evidence

    def effective_parameters(self, relative_lambda):
        return float(np.sum(self._filter(relative_lambda)))

    def condition_number(self):
        """S_max / smallest non-null S of the column-scaled design."""
        s = self.singular[self.singular > 0]
        return float(s[0] / s[-1]) if s.size else float("inf")


def residual_sum_of_squares(factor, coefficients):
    """|X w - y|² of the rows reduced into ``factor`` (R, z, ρ²) for the coefficients w."""
    return float(np.sum((factor.r @ coefficients - factor.z) ** 2) + factor.residual_outside)


def validation_residual(problem, validation_factor):
    def residual(relative_lambda):
        return residual_sum_of_squares(validation_factor, problem.coefficients(relative_lambda))

    return residual


def merged_factor(factors):
    """One TriangularFactor of the rows of several factors (objects with r [n][columns], z, residual_outside,
    n_rows: full or column-restricted factors), by QR of their stacked [R | z] and ρ rows. For full factors it
    is TriangularFactor.merge; the fold factors of cross-validation restricted by pruning need this form."""
    n_columns = factors[0].r.shape[1]
    merged = TriangularFactor(n_columns)
    for factor in factors:
        matrix = np.vstack([factor.r, np.zeros((1, n_columns))])
        targets = np.concatenate([factor.z, [np.sqrt(factor.residual_outside)]])
        merged.add(matrix, targets)
    merged.n_rows = sum(factor.n_rows for factor in factors)
    return merged


class CrossValidation:
    """k-fold cross-validation on fold factors: one ridge problem per held-out fold (see the module docstring)."""

    def __init__(self, fold_factors, column_prior=None):
        if len(fold_factors) < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {len(fold_factors)}")
        self.folds = fold_factors
        self.problems = [RidgeProblem(merged_factor(fold_factors[:k] + fold_factors[k + 1 :]), column_prior)
                         for k in range(len(fold_factors))]
        self.n_rows = sum(f.n_rows for f in fold_factors)

    def score(self, relative_lambda):
        """Mean squared held-out residual of the weighted rows at λ_rel (relative to each fold problem's S_max²)."""
        return sum(residual_sum_of_squares(fold, problem.coefficients(relative_lambda))
                   for fold, problem in zip(self.folds, self.problems)) / max(self.n_rows, 1)


class LambdaChoice(NamedTuple):
    relative_lambda: float  # λ / S_max², the chosen strength
    criterion: float  # the criterion there
    minimum: float  # the lowest criterion found over λ
    log_grid: np.ndarray  # log10 λ_rel of the coarse search
    values: np.ndarray  # the criterion on that grid


def select_relative_lambda(function, tolerance):
    """LambdaChoice with λ_rel = 10^t the largest value whose criterion <= (1 + tolerance) · minimum (the
    lowest criterion found over λ); tolerance None: the minimiser itself."""
    grid = np.arange(LOG_RANGE[0], LOG_RANGE[1] + 1e-9, GRID_STEP)
    values = np.array([function(10.0**t) for t in grid])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    refined = minimize_scalar(lambda t: function(10.0**t), bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    t_min, minimum = (refined.x, refined.fun) if refined.fun <= values[best] else (grid[best], values[best])
    if tolerance is None:
        return LambdaChoice(10.0**t_min, float(minimum), float(minimum), grid, values)
    threshold = (1.0 + tolerance) * minimum
    above = np.flatnonzero((grid > t_min) & (values > threshold))
    if above.size == 0:
        t = grid[-1] if values[-1] <= threshold else t_min
    else:
        first_above = above[0]
        start = max(grid[first_above - 1], t_min)
        t = brentq(lambda x: function(10.0**x) - threshold, start, grid[first_above], xtol=1e-9)
    return LambdaChoice(10.0**t, float(function(10.0**t)), float(minimum), grid, values)


def solve(factor, regularisation="gcv", validation_factor=None, tolerance=DEFAULT_TOLERANCE, roughness=None,
          power=None, fold_factors=None):
    """Solve the ridge problem; ``regularisation`` is 'gcv', 'validation', 'evidence', 'cv' or a fixed relative
    λ ≥ 0. ``roughness`` [n_columns] (ε_j ≥ 1) with ``power`` (a number ≥ 0 or "auto") adds the smoothness
    prior; power None (or no roughness) solves without it. 'cv' needs ``fold_factors`` (their rows are
    those of ``factor``)."""
    if regularisation == "validation" and (validation_factor is None or validation_factor.n_rows == 0):
        raise ValueError("regularisation 'validation' needs validation data")
    if regularisation == "cv" and (fold_factors is None or len(fold_factors) < 2):
        raise ValueError("regularisation 'cv' needs at least 2 fold factors")
    if roughness is None or power is None:
        return _solve_one(factor, regularisation, validation_factor, tolerance, None, None, fold_factors)
    roughness = np.asarray(roughness, dtype=float)
    if roughness.shape != (factor.r.shape[1],) or not np.all(roughness >= 1.0):
        raise ValueError(f"roughness must be {factor.r.shape[1]} values >= 1, got shape {roughness.shape}")
    if power != "auto":
        return _solve_one(factor, regularisation, validation_factor, tolerance, roughness, float(power), fold_factors)
    candidates = {p: _solve_one(factor, regularisation, validation_factor, tolerance, roughness, p, fold_factors)
                  for p in POWER_GRID}
    scores = {p: solution.power_scores[p] for p, solution in candidates.items()}
    lowest = min(scores.values())
    if regularisation == "evidence":
        best = min(scores, key=lambda p: (scores[p], p))
    else:  # the smoothest prior whose criterion is within tolerance of the lowest, as for λ
        best = max(p for p, score in scores.items() if score <= lowest + tolerance * abs(lowest))
    chosen = candidates[best]
    chosen.power_scores = scores
    if chosen.curves is not None:
        chosen.curves = {p: solution.curves[p] for p, solution in candidates.items()}
    return chosen


def _solve_one(factor, regularisation, validation_factor, tolerance, roughness, power, fold_factors=None):
    """One λ search at a fixed prior (power None: no prior). Its power_scores holds {power: lowest criterion}."""
    column_prior = None if power is None else roughness**power
    problem = RidgeProblem(factor, column_prior)
    if regularisation == "gcv":
        criterion_of = problem.gcv
    elif regularisation == "validation":
        criterion_of = validation_residual(problem, validation_factor)
    elif regularisation == "evidence":
        criterion_of = problem.negative_log_evidence
    elif regularisation == "cv":
        criterion_of = CrossValidation(fold_factors, column_prior).score
    else:
        criterion_of = problem.gcv
    curves = None
    if regularisation in ("evidence", "gcv", "validation", "cv"):
        choice = select_relative_lambda(criterion_of, None if regularisation == "evidence" else tolerance)
        relative_lambda, criterion, lowest = choice.relative_lambda, choice.criterion, choice.minimum
        curves = {power: (choice.log_grid, choice.values)}
    else:
        relative_lambda = float(regularisation)
        criterion = lowest = criterion_of(relative_lambda)
    return Solution(
        ridge_root=np.sqrt(relative_lambda * problem.s_max2) * problem.scale,
        coefficients=problem.coefficients(relative_lambda),
        regularisation=relative_lambda,
        effective_parameters=problem.effective_parameters(relative_lambda),
        condition_number=problem.condition_number(),
        method=str(regularisation),
        criterion=criterion,
        smoothness_power=power,
        power_scores=None if power is None else {power: lowest},
        curves=curves,
    )
