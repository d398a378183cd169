"""Cost-aware pruning of high-body-order invariants, after the design matrix is reduced.

The energy/force cost of a model is dominated by the coupling terms (monomials of A) of its body
order ≥ 3 invariants, and an invariant's cost is its number of terms (≈ l² per factor). Starting from
the fitted model, each round drops the fraction ``step`` of the remaining ν ≥ 3 invariants with the
smallest importance per cost,

    importance_q = Σ_κ |W_q(κ)| ‖X_{:, (κ, q)}‖ / terms_q      (‖X_{:,j}‖ = column norm of the weighted rows),

and refits the remaining columns exactly from the triangular factor (R_S = the columns S of R, QR'd
again: min ‖X_S w − y‖ = min ‖R_S w − z‖ up to the same ρ²) with the fit's own ridge selection, until
the ν ≥ 3 coupling terms are at most ``max_terms``. Body orders 1 and 2 are never dropped. Uses only
the training factor (and the validation factor when the ridge is chosen on validation data); nothing
is read from the test set. Deterministic.
"""

from dataclasses import dataclass

import numpy as np

from .solver import residual_sum_of_squares, solve


@dataclass
class RestrictedFactor:
    """The least-squares problem of a subset of columns, in the form lepot.fitting.solver reads."""

    r: np.ndarray  # shape [n_kept_columns][n_kept_columns], upper triangular
    z: np.ndarray  # shape [n_kept_columns]
    residual_outside: float  # ρ² of the restricted problem
    n_rows: int


def restrict_factor(factor, columns):
    """Exact least-squares problem of ``columns`` of a TriangularFactor (or RestrictedFactor)."""
    q, r = np.linalg.qr(factor.r[:, columns])
    z = q.T @ factor.z
    unreachable = factor.residual_outside + float(factor.z @ factor.z - z @ z)
    return RestrictedFactor(r, z, max(unreachable, 0.0), factor.n_rows)


def restrict_rows(factor, columns):
    """A validation factor's rows restricted to ``columns`` (only evaluated, never solved)."""
    return RestrictedFactor(factor.r[:, columns], factor.z, factor.residual_outside, factor.n_rows)


@dataclass
class PruningResult:
    kept: np.ndarray  # feature indices kept, ascending
    columns: np.ndarray  # design columns kept, ascending
    solution: object  # lepot.fitting.solver.Solution on ``columns``
    rounds: list  # per round: {"features", "terms", "relative_regularisation", "criterion", "validation_rms"}
    factor: RestrictedFactor = None  # the least-squares problem of ``columns`` that ``solution`` solved


def prune_features(factor, basis, n_centre, max_terms, step, regularisation, validation_factor, tolerance,
                   roughness=None, smoothness_power=None, fold_factors=None):
    """Drop ν ≥ 3 invariants until their coupling terms number at most ``max_terms`` (see module doc).

    factor: TriangularFactor of the full design (columns: n_centre blocks of basis.n_features coefficient
    columns, then any E0 columns); roughness: [n_columns] for the smoothness prior (each round solves with
    the kept columns' entries); the other arguments are those of lepot.fitting.solver.solve.
    """
    if not 0.0 < step < 1.0:
        raise ValueError(f"pruning step must be between 0 and 1, got {step}")
    couplings = basis.couplings
    n_features = basis.n_features
    terms = np.bincount(couplings.term_feature, minlength=n_features)  # shape [n_features]
    prunable = np.array([label[0] >= 3 for label in couplings.labels])  # shape [n_features]
    column_norms = np.sqrt((factor.r * factor.r).sum(axis=0))  # shape [n_columns]
    extra_columns = np.arange(n_centre * n_features, factor.r.shape[1])
    kept = np.arange(n_features)
    rounds = []
    while True:
        columns = np.concatenate([(kappa * n_features + kept) for kappa in range(n_centre)] + [extra_columns])
        validation = None if validation_factor is None else restrict_rows(validation_factor, columns)
        restricted = restrict_factor(factor, columns)
        solution = solve(restricted, regularisation, validation, tolerance,
                         None if roughness is None else roughness[columns], smoothness_power,
                         None if fold_factors is None else [restrict_rows(f, columns) for f in fold_factors])
        kept_terms = int(terms[kept][prunable[kept]].sum())
        rounds.append({
            "features": int(len(kept)),
            "terms": kept_terms,
            "relative_regularisation": solution.regularisation,
            "criterion": solution.criterion,
            # RMS of the weighted validation rows
            "validation_rms": None if validation is None else float(np.sqrt(
                residual_sum_of_squares(validation, solution.coefficients) / max(validation.n_rows, 1))),
        })
        candidates = kept[prunable[kept]]
        if kept_terms <= max_terms or len(candidates) == 0:
            return PruningResult(kept, columns, solution, rounds, restricted)
        coefficients = np.zeros(factor.r.shape[1])
        coefficients[columns] = solution.coefficients
        contribution = np.abs(coefficients[: n_centre * n_features] * column_norms[: n_centre * n_features])
        importance = contribution.reshape(n_centre, n_features).sum(axis=0) / np.maximum(terms, 1)
        n_drop = max(1, int(step * len(candidates)))
        dropped = candidates[np.argsort(importance[candidates], kind="stable")[:n_drop]]
        kept = np.setdiff1d(kept, dropped)
