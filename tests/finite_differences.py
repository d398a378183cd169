"""Reusable central finite-difference checks for per-structure quantities.

Each helper takes a function ``values(atoms) -> ndarray`` (any shape) and returns the numerical
derivative with the displaced structure built here, so the same helpers serve descriptors, energies
and stresses. Agreement is measured as max |analytic - numerical| / max |numerical|.
"""

import numpy as np


def relative_error(analytic, numerical):
    scale = np.max(np.abs(numerical))
    assert scale > 0, "numerical derivative is identically zero: the check would be vacuous"
    return float(np.max(np.abs(np.asarray(analytic) - numerical)) / scale)


def position_derivatives(values, atoms, displacement=1e-5):
    """∂values/∂r_{j,α}, shape [n_atoms][3] + values.shape, by central differences (Å)."""
    reference = np.asarray(values(atoms))
    result = np.zeros((len(atoms), 3) + reference.shape)
    for j in range(len(atoms)):
        for alpha in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, alpha] += displacement
            minus.positions[j, alpha] -= displacement
            result[j, alpha] = (np.asarray(values(plus)) - np.asarray(values(minus))) / (2 * displacement)
    return result


def strained(atoms, strain):
    """Copy of atoms with positions and cell mapped by r -> (1 + ε) r (row-vector convention)."""
    deformation = np.eye(3) + strain
    result = atoms.copy()
    result.positions = atoms.positions @ deformation.T
    result.cell = atoms.cell.array @ deformation.T
    return result


def strain_derivatives(values, atoms, displacement=1e-5):
    """∂values/∂ε_{αβ}, shape [3][3] + values.shape, for the homogeneous deformation r -> (1 + ε) r."""
    reference = np.asarray(values(atoms))
    result = np.zeros((3, 3) + reference.shape)
    for alpha in range(3):
        for beta in range(3):
            step = np.zeros((3, 3))
            step[alpha, beta] = displacement
            result[alpha, beta] = (np.asarray(values(strained(atoms, step))) - np.asarray(values(strained(atoms, -step)))) / (
                2 * displacement
            )
    return result


def assert_exact_loss_gradient(problem, theta, step=1e-5):
    """A variable-projection problem (calibrate, loss, loss_and_gradient) calibrated at θ has a real residual
    there (loss > 1e-4, so the gradient is not round-off) and its analytic gradient equals central
    differences to 1e-6 relative to the largest component."""
    problem.calibrate(theta, 0.01)
    loss, gradient = problem.loss_and_gradient(theta)
    assert loss > 1e-4
    numerical = np.array(
        [(problem.loss(theta + step * e) - problem.loss(theta - step * e)) / (2 * step) for e in np.eye(theta.size)]
    )
    assert np.abs(gradient - numerical).max() <= 1e-6 * np.abs(numerical).max()
