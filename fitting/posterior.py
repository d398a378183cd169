"""The coefficients' posterior of a fit, calibrated on held-out errors (lepot.calculator.uncertainty).

The ridge solution minimises L(w) = ½ (|R w − z|² + λ |D w|²) over the solved columns (R, z the
triangular factor of the weighted rows, D the solver's column scales with any smoothness prior, λ the
chosen strength in absolute units). Its Hessian H = Rᵀ R + λ D² = Cᵀ C; C is the R of the QR
factorisation of [R; √λ D], signs fixed so that its diagonal is positive. Read as a Bayesian model
(Gaussian noise of unit variance in the weighted rows, prior N(0, (λ D²)⁻¹)), the posterior covariance
of the coefficients is H⁻¹, and the posterior variance of a structure's energy is |C⁻ᵀ d|² (d: its
summed per-atom columns).

The weighted rows are not unit-noise in practice (the weights are the errors one accepts, and the model
is not exact), so the scales are calibrated on held-out errors, never on test data: the errors of up to
MAX_HELD_OUT validation structures and the exact leave-one-out errors of up to MAX_HELD_OUT training
structures (each evenly spaced in its split's order). Leaving structure S out of the ridge at the fit's λ
is exact in closed form: with X_S its weighted rows, r_S their residuals, V = C⁻ᵀ X_Sᵀ and K = I − VᵀV,

    r_S,held-out = K⁻¹ r_S,    tᵀ H_{−S}⁻¹ t = |C⁻ᵀ t|² + |(C⁻ᵀ t)ᵀ V K^{-½}|²   (Woodbury)

so every variance below is the one of the posterior that did not see S. Energies (eV/atom, per structure of
N atoms, u_i = C⁻ᵀ z_i):

    r_S ~ N(0, α² |Σ_i u_i|² / N² + β² Σ_i |u_i|² / N² + τ² + η² / N),   α² >= RSS / (n_rows − dof)

by maximum likelihood: α² the posterior's scale (never narrower than the fit's own residuals make it), β²
an independent error of each local energy as large as its own posterior variance (local energies are not
observables: the posterior pins their sum, |Σ u_i|² ≪ Σ |u_i|², and held-out energy errors follow the
local variances too; benchmarks/uncertainty_loo.py), τ (eV/atom) a noise of the energy per atom beyond
them, common to the structure's atoms, and η (eV) one independent between its atoms (the data decide
between the two, benchmarks/RESULTS.md "σ_E with an independent noise per atom"). Forces (eV/Å, per
component with force row x): r ~ N(0, α_F² |C⁻ᵀ x|²), α_F² = the mean of r² / |C⁻ᵀ x|² (its maximum-likelihood
value; forces have a scale of their own because their errors are not the energies'), over the components
whose variance is not a round-off zero (force_scale).

With fewer than MIN_CALIBRATION_STRUCTURES held-out energies the fit's own noise estimate is used instead:
α² = α_F² = RSS / (n_rows − dof), β² = η = 0 and τ = α / (energy row weight), the Bayesian reading of the
weights.
"""

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import minimize

from lepot.calculator.model import Model
from lepot.calculator.uncertainty import Posterior

from .design import RowBuilder
from .solver import residual_sum_of_squares
from .triangular import fold_rows

MIN_CALIBRATION_STRUCTURES = 5
MAX_HELD_OUT = 400  # validation and left-out training structures (each) of the calibration: bounds its cost
NEGLIGIBLE_VARIANCE = 1e-10  # force-row variances below this share of the median are round-off zeros
LOG_SCALE_RANGE = 60.0  # e-folds each calibrated scale may lie from the one that alone explains the errors
TIE_TOLERANCE = 1e-9  # relative: a later calibration choice must be this much more likely to replace an earlier one


@dataclass
class Calibration:
    """How the posterior's scales were set (reported and kept in the metadata)."""

    method: str  # "held-out" (maximum likelihood) or "fit" (the fit's noise estimate)
    n_validation: int  # validation structures with energies used (0 for "fit")
    n_left_out: int  # training structures left out in turn (0 for "fit")
    posterior_scale: float  # α²
    local_variance_scale: float  # β²
    energy_noise: float  # τ, eV/atom
    atom_energy_noise: float  # η, eV
    force_posterior_scale: float  # α_F²
    negative_log_likelihood: float = None  # of the held-out energy residuals at the optimum ("held-out" only)


