"""The coefficients' posterior of a fit, calibrated on validation energies (lepot.calculator.uncertainty).

The ridge solution minimises L(w) = ½ (|R w − z|² + λ |D w|²) over the solved columns (R, z the
triangular factor of the weighted rows, D the solver's column scales with any smoothness prior, λ the
chosen strength in absolute units). Its Hessian H = Rᵀ R + λ D² = Cᵀ C; C is the R of the QR
factorisation of [R; √λ D], signs fixed so that its diagonal is positive. Read as a Bayesian model
(Gaussian noise of unit variance in the weighted rows, prior N(0, (λ D²)⁻¹)), the posterior covariance
of the coefficients is H⁻¹, and the posterior variance of a structure's energy is |C⁻ᵀ d|² (d: its
summed per-atom columns).

The weighted rows are not unit-noise in practice (the weights are the errors one accepts, and the model
is not exact), so two numbers are calibrated on the validation structures, never on test data: a scale
α² of the posterior and a noise τ (eV/atom) of energies beyond it, by maximising the Gaussian
likelihood of the validation energy residuals r_S (eV/atom),

    r_S ~ N(0, α² |C⁻ᵀ d_S|² / N_S² + τ²),   α² >= RSS / (n_rows − dof)

(the posterior is never taken narrower than the fit's own residuals make it).

Without at least MIN_CALIBRATION_STRUCTURES validation structures the fit's own noise estimate is used
instead: α² = RSS / (n_rows − dof) and τ = α / (energy row weight), the Bayesian reading of the weights.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from lepot.calculator import DescriptorCalculator, Potential
from lepot.calculator.uncertainty import Posterior

from .solver import residual_sum_of_squares
from .triangular import fold_rows

MIN_CALIBRATION_STRUCTURES = 5
CALIBRATION_RANGE = 40.0  # e-folds of α² searched above the fit's own noise estimate


@dataclass
class Calibration:
    """How posterior_scale and energy_noise were set (reported and kept in the metadata)."""

    method: str  # "validation" (maximum likelihood) or "fit" (the fit's noise estimate)
    n_structures: int  # validation structures used (0 for "fit")
    posterior_scale: float
    energy_noise: float  # eV/atom
    negative_log_likelihood: float = None  # of the validation residuals at the optimum ("validation" only)


def hessian_factor(factor, solution):
    """C [n][n] upper triangular with Cᵀ C = Rᵀ R + λ D² for the solved problem (``factor``: the factor of the
    solved columns; √λ D is the solution's ridge_root). None when the ridge is zero (the Hessian may then be
    singular)."""
    if not np.all(solution.ridge_root > 0):
        return None
    return fold_rows(factor.r, np.diag(solution.ridge_root), rows_triangular=True, positive_diagonal=True)


def structure_variances(posterior, basis, structures):
    """|C⁻ᵀ d_S|² / N_S² per structure (eV²/atom², unit noise) and |u_i|² of every atom (eV²)."""
    descriptors = DescriptorCalculator(basis)
    per_structure, per_atom = [], []
    for structure in structures:
        atoms = structure.atoms
        u = posterior.projections(basis.species_index(atoms.numbers), descriptors.compute(atoms).values)
        total = u.sum(axis=0)
        per_structure.append(total @ total / len(atoms) ** 2)
        per_atom.append(np.einsum("ij,ij->i", u, u))
    return np.array(per_structure), np.concatenate(per_atom) if per_atom else np.zeros(0)


def calibrate(variances, residuals, minimum_scale):
    """(α², τ, −ln likelihood) maximising the likelihood of ``residuals`` [n] (eV/atom) under
    N(0, α² variances + τ²) with α² >= ``minimum_scale`` (the fit's own noise estimate: the posterior is never
    taken narrower than the fit's residuals make it). The likelihood is profiled over τ² (a bounded 1-D
    search) on a grid of log α², then refined around the best grid point; deterministic."""
    variances, residuals = np.asarray(variances, float), np.asarray(residuals, float)
    mean_square = max(float(np.mean(residuals**2)), 1e-300)

    def negative_log_likelihood(scale, noise):
        total = scale * variances + noise
        return 0.5 * float(np.sum(np.log(2.0 * np.pi * total) + residuals**2 / total))

    def profile(log_scale):
        """(−ln likelihood, τ²) at the best τ² for α² = exp(log_scale); τ² in [1e-12, 10] × the mean square."""
        inner = minimize_scalar(lambda t: negative_log_likelihood(np.exp(log_scale), mean_square * np.exp(t)),
                                bounds=(np.log(1e-12), np.log(10.0)), method="bounded", options={"xatol": 1e-10})
        return inner.fun, mean_square * np.exp(inner.x)

    lowest = np.log(minimum_scale)
    grid = lowest + np.linspace(0.0, CALIBRATION_RANGE, 161)
    values = [profile(t)[0] for t in grid]
    best = int(np.argmin(values))
    refined = minimize_scalar(lambda t: profile(t)[0], bounds=(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]),
                              method="bounded", options={"xatol": 1e-10})
    log_scale = refined.x if refined.fun <= values[best] else grid[best]
    nll, noise = profile(log_scale)
    return float(np.exp(log_scale)), float(np.sqrt(noise)), float(nll)


def fitted_posterior(model, factor, solution, centre_embedding, fit_reference_energies, validation, train,
                     energy_weight):
    """(Posterior, Calibration) of a fitted ``model`` (None, None when the ridge is zero): the factor of the
    solved columns, calibrated on the ``validation`` structures with energies (module docstring);
    reference_variance is the median |u_i|² of their atoms (of ``train``'s without validation data)."""
    c = hessian_factor(factor, solution)
    if c is None:
        return None, None
    posterior = Posterior(centre_embedding, fit_reference_energies, c, 1.0, 0.0, 1.0)
    with_energy = [s for s in validation if s.energy is not None]
    rss = residual_sum_of_squares(factor, solution.coefficients)
    fit_scale = rss / max(factor.n_rows - solution.effective_parameters, 1.0)
    if len(with_energy) >= MIN_CALIBRATION_STRUCTURES:
        variances, atom_variances = structure_variances(posterior, model.basis, with_energy)
        potential = Potential(model, skin=0.0)
        residuals = [(potential.compute(s.atoms, per_atom_virials=False).energy - s.energy) / s.n_atoms
                     for s in with_energy]
        scale, noise, nll = calibrate(variances, residuals, fit_scale)
        calibration = Calibration("validation", len(with_energy), scale, noise, nll)
    else:
        _, atom_variances = structure_variances(posterior, model.basis, train)
        noise = float(np.sqrt(fit_scale)) / energy_weight if energy_weight > 0 else 0.0
        calibration = Calibration("fit", 0, fit_scale, noise)
    posterior.posterior_scale, posterior.energy_noise = calibration.posterior_scale, calibration.energy_noise
    posterior.reference_variance = float(np.median(atom_variances))
    return posterior, calibration
