"""The posterior of a fitted potential's coefficients, and what it says about new environments.

A linear lepot potential is the minimiser of L(w) = ½ (|X w − y|² + λ |D w|²) over its design columns
(weighted rows X, y; the ridge the fit chose). The Hessian of L is H = Xᵀ X + λ D² = Cᵀ C, and the
parameter file's "uncertainty" object stores the triangular C (docs/uncertainty.md, core/posterior.hpp).
For a centre atom i its design columns are z_i (the per-atom part of an energy row: B(i) in the
coefficient block(s) of its species, 1 in its E0 column) and u_i = C⁻ᵀ z_i [n_columns], eV per unit noise:

    local prediction rigidity    LPR_i = 1 / |u_i|²                       eV⁻²   (Chong et al., JCTC 2023)
    local-energy uncertainty     σ_i   = sqrt((α² + β²) |u_i|² + η²)                     eV
    structure energy uncertainty σ_E   = sqrt(α² |Σ_i u_i|² + β² Σ_i |u_i|² + (τ N)² + η² N)   eV
    extrapolation grade          γ_i   = sqrt(|u_i|² / v_ref)        1 at the median validation environment

α² (posterior_scale), β² (local_variance_scale), τ (energy_noise, eV/atom) and η (atom_energy_noise, eV) are
calibrated by lepot fit on held-out energies (validation structures and the training structures' exact
leave-one-out errors); v_ref (reference_variance, eV²) is the median |u_i|² of the environments the
calibration saw.

Forces are observables too: the force on atom j along α is x_jα · w with the force row
x_jα = −Σ_i v(a_i) ∂B(i)/∂r_jα (zero in the E0 columns), so

    force uncertainty            σ_F,jα = sqrt(α_F² |C⁻ᵀ x_jα|²)          eV/Å

with α_F² (force_posterior_scale) calibrated on held-out forces.

Unlike σ_i and γ_i this is gauge-free: with several species, local energies can trade energy between
species without changing any total (directions of w that no data can pin, which inflate σ_i), but such a
direction changes no force either, so it adds nothing to σ_F. It needs the descriptors' position
gradients (about n_neighbours · 3 · n_features numbers per atom) and a triangular solve per force
component: meant for structures of up to a few hundred atoms, in ASE.
"""

import base64
from dataclasses import dataclass

import numpy as np

from . import _evaluator

#: The extra results an uncertainty evaluation gives (the ASE calculator's property names).
UNCERTAINTY_PROPERTIES = ("energy_uncertainty", "energies_uncertainty", "local_prediction_rigidity",
                          "extrapolation_grade")
#: Computed only when asked for by name (it needs the descriptors' position gradients).
FORCE_UNCERTAINTY_PROPERTY = "forces_uncertainty"