@dataclass
class HeldOutErrors:
    """Held-out errors and the variances of the posterior that did not see them (unit noise): per structure
    with an energy, and per force component."""

    energy_residuals: np.ndarray  # [n_structures] eV/atom
    summed_variances: np.ndarray  # [n_structures] |Σ_i u_i|² / N², eV²/atom²
    local_variances: np.ndarray  # [n_structures] Σ_i |u_i|² / N², eV²/atom²
    atom_counts: np.ndarray  # [n_structures] N
    force_residuals: np.ndarray  # [n_components] eV/Å
    force_variances: np.ndarray  # [n_components] |C⁻ᵀ x|² of each force row x, eV²/Å²
    atom_variances: np.ndarray  # [n_atoms] |u_i|² of every atom seen, with the full posterior (eV²)

    @classmethod
    def joined(cls, parts):
        """One HeldOutErrors of several (each field concatenated in the given order)."""
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__dataclass_fields__))


def force_scale(residuals, variances):
    """α_F², the maximum-likelihood scale of r ~ N(0, α_F² |C⁻ᵀ x|²) for force ``residuals`` [n] (eV/Å) and their
    ``variances`` |C⁻ᵀ x|² [n]: the mean of r² / |C⁻ᵀ x|² over the components whose variance is not a round-off
    zero (a force row that vanishes by symmetry, as in a perfect crystal, computes to ~1e-14 of a typical row:
    its ratio would be DFT noise over round-off). None without such components."""
    if len(variances) == 0:
        return None
    informed = variances > NEGLIGIBLE_VARIANCE * np.median(variances)
    if not informed.any():
        return None
    return float(np.mean(residuals[informed] ** 2 / variances[informed]))


def fitted_row_weights(model):
    """The row weights (energy, forces, stress, config_types) ``model`` was fitted with, from its metadata
    (the weights chosen by the evidence when the fit chose them)."""
    fit = model.metadata.get("fit", {})
    try:
        weights = dict(fit["config"]["weights"])
    except (KeyError, TypeError):
        raise ValueError("the parameter file's metadata does not record the row weights of its fit "
                         "(metadata.fit.config.weights); select needs a file written by lepot fit") from None
    chosen = (fit.get("solver") or {}).get("chosen_weights")
    if chosen is not None:
        weights.update(chosen["weights"])
    return weights


def posterior_row_builder(model, posterior, targets=True):
    """The RowBuilder of a fitted ``model`` in the columns of ``posterior`` (its pruned basis, its centre
    channels, E0 columns when fitted), with the row weights it was fitted with; with ``targets``, its fixed
    reference energies and core repulsion taken off the targets as in the fit (without, the targets are not
    meaningful and the core repulsion is not evaluated: rows X alone, as selection needs)."""
    given = None if posterior.reference_energy_columns or not targets else np.asarray(model.reference_energies, float)
    core = Model.core_repulsion_only(model.basis) if targets else None
    return RowBuilder(model.basis, fitted_row_weights(model), posterior.reference_energy_columns, given, core,
                      posterior.centre_channels)


def hessian_factor(factor, solution):
    """C [n][n] upper triangular with Cᵀ C = Rᵀ R + λ D² for the solved problem (``factor``: the factor of the
    solved columns; √λ D is the solution's ridge_root). None when the ridge is zero (the Hessian may then be
    singular)."""
    if not np.all(solution.ridge_root > 0):
        return None
    return fold_rows(factor.r, np.diag(solution.ridge_root), rows_triangular=True, positive_diagonal=True)


