"""Descriptors and their analytic gradients: finite differences, invariances, cutoff continuity,
compression, thread determinism and input errors."""

import dataclasses

import numpy as np
import pytest
from ase import Atoms
from finite_differences import position_derivatives, relative_error, strain_derivatives
from scipy.spatial.transform import Rotation
from structures import open_cluster, random_triclinic, slab

from lepot.calculator import DescriptorCalculator, build_basis

SPECIES = ["Mo", "Nb", "Ta", "W"]


@pytest.fixture(scope="module")
def calculator():
    return DescriptorCalculator(build_basis(SPECIES, cutoff=4.5, n_max=5, l_max=4))


STRUCTURES = {
    "triclinic-4-elements": lambda: random_triclinic(SPECIES, 8, 4.6, seed=10),
    "cell-smaller-than-cutoff": lambda: random_triclinic(["Mo", "W", "Nb"], 3, 2.9, seed=11),
    "one-atom-cell": lambda: random_triclinic(["Ta"], 1, 2.8, seed=12),
    "open-cluster": lambda: open_cluster(["Mo", "Ta", "W"], 7, seed=13),
    "slab": lambda: slab(SPECIES, seed=14),
}


@pytest.mark.parametrize("name", [name for name in STRUCTURES if name != "one-atom-cell"])
def test_position_gradients_match_finite_differences(calculator, name):
    atoms = STRUCTURES[name]()
    result = calculator.compute(atoms, gradients=("positions",))
    numerical = position_derivatives(lambda a: calculator.compute(a).values, atoms)
    analytic = result.dense_position_gradients().transpose(1, 2, 0, 3)  # [j][α][i][q]
    assert relative_error(analytic, numerical) <= 1e-6


@pytest.mark.parametrize("name", ["triclinic-4-elements", "cell-smaller-than-cutoff", "one-atom-cell", "slab"])
def test_strain_gradients_match_finite_differences(calculator, name):
    atoms = STRUCTURES[name]()
    result = calculator.compute(atoms, gradients=("strain",))
    numerical = strain_derivatives(lambda a: calculator.compute(a).values, atoms)
    assert relative_error(result.strain_gradients.transpose(1, 2, 0, 3), numerical) <= 1e-6


def test_values_do_not_depend_on_requested_gradients(calculator):
    atoms = STRUCTURES["triclinic-4-elements"]()
    plain = calculator.compute(atoms).values
    both = calculator.compute(atoms, gradients=("positions", "strain")).values
    np.testing.assert_array_equal(plain, both)


def test_every_centre_has_its_own_gradient_sample(calculator):
    atoms = STRUCTURES["open-cluster"]()
    result = calculator.compute(atoms, gradients=("positions",))
    samples = {tuple(s) for s in result.gradient_samples.tolist()}
    assert all((i, i) in samples for i in range(len(atoms)))
    # translation invariance: Σ_j ∂B(i)/∂r_j = 0 for every centre
    dense = result.dense_position_gradients()
    assert np.max(np.abs(dense.sum(axis=1))) < 1e-12 * np.max(np.abs(dense))


def random_orthogonal(seed, inversion):
    matrix = Rotation.random(random_state=seed).as_matrix()
    return -matrix if inversion else matrix


@pytest.mark.parametrize("inversion", [False, True], ids=["rotation", "rotoinversion"])
def test_rotation_and_inversion_invariance(calculator, inversion):
    for atoms in [STRUCTURES["triclinic-4-elements"](), STRUCTURES["open-cluster"]()]:
        reference = calculator.compute(atoms).values
        rotation = random_orthogonal(3, inversion)
        rotated = atoms.copy()
        rotated.positions = atoms.positions @ rotation.T
        rotated.cell = atoms.cell.array @ rotation.T
        np.testing.assert_allclose(calculator.compute(rotated).values, reference, atol=1e-10, rtol=0)


def test_translation_permutation_and_wrapping_invariance(calculator):
    atoms = STRUCTURES["triclinic-4-elements"]()
    reference = calculator.compute(atoms).values
    moved = atoms.copy()
    moved.positions += [1.3, -7.2, 0.4]
    np.testing.assert_allclose(calculator.compute(moved).values, reference, atol=1e-10, rtol=0)

    permutation = np.random.default_rng(5).permutation(len(atoms))
    permuted = atoms[permutation]
    np.testing.assert_allclose(calculator.compute(permuted).values, reference[permutation], atol=1e-10, rtol=0)

    images = atoms.copy()
    images.positions += np.random.default_rng(6).integers(-3, 4, size=(len(atoms), 3)) @ atoms.cell.array
    np.testing.assert_allclose(calculator.compute(images).values, reference, atol=1e-10, rtol=0)
    images.wrap()
    np.testing.assert_allclose(calculator.compute(images).values, reference, atol=1e-10, rtol=0)


