"""Density coefficients against an independent implementation: featomic's LE spherical expansion.

featomic (0.6.7) with a Dirac-delta density, no central-atom contribution, the shifted-cosine cutoff
and its LaplacianEigenstate basis computes exactly A_{a_j, nlm}(i) = Σ_j R_nl(r_ij) Y_lm(r̂_ij) in the
same conventions (orthonormal real Y_lm, LE functions normalised to ∫ r² R² dr = 1), so the two must
agree to the accuracy of the two radial splines.
"""

import featomic
import numpy as np
import pytest
from structures import open_cluster, random_triclinic

from lepot.calculator import DescriptorCalculator, build_basis


def featomic_expansion(atoms, cutoff, n_max, l_max, width):
    from featomic.basis import LaplacianEigenstate
    from featomic.cutoff import Cutoff, ShiftedCosine
    from featomic.density import DiracDelta
    from featomic.splines import SoapSpliner

    spliner = SoapSpliner(
        cutoff=Cutoff(radius=cutoff, smoothing=ShiftedCosine(width=width)),
        density=DiracDelta(center_atom_weight=0.0),
        basis=LaplacianEigenstate(radius=cutoff, max_radial=n_max - 1, max_angular=l_max, spline_accuracy=1e-10),
    )
    return featomic.SphericalExpansion(**spliner.get_hypers()).compute(atoms)


@pytest.mark.parametrize(
    "atoms",
    [random_triclinic(["Mo", "W", "Nb"], 7, 4.8, seed=21), open_cluster(["Mo", "Ta"], 6, seed=22)],
    ids=["triclinic", "cluster"],
)
def test_density_matches_featomic(atoms):
    cutoff, n_max, l_max, width = 4.5, 5, 4, 1.0
    species = sorted(set(atoms.numbers))
    basis = build_basis(species, cutoff=cutoff, n_max=n_max, l_max=l_max, cutoff_width=width, spline_tolerance=1e-10)
    ours = DescriptorCalculator(basis).density(atoms)
    n_radial = basis.radial.n_radial
    nlm_offset = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(n_radial)])])
    n_nlm = nlm_offset[-1]
    compared = 0
    for key, block in featomic_expansion(atoms, cutoff, n_max, l_max, width).items():
        l, neighbour = int(key["o3_lambda"]), int(key["neighbor_type"])
        k = basis.atomic_numbers.index(neighbour)
        centres = block.samples.column("atom")
        start = k * n_nlm + nlm_offset[l]
        expected = ours[centres, start : start + n_radial[l] * (2 * l + 1)].reshape(len(centres), n_radial[l], 2 * l + 1)
        np.testing.assert_allclose(block.values, expected.transpose(0, 2, 1), atol=1e-8 * np.abs(ours).max(), rtol=0)
        compared += block.values.size
    assert compared == ours.size