def held_out_errors(model, posterior, coefficients, structures, leave_out):
    """HeldOutErrors of ``structures`` under the fitted ``model`` (its ``posterior`` at unit noise and solved
    ``coefficients`` [n_columns]): with ``leave_out``, each structure exactly left out of the fit (module
    docstring; a structure that alone pins some direction of the coefficients to round-off has no held-out
    value and is skipped), else as they are (structures the fit never saw)."""
    builder = posterior_row_builder(model, posterior)
    factor = posterior.factor
    residuals, summed, local, counts, force_residuals, force_variances, atom_variances = [], [], [], [], [], [], []
    for structure in structures:
        by_target, values = builder.rows_and_descriptors(structure)  # values: B(i) [n_atoms][n_features]
        if not by_target:
            continue
        rows = np.vstack([x for x, _ in by_target.values()])  # shape [m][n_columns]
        residual = rows @ coefficients - np.concatenate([y for _, y in by_target.values()])  # shape [m]
        v = solve_triangular(factor, rows.T, trans="T")  # C⁻ᵀ X_Sᵀ, shape [n_columns][m]
        if leave_out:
            try:  # K = I − X_S H⁻¹ X_Sᵀ [m][m], positive definite with a ridge
                keep = cho_factor(np.eye(len(residual)) - v.T @ v)
            except np.linalg.LinAlgError:  # the structure alone pins a direction to round-off: no held-out value
                continue
            residual = cho_solve(keep, residual)

        def variances(t):  # tᵀ H_{−S}⁻¹ t of the columns of t = C⁻ᵀ z [n_columns][k]
            plain = np.einsum("nk,nk->k", t, t)
            if not leave_out:
                return plain
            coupled = v.T @ t  # shape [m][k]
            return plain + np.einsum("mk,mk->k", coupled, cho_solve(keep, coupled))

        weights = builder.structure_row_weights(structure)
        offset = 0
        if "energy" in by_target:
            atoms = structure.atoms
            n_atoms = len(atoms)
            u = posterior.projections(model.basis.species_index(atoms.numbers), values)  # shape [n_atoms][n_columns]
            atom_variances.append(np.einsum("ij,ij->i", u, u))
            residuals.append(residual[0] / weights["energy"])
            summed.append(variances(u.sum(axis=0)[:, None])[0] / n_atoms**2)
            local.append(variances(u.T).sum() / n_atoms**2)
            counts.append(n_atoms)
            offset = 1
        if "forces" in by_target:
            count = len(by_target["forces"][1])
            force_variances.append(variances(v[:, offset : offset + count]) / weights["forces"] ** 2)
            force_residuals.append(residual[offset : offset + count] / weights["forces"])
    concatenated = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return HeldOutErrors(np.array(residuals, float), np.array(summed, float), np.array(local, float),
                         np.array(counts, float), concatenated(force_residuals), concatenated(force_variances),
                         concatenated(atom_variances))


def calibrate(summed_variances, local_variances, atom_counts, residuals, minimum_scale):
    """(α², β², τ, η, −ln likelihood) maximising the likelihood of ``residuals`` [n] (eV/atom) under
    N(0, α² summed_variances + β² local_variances + τ² + η² / atom_counts) with α² >= ``minimum_scale`` (the fit's
    own noise estimate: the posterior is never taken narrower than the fit's residuals make it) and β², τ², η² >= 0.
    For each of the 8 choices of which of β², τ², η² are zero, the others and α² by bounded L-BFGS-B on their
    logarithms, in units that would explain the residuals' mean square alone, from calibration_starts (the
    likelihood can have several maxima); the best of all, an earlier choice kept unless a later one is more
    likely by more than TIE_TOLERANCE. The order tries τ before η: when the data cannot tell them apart (every
    structure of one size, where τ² and η²/N are the same column) σ_E takes τ, the per-atom error that does
    not shrink in a larger box. Deterministic."""
    residuals = np.asarray(residuals, float)
    components = np.column_stack([summed_variances, local_variances, 1.0 / np.asarray(atom_counts, float),
                                  np.ones(len(residuals))])  # shape [n][4]: α², β², η², τ²
    squares = residuals**2
    unit = max(float(np.mean(squares)), 1e-300) / np.maximum(components.mean(axis=0), 1e-300)
    scaled = components * unit
    floor = max(np.log(minimum_scale / unit[0]), -LOG_SCALE_RANGE)

    def negative_log_likelihood(log_theta, active):  # (value, gradient in the active logarithms)
        theta = np.zeros(4)
        theta[active] = np.exp(log_theta)
        total = scaled @ theta
        gradient = 0.5 * scaled.T @ (1.0 / total - squares / total**2)
        return 0.5 * float(np.sum(np.log(2.0 * np.pi * total) + squares / total)), gradient[active] * theta[active]

    best_nll, best_theta = np.inf, None
    for zeros in itertools.product([True, False], repeat=3):  # (β², η², τ²) zero; τ² alone comes before η² alone
        active = np.array([True, *(not zero for zero in zeros)])
        bounds = [(floor, max(floor, LOG_SCALE_RANGE))] + [(-LOG_SCALE_RANGE, LOG_SCALE_RANGE)] * (int(active.sum()) - 1)
        for start in calibration_starts(int(active.sum())):
            result = minimize(negative_log_likelihood, np.maximum(np.log(start), [b[0] for b in bounds]), args=(active,),
                              jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 2000})
            if best_theta is None or result.fun < best_nll - TIE_TOLERANCE * max(1.0, abs(best_nll)):
                best_nll, best_theta = float(result.fun), np.zeros(4)
                best_theta[active] = np.exp(result.x)
    scale, local, atom_noise2, noise2 = np.maximum(best_theta * unit, [minimum_scale, 0.0, 0.0, 0.0])
    return float(scale), float(local), float(np.sqrt(noise2)), float(np.sqrt(atom_noise2)), best_nll