def test_continuity_as_a_neighbour_crosses_the_cutoff():
    calculator = DescriptorCalculator(build_basis(["Mo", "W"], cutoff=4.0, n_max=5, l_max=3, cutoff_width=0.8))
    direction = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])

    def dimer(distance):
        return Atoms("MoW", positions=[[0, 0, 0], distance * direction])

    isolated = calculator.compute(dimer(4.5)).values
    assert np.all(isolated == 0.0)
    previous = None
    for gap in [1e-2, 1e-3, 1e-4, 1e-5]:
        result = calculator.compute(dimer(4.0 - gap), gradients=("positions",))
        value_jump = np.max(np.abs(result.values - isolated))
        gradient_jump = np.max(np.abs(result.position_gradients))
        # f_c ~ gap^2 and df_c/dr ~ gap near r_c; B is quadratic in f_c so it goes as gap^4
        if previous is not None:
            assert value_jump < previous[0] * 1e-2 and gradient_jump < previous[1] * 0.2
        previous = (value_jump, gradient_jump)
    assert previous[0] < 1e-15 and previous[1] < 1e-8


def test_identity_embedding_equals_uncompressed():
    atoms = STRUCTURES["triclinic-4-elements"]()
    plain = DescriptorCalculator(build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3))
    identity = DescriptorCalculator(build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3, embedding=np.eye(4)))
    a = plain.compute(atoms, gradients=("positions", "strain"))
    b = identity.compute(atoms, gradients=("positions", "strain"))
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.position_gradients, b.position_gradients)
    np.testing.assert_array_equal(a.strain_gradients, b.strain_gradients)


def power_spectrum_from_density(density, n_radial, n_pseudo):
    """Independent dense reference for ν = 1, 2 features from A [n_atoms][n_pseudo * n_nlm]."""
    n_atoms = density.shape[0]
    n_nlm = sum(n * (2 * l + 1) for l, n in enumerate(n_radial))
    blocks = density.reshape(n_atoms, n_pseudo, n_nlm)
    features = [blocks[:, :, : n_radial[0]].reshape(n_atoms, -1)]  # l = 0 block: m has one value
    offset = 0
    for l, n in enumerate(n_radial):
        block = blocks[:, :, offset : offset + n * (2 * l + 1)].reshape(n_atoms, n_pseudo * n, 2 * l + 1)
        offset += n * (2 * l + 1)
        products = np.einsum("icm,idm->icd", block, block) / np.sqrt(2 * l + 1)
        upper = np.triu_indices(n_pseudo * n)
        features.append(products[:, upper[0], upper[1]])
    return np.concatenate(features, axis=1)


@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "per-radial-channel"])
def test_compressed_density_is_the_contracted_element_density(per_channel):
    atoms = STRUCTURES["triclinic-4-elements"]()
    rng = np.random.default_rng(7)
    n_pseudo = 2
    reference_basis = build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3)
    n_radial = reference_basis.radial.n_radial
    shape = (n_pseudo, n_radial[0], 4) if per_channel else (n_pseudo, 4)
    u = rng.normal(size=shape)
    compressed_basis = build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3, embedding=u)

    element_density = DescriptorCalculator(reference_basis).density(atoms)  # [i][a * n_nlm + nlm]
    n_nlm = element_density.shape[1] // 4
    radial_of_nlm = np.concatenate([np.repeat(np.arange(n), 2 * l + 1) for l, n in enumerate(n_radial)])
    u_full = u[:, radial_of_nlm, :] if per_channel else np.repeat(u[:, None, :], n_nlm, axis=1)  # [k][nlm][a]
    expected = np.einsum("kca,iac->ikc", u_full, element_density.reshape(len(atoms), 4, n_nlm))

    calculator = DescriptorCalculator(compressed_basis)
    np.testing.assert_allclose(calculator.density(atoms).reshape(len(atoms), n_pseudo, n_nlm), expected, atol=1e-12)
    np.testing.assert_allclose(
        calculator.compute(atoms).values,
        power_spectrum_from_density(calculator.density(atoms), n_radial, n_pseudo),
        atol=1e-12,
    )
    assert compressed_basis.n_features == power_spectrum_from_density(calculator.density(atoms), n_radial, n_pseudo).shape[1]


def test_compressed_gradients_match_finite_differences():
    atoms = STRUCTURES["cell-smaller-than-cutoff"]()
    u = np.random.default_rng(8).normal(size=(2, 5, 4))
    calculator = DescriptorCalculator(build_basis(SPECIES, cutoff=4.5, n_max=5, l_max=3, embedding=u))
    result = calculator.compute(atoms, gradients=("positions", "strain"))
    numerical = position_derivatives(lambda a: calculator.compute(a).values, atoms)
    assert relative_error(result.dense_position_gradients().transpose(1, 2, 0, 3), numerical) <= 1e-6
    numerical = strain_derivatives(lambda a: calculator.compute(a).values, atoms)
    assert relative_error(result.strain_gradients.transpose(1, 2, 0, 3), numerical) <= 1e-6