@dataclass
class Posterior:
    """The "uncertainty" object of a parameter file.

    centre_channels : [n_centre][n_species], v_κ(a): species a's share of coefficient block κ
    reference_energy_columns : whether the columns end with one E0 per species
    factor : [n_columns][n_columns] upper triangular C, H = Cᵀ C (columns in the fit's order)
    posterior_scale : α², dimensionless
    energy_noise : τ, eV/atom
    reference_variance : v_ref, eV²
    local_variance_scale : β², dimensionless (the core reader gives 0 for a format_version 4 file)
    force_posterior_scale : α_F², dimensionless (the core reader gives α² for a format_version 4 file)
    atom_energy_noise : η, eV (the core reader gives 0 for a format_version 4 or 5 file)
    """

    centre_channels: np.ndarray
    reference_energy_columns: bool
    factor: np.ndarray
    posterior_scale: float
    energy_noise: float
    reference_variance: float
    local_variance_scale: float
    force_posterior_scale: float
    atom_energy_noise: float

    def __post_init__(self):
        self.centre_channels = np.ascontiguousarray(self.centre_channels, dtype=np.float64)
        self.factor = np.ascontiguousarray(self.factor, dtype=np.float64)
        self._projectors = {}  # the core's evaluator per precision, made on first use (the factor is fixed from here on)

    @property
    def n_columns(self):
        return self.factor.shape[0]

    def to_dict(self):
        """The parameter file's "uncertainty" object: the factor packed row by row (C[j][j:]) as base64 of
        little-endian float64 (exact, and half the text of decimal numbers)."""
        packed = self.factor[np.triu_indices(self.n_columns)].astype("<f8")
        return {
            "centre_channels": self.centre_channels.tolist(),
            "reference_energy_columns": bool(self.reference_energy_columns),
            "factor": base64.b64encode(packed.tobytes()).decode("ascii"),
            "posterior_scale": float(self.posterior_scale),
            "local_variance_scale": float(self.local_variance_scale),
            "energy_noise": float(self.energy_noise),
            "atom_energy_noise": float(self.atom_energy_noise),
            "force_posterior_scale": float(self.force_posterior_scale),
            "reference_variance": float(self.reference_variance),
        }

    def projections(self, species_index, values, precision="double"):
        """u_i = C⁻ᵀ z_i, [n_atoms][n_columns] (eV per unit noise), for atoms of species ``species_index``
        [n_atoms] with descriptors ``values`` [n_atoms][n_features] (computed by the core, as in LAMMPS), in
        the arithmetic ``precision``: "double" (exact to round-off) or "single" (about twice as fast,
        |u|² within 1e-3 relative; docs/uncertainty.md)."""
        return self._core(values, precision).project(np.ascontiguousarray(species_index, dtype=np.int32),
                                                     np.ascontiguousarray(values, dtype=np.float64))

    def _core(self, values, precision):
        projector = self._projectors.get(precision)
        if projector is None or projector.n_features != values.shape[1]:
            projector = self._projectors[precision] = _evaluator.PosteriorProjector(self, values.shape[1], precision)
        return projector

    def evaluate(self, species_index, values, precision="double"):
        """{name: value} of UNCERTAINTY_PROPERTIES for one structure (module docstring): energy_uncertainty
        (eV), energies_uncertainty [n_atoms] (eV), local_prediction_rigidity [n_atoms] (eV⁻²),
        extrapolation_grade [n_atoms]; ``precision`` as for projections()."""
        u = self.projections(species_index, values, precision)  # shape [n_atoms][n_columns]
        atom_variance = np.einsum("ij,ij->i", u, u)  # shape [n_atoms], eV² per unit noise
        total = u.sum(axis=0)
        n_atoms = len(species_index)
        with np.errstate(divide="ignore"):  # an atom whose columns are all zero is pinned exactly: LPR = inf
            rigidity = 1.0 / atom_variance
        return {
            "energy_uncertainty": _evaluator.structure_energy_uncertainty(self, total @ total, atom_variance.sum(), n_atoms),
            "energies_uncertainty": _evaluator.local_energy_uncertainties(self, atom_variance),
            "local_prediction_rigidity": rigidity,
            "extrapolation_grade": np.sqrt(atom_variance / self.reference_variance),
        }

    def force_uncertainties(self, species_index, descriptors):
        """σ_F [n_atoms][3] in eV/Å (module docstring), for atoms of species ``species_index`` [n_atoms] and their
        ``descriptors`` (lepot.calculator.descriptors.Descriptors with position gradients)."""
        import scipy.linalg

        n_atoms = len(species_index)
        gradients = descriptors.channel_summed_position_gradients(self.centre_channels[:, species_index])
        rows = np.zeros((3 * n_atoms, self.n_columns))  # shape [3 n_atoms][n_columns]; E0 columns stay zero
        rows[:, : gradients.shape[2]] = gradients.reshape(3 * n_atoms, -1)
        u = scipy.linalg.solve_triangular(self.factor, rows.T, trans="T")  # C⁻ᵀ xᵀ, shape [n_columns][3 n_atoms]
        return np.sqrt(self.force_posterior_scale * np.einsum("kr,kr->r", u, u)).reshape(n_atoms, 3)


def posterior_from_content(content):
    """A Posterior from the core reader's "uncertainty" content, or None."""
    return None if content is None else Posterior(**content)