def calibration_starts(k):
    """Starting shares of the mean square for k active scales: all equal, and each one dominant in turn."""
    if k == 1:
        return [np.ones(1)]
    return [np.full(k, 1.0 / k)] + [np.where(np.arange(k) == j, 0.9, 0.1 / (k - 1)) for j in range(k)]


def held_out_sample(structures):
    """The structures of a split the calibration uses: all of them, or MAX_HELD_OUT evenly spaced."""
    if len(structures) <= MAX_HELD_OUT:
        return list(structures)
    return [structures[k] for k in np.linspace(0, len(structures) - 1, MAX_HELD_OUT).round().astype(int)]


def fitted_posterior(model, factor, solution, centre_embedding, fit_reference_energies, validation, train,
                     energy_weight, communicator=None):
    """(Posterior, Calibration) of a fitted ``model`` (None, None when the ridge is zero): the factor of the
    solved columns, calibrated on held-out errors of the ``validation`` structures and of ``train``'s left out
    in turn (module docstring); reference_variance is the median |u_i|² of those validation atoms (of the
    left-out training structures' atoms without validation data). Under MPI every rank of ``communicator``
    calls it and computes the held-out errors of its share of the structures; rank 0 calibrates and returns
    the result, the other ranks (None, None)."""
    c = hessian_factor(factor, solution)
    if c is None:
        return None, None
    posterior = Posterior(centre_embedding, fit_reference_energies, c, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0)  # unit noise
    rank, size = (0, 1) if communicator is None else (communicator.Get_rank(), communicator.Get_size())
    validation = held_out_sample([s for s in validation if s.energy is not None])[rank::size]
    seen = held_out_errors(model, posterior, solution.coefficients, validation, leave_out=False)
    left_out = held_out_errors(model, posterior, solution.coefficients, held_out_sample(train)[rank::size],
                               leave_out=True)
    if communicator is not None:
        gathered = communicator.gather((seen, left_out), root=0)
        if rank != 0:
            return None, None
        seen, left_out = (HeldOutErrors.joined([parts[k] for parts in gathered]) for k in (0, 1))
    rss = residual_sum_of_squares(factor, solution.coefficients)
    fit_scale = rss / max(factor.n_rows - solution.effective_parameters, 1.0)
    held_out = HeldOutErrors.joined([seen, left_out])
    if len(held_out.energy_residuals) >= MIN_CALIBRATION_STRUCTURES:
        scale, local, noise, atom_noise, nll = calibrate(held_out.summed_variances, held_out.local_variances,
                                                         held_out.atom_counts, held_out.energy_residuals, fit_scale)
        forces = force_scale(held_out.force_residuals, held_out.force_variances) or scale
        calibration = Calibration("held-out", len(seen.energy_residuals), len(left_out.energy_residuals), scale, local,
                                  noise, atom_noise, forces, nll)
    else:
        noise = float(np.sqrt(fit_scale)) / energy_weight if energy_weight > 0 else 0.0
        calibration = Calibration("fit", 0, 0, fit_scale, 0.0, noise, 0.0, fit_scale)
    posterior.posterior_scale, posterior.local_variance_scale = calibration.posterior_scale, calibration.local_variance_scale
    posterior.energy_noise, posterior.atom_energy_noise = calibration.energy_noise, calibration.atom_energy_noise
    posterior.force_posterior_scale = calibration.force_posterior_scale
    atom_variances = seen.atom_variances if len(seen.atom_variances) else left_out.atom_variances
    posterior.reference_variance = float(np.median(atom_variances))
    return posterior, calibration