def with_first_terms_split(couplings):
    """The same invariants with each feature's first term written as two terms of half the coefficient.

    Mathematically identical features whose coupling lists are not in the factorised (body order <= 2)
    form, so the descriptor kernel evaluates their gradients on the generic path.
    """
    terms = np.arange(len(couplings.term_feature))
    first = np.flatnonzero(np.r_[True, couplings.term_feature[1:] != couplings.term_feature[:-1]])
    order = np.sort(np.concatenate([terms, first]), kind="stable")
    coefficient = couplings.term_coefficient[order].copy()
    coefficient[np.isin(order, first)] *= 0.5
    lengths = np.diff(couplings.term_factor_offsets)[order]
    factors = np.concatenate([couplings.factors[couplings.term_factor_offsets[t] : couplings.term_factor_offsets[t + 1]]
                              for t in order])
    return dataclasses.replace(
        couplings,
        term_feature=couplings.term_feature[order],
        term_coefficient=coefficient,
        term_factor_offsets=np.r_[0, np.cumsum(lengths)].astype(np.int32),
        factors=factors.astype(np.int32),
    )


@pytest.mark.parametrize("n_pseudo", [None, 2])
def test_factorised_gradient_path_equals_generic_path(n_pseudo):
    basis = build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3)
    if n_pseudo:
        embedding = np.random.default_rng(15).normal(size=(n_pseudo, basis.embedding.shape[2], len(SPECIES)))
        basis = build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3, embedding=embedding)
    factorised = DescriptorCalculator(basis)
    generic = DescriptorCalculator(dataclasses.replace(basis, couplings=with_first_terms_split(basis.couplings)))
    assert factorised._evaluator.n_factorised_features == basis.n_features
    assert generic._evaluator.n_factorised_features == 0
    atoms = random_triclinic(SPECIES, 8, 4.6, seed=16)
    ours = factorised.compute(atoms, gradients=("positions", "strain"))
    reference = generic.compute(atoms, gradients=("positions", "strain"))
    scale = np.abs(reference.position_gradients).max()
    np.testing.assert_allclose(ours.values, reference.values, rtol=1e-12, atol=1e-14 * np.abs(reference.values).max())
    np.testing.assert_allclose(ours.position_gradients, reference.position_gradients, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ours.strain_gradients, reference.strain_gradients, rtol=0,
                               atol=1e-12 * np.abs(reference.strain_gradients).max())


def test_thread_count_does_not_change_results():
    basis = build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3)
    atoms = random_triclinic(SPECIES, 40, 8.0, seed=9)
    one = DescriptorCalculator(basis, n_threads=1).compute(atoms, gradients=("positions", "strain"))
    two = DescriptorCalculator(basis, n_threads=2).compute(atoms, gradients=("positions", "strain"))
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.position_gradients, two.position_gradients)
    np.testing.assert_array_equal(one.strain_gradients, two.strain_gradients)


def test_feature_counts_follow_the_enumeration():
    basis = build_basis(["Mo", "W"], cutoff=5.0, n_max=6, l_max=4)
    n_radial = basis.radial.n_radial
    channels = [2 * n for n in n_radial]
    expected_pairs = sum(c * (c + 1) // 2 for c in channels)
    assert basis.couplings.counts_by_body_order() == {1: 2 * n_radial[0], 2: expected_pairs}


def test_unknown_element_is_named(calculator):
    atoms = Atoms("MoFe", positions=[[0, 0, 0], [2.0, 0, 0]])
    with pytest.raises(ValueError, match="Fe not in this basis"):
        calculator.compute(atoms)


def test_overlapping_atoms_are_rejected(calculator):
    atoms = Atoms("MoW", positions=[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="overlap"):
        calculator.compute(atoms)


def test_nan_positions_are_rejected(calculator):
    atoms = Atoms("MoW", positions=[[0, 0, 0], [np.nan, 0, 0]])
    with pytest.raises(ValueError, match="NaN"):
        calculator.compute(atoms)


def test_unknown_gradient_kind_is_rejected(calculator):
    with pytest.raises(ValueError, match="unknown gradient kind"):
        calculator.compute(Atoms("Mo", positions=[[0, 0, 0]]), gradients=("cell",))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(embedding=np.ones((2, 3))), "embedding of shape"),
        (dict(embedding=np.ones((2, 7, 4))), "embedding of shape"),
        (dict(embedding=np.full((2, 4), np.nan)), "NaN"),
        (dict(body_order=7), "body_order"),
    ],
)
def test_bad_basis_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_basis(SPECIES, cutoff=4.5, n_max=4, l_max=3, **kwargs)


@pytest.mark.parametrize("species, message", [(["Mo", "Xx"], "unknown element"), (["Mo", "Mo"], "duplicates"), ([], "empty")])
def test_bad_species_lists_are_named(species, message):
    with pytest.raises(ValueError, match=message):
        build_basis(species)


def test_evaluator_rejects_wrong_shapes(calculator):
    atoms = STRUCTURES["open-cluster"]()
    pairs_calculator = calculator
    numbers, species, pairs = pairs_calculator._pairs(atoms)
    with pytest.raises(ValueError, match="features must have shape"):
        pairs_calculator._evaluator.compute(
            pairs.vectors, np.ascontiguousarray(species[pairs.neighbours]), species, pairs.centre_offsets,
            np.zeros((2, 3)),
        )
