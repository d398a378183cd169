"""Unit and sign conventions shared by every front end (docs/architecture.md, "Conventions").

Virial W = -Σ_pairs r_ij ⊗ ∂E_i/∂r_ij (eV); ASE stress σ = (1/V) ∂E/∂ε = -W/V (eV/Å³, tensile positive).
Voigt orders: ASE (xx, yy, zz, yz, xz, xy); LAMMPS virial (xx, yy, zz, xy, xz, yz).
"""

import numpy as np

ASE_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
LAMMPS_VOIGT = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def symmetric_part(matrices):
    """(M + Mᵀ)/2 over the last two axes of [..., 3, 3]."""
    matrices = np.asarray(matrices)
    return 0.5 * (matrices + np.swapaxes(matrices, -1, -2))


def to_voigt(matrices, order):
    """[..., 3, 3] -> [..., 6] in the given Voigt order (ASE_VOIGT or LAMMPS_VOIGT), from the symmetric part."""
    symmetric = symmetric_part(matrices)
    return np.stack([symmetric[..., a, b] for a, b in order], axis=-1)


def stress_from_virial(virial, volume):
    """ASE stress matrix [..., 3, 3] (eV/Å³) from virial matrices (eV) and the cell volume (Å³)."""
    return -np.asarray(virial) / volume
