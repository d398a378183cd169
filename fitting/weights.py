"""Energy, force and stress weights chosen from the training data by the Bayesian evidence.

The rows of each target t (energy, forces, stress) are reduced into their own triangular factor R_t, z_t, ρ_t
(lepot.fitting.design.reduce_structures_by_target), with the config's weights applied. A Gaussian model
with one noise precision β_t per target and the prior N(0, α⁻¹ I) on the column-scaled weights w' = D w
(D: the column norms of the merged factor at the config's weights, fixed while searching) has the
evidence (n_t rows of target t, m columns, G_t = R_t'ᵀ R_t' with R_t' = R_t D⁻¹, b_t = R_t'ᵀ z_t)

    ln p = Σ_t (n_t/2) ln β_t + (m/2) ln α − ½ Σ_t β_t RSS_t(w') − (α/2) |w'|² − ½ ln det A − (n/2) ln 2π
    A = α I + Σ_t β_t G_t,   w' = A⁻¹ Σ_t β_t b_t,   RSS_t = |R_t' w' − z_t|² + ρ_t²

maximised over ln α and ln β_t by L-BFGS with the exact gradient (the envelope theorem at w'):

    ∂ ln p / ∂ ln β_t = n_t/2 − β_t RSS_t/2 − β_t tr(A⁻¹ G_t)/2,   ∂ ln p / ∂ ln α = m/2 − α|w'|²/2 − α tr(A⁻¹)/2.

One Cholesky of A (m × m) and triangular solves per step, from the factors alone. The chosen weights are the
config's times √(β_t / β_forces) (forces keep their weight; only ratios matter, the ridge absorbs the rest);
1/√β_t is the fitted noise of target t in its row units. Targets without rows keep their weight.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import minimize

from .solver import merged_factor

TARGETS = ("energy", "forces", "stress")
EXTRA_FACTORS = 12  # (m+1)² arrays held while choosing (for the memory estimate): the 3 per-target factors,
#                    their scaled copies and Gram matrices (6), A, its Cholesky factor and L⁻¹ (3)
POLISH_STEPS = 4  # Newton steps after L-BFGS (each 2 (1 + number of targets) gradient evaluations)
HESSIAN_STEP = 1e-4  # in ln α, ln β


@dataclass
class WeightChoice:
    multipliers: dict  # {target: factor on the config's weight}, forces 1
    noise: dict  # {target: 1/√β_t, the fitted noise in the config-weighted row units}
    relative_lambda: float  # α / (largest eigenvalue of Σ β_t G_t), the evidence's own ridge
    log_evidence: float


class TargetEvidence:
    """The evidence of the per-target factors as a function of (ln α, ln β_t) (see the module docstring)."""

    def __init__(self, factors):
        """factors: {target: TriangularFactor} with the config's weights applied; targets without rows are ignored."""
        self.targets = [t for t in TARGETS if t in factors and factors[t].n_rows > 0]
        if not self.targets:
            raise ValueError("no rows to choose weights from")
        merged = merged_factor([factors[t] for t in self.targets])
        norms = np.sqrt((merged.r * merged.r).sum(axis=0))
        scale = np.where(norms > 0, norms, 1.0)
        self.m = merged.r.shape[1]
        self.r = {t: factors[t].r / scale for t in self.targets}  # R_t' [m][m]
        self.z = {t: factors[t].z for t in self.targets}
        self.rho2 = {t: factors[t].residual_outside for t in self.targets}
        self.n = {t: factors[t].n_rows for t in self.targets}
        self.gram = {t: self.r[t].T @ self.r[t] for t in self.targets}  # G_t
        self.rhs = {t: self.r[t].T @ self.z[t] for t in self.targets}  # b_t

    def negative_log_evidence(self, parameters, with_gradient=True):
        """(−ln p, its gradient) at parameters = [ln α, ln β_t for each target in self.targets]."""
        alpha = np.exp(parameters[0])
        beta = dict(zip(self.targets, np.exp(parameters[1:])))
        matrix = alpha * np.eye(self.m) + sum(beta[t] * self.gram[t] for t in self.targets)
        cholesky = cho_factor(matrix, lower=True)
        weights = cho_solve(cholesky, sum(beta[t] * self.rhs[t] for t in self.targets))
        rss = {t: float(np.sum((self.r[t] @ weights - self.z[t]) ** 2) + self.rho2[t]) for t in self.targets}
        log_det = 2.0 * float(np.sum(np.log(np.diag(cholesky[0]))))
        n_total = sum(self.n.values())
        log_evidence = (sum(0.5 * self.n[t] * np.log(beta[t]) - 0.5 * beta[t] * rss[t] for t in self.targets)
                        + 0.5 * self.m * np.log(alpha) - 0.5 * alpha * float(weights @ weights)
                        - 0.5 * log_det - 0.5 * n_total * np.log(2.0 * np.pi))
        if not with_gradient:
            return -log_evidence, None
        lower = np.tril(cholesky[0])
        inverse_trace = float(np.sum(solve_triangular(lower, np.eye(self.m), lower=True) ** 2))  # tr(A⁻¹)
        gradient = [0.5 * self.m - 0.5 * alpha * float(weights @ weights) - 0.5 * alpha * inverse_trace]
        for t in self.targets:
            trace = float(np.sum(solve_triangular(lower, self.r[t].T, lower=True) ** 2))  # tr(A⁻¹ G_t)
            gradient.append(0.5 * self.n[t] - 0.5 * beta[t] * rss[t] - 0.5 * beta[t] * trace)
        return -log_evidence, -np.array(gradient)

    def start(self):
        """A starting point: β_t from each target's residual of a lightly damped joint fit, α 1e-8 of the scale."""
        largest = max(float(np.linalg.eigvalsh(self.gram[t])[-1]) for t in self.targets)
        alpha = 1e-8 * largest
        matrix = alpha * np.eye(self.m) + sum(self.gram[t] for t in self.targets)
        weights = np.linalg.solve(matrix, sum(self.rhs[t] for t in self.targets))
        rss = [float(np.sum((self.r[t] @ weights - self.z[t]) ** 2) + self.rho2[t]) for t in self.targets]
        return np.log([alpha] + [max(self.n[t], 1) / max(value, 1e-300) for t, value in zip(self.targets, rss)])

    def choose(self):
        """WeightChoice at the evidence maximum: L-BFGS, then Newton steps on the exact gradient (Hessian by
        central differences of it) until the step is below 1e-10, so that round-off in the factors (serial
        against MPI) moves the result by round-off only, not by where an optimiser happened to stop."""
        result = minimize(lambda x: self.negative_log_evidence(x), self.start(), jac=True, method="L-BFGS-B",
                          options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-8})
        parameters = result.x
        for _ in range(POLISH_STEPS):
            gradient = self.negative_log_evidence(parameters)[1]
            hessian = np.empty((len(parameters), len(parameters)))
            for k in range(len(parameters)):
                step = np.zeros(len(parameters))
                step[k] = HESSIAN_STEP
                hessian[:, k] = (self.negative_log_evidence(parameters + step)[1]
                                 - self.negative_log_evidence(parameters - step)[1]) / (2 * HESSIAN_STEP)
            update = np.linalg.solve(0.5 * (hessian + hessian.T), gradient)
            parameters = parameters - update
            if np.max(np.abs(update)) < 1e-10:
                break
        value = self.negative_log_evidence(parameters, False)[0]
        alpha, betas = np.exp(parameters[0]), dict(zip(self.targets, np.exp(parameters[1:])))
        reference = betas.get("forces", betas[self.targets[0]])
        largest = float(np.linalg.eigvalsh(sum(betas[t] * self.gram[t] for t in self.targets))[-1])
        return WeightChoice(
            multipliers={t: float(np.sqrt(betas[t] / reference)) if t in betas else 1.0 for t in TARGETS},
            noise={t: float(1.0 / np.sqrt(b)) for t, b in betas.items()},
            relative_lambda=float(alpha / largest),
            log_evidence=float(-value),
        )


def reweighted_factor(factors, multipliers):
    """The merged factor of the per-target factors with target t's rows multiplied by multipliers[t]."""
    scaled = []
    for target in TARGETS:
        factor = factors.get(target)
        if factor is None or factor.n_rows == 0:
            continue
        weight = multipliers[target]
        copy = type(factor)(factor.n_columns)
        copy.augmented = factor.augmented * weight
        copy.n_rows = factor.n_rows
        scaled.append(copy)
    return merged_factor(scaled)
