"""Body orders 3-5: invariant counts against character theory, invariance, linear independence, finite
differences, adjoint = descriptor path, parameter-file round trip, and LAMMPS = ASE for ν = 4."""

import math
from collections import Counter

import numpy as np
import pytest
from finite_differences import position_derivatives, relative_error, strain_derivatives
from models import random_model
from scipy.integrate import quad
from scipy.spatial.transform import Rotation
from structures import open_cluster, random_triclinic

from lepot.calculator import DescriptorCalculator, Potential, build_basis, load_model
from lepot.calculator.couplings import invariant_tensors

SPECIES = ["Mo", "W"]


def so3_character(l, omega):
    """χ_l(ω) = sin((2l+1)ω/2) / sin(ω/2) (rotation by ω about any axis)."""
    half = omega / 2
    return (2 * l + 1) if abs(math.sin(half)) < 1e-12 else math.sin((2 * l + 1) * half) / math.sin(half)


def symmetric_power_character(l, power, omega):
    """Character of Sym^power(V_l) by the cycle index of the symmetric group S_power."""
    total = 0.0
    for partition in partitions(power):
        counts = Counter(partition)
        z = math.prod(j ** m * math.factorial(m) for j, m in counts.items())
        total += math.prod(so3_character(l, j * omega) for j in partition) / z
    return total


def partitions(n, largest=None):
    largest = n if largest is None else largest
    if n == 0:
        yield ()
        return
    for first in range(min(n, largest), 0, -1):
        for rest in partitions(n - first, first):
            yield (first,) + rest


def invariant_count(ls, groups):
    """Number of SO(3) invariants of Π_groups Sym^|g|(V_l): ∫ Π χ dμ with the class measure (1 - cos ω)/π."""
    def integrand(omega):
        return math.prod(symmetric_power_character(ls[g[0]], len(g), omega) for g in groups) * (1 - math.cos(omega)) / math.pi

    return round(quad(integrand, 0.0, math.pi, limit=400)[0])


CASES = [
    ((1, 1, 2), [[0], [1], [2]]),
    ((1, 1, 2), [[0, 1], [2]]),
    ((2, 2, 2), [[0, 1, 2]]),
    ((2, 2, 2), [[0], [1], [2]]),
    ((1, 2, 3), [[0], [1], [2]]),
    ((3, 3, 4), [[0, 1], [2]]),
    ((1, 1, 1, 1), [[0], [1], [2], [3]]),
    ((1, 1, 1, 1), [[0, 1, 2, 3]]),
    ((1, 1, 2, 2), [[0, 1], [2, 3]]),
    ((2, 2, 2, 2), [[0, 1], [2], [3]]),
    ((2, 2, 2, 2), [[0, 1, 2, 3]]),
    ((1, 2, 2, 3), [[0], [1, 2], [3]]),
    ((1, 1, 1, 1, 2), [[0, 1, 2, 3], [4]]),
    ((1, 1, 2, 2, 2), [[0], [1], [2], [3], [4]]),
    ((2, 2, 2, 2, 2), [[0, 1, 2, 3, 4]]),
]


@pytest.mark.parametrize("ls, groups", CASES, ids=[f"{c[0]}-{len(c[1])}groups" for c in CASES])
def test_invariant_counts_match_character_theory(ls, groups):
    expected = invariant_count(ls, groups) if sum(ls) % 2 == 0 else 0
    assert len(invariant_tensors(list(ls), groups)) == expected


def test_odd_parity_tuples_have_no_invariants():
    # SO(3) has one invariant of (1, 1, 1) (the triple product), but it is odd under inversion
    assert invariant_count((1, 1, 1), [[0], [1], [2]]) == 1
    assert invariant_tensors([1, 1, 1], [[0], [1], [2]]) == []


def rotation_check(calculator, atoms):
    reference = calculator.compute(atoms).values
    for seed, sign in ((1, 1), (2, -1)):
        rotation = sign * Rotation.random(random_state=seed).as_matrix()
        rotated = atoms.copy()
        rotated.positions = atoms.positions @ rotation.T
        if atoms.pbc.any():
            rotated.cell = atoms.cell.array @ rotation.T
        np.testing.assert_allclose(calculator.compute(rotated).values, reference, atol=1e-10, rtol=0)
    permutation = np.random.default_rng(3).permutation(len(atoms))
    np.testing.assert_allclose(calculator.compute(atoms[permutation]).values, reference[permutation], atol=1e-10, rtol=0)


@pytest.fixture(scope="module")
def basis_nu5():
    return build_basis(SPECIES, cutoff=4.5, n_max=3, l_max=2, body_order=5, budgets={3: 12, 4: 10, 5: 8})


def test_every_invariant_is_rotation_inversion_and_permutation_invariant(basis_nu5):
    counts = basis_nu5.couplings.counts_by_body_order()
    assert all(counts.get(order, 0) > 0 for order in (3, 4, 5))
    calculator = DescriptorCalculator(basis_nu5)
    rotation_check(calculator, random_triclinic(SPECIES, 6, 4.0, seed=80))
    rotation_check(calculator, open_cluster(SPECIES, 6, seed=81))


def test_kept_invariants_are_linearly_independent():
    basis = build_basis(["Mo"], cutoff=4.5, n_max=3, l_max=2, body_order=4, budgets={3: 12, 4: 10})
    calculator = DescriptorCalculator(basis)
    rows = []
    for seed in range(12):
        atoms = open_cluster(["Mo"], 9, seed=200 + seed, radius=3.0)
        rows.append(calculator.compute(atoms).values)
    matrix = np.vstack(rows)
    matrix = matrix / np.linalg.norm(matrix, axis=0)
    singular = np.linalg.svd(matrix, compute_uv=False)
    assert matrix.shape[0] > 2 * matrix.shape[1]
    assert singular[-1] > 1e-8 * singular[0]


def test_per_order_angular_limit_keeps_exactly_the_low_l_invariants():
    options = dict(cutoff=4.5, n_max=3, l_max=3, body_order=4, budgets={3: 14, 4: 12})
    full = build_basis(SPECIES, **options).couplings
    limited = build_basis(SPECIES, **options, l_max_by_order={3: 1, 4: 2}).couplings

    def highest_l(label):
        return max(channel[2] for channel in label[2])

    limits = {3: 1, 4: 2}
    expected = [label for label in full.labels if label[0] < 3 or highest_l(label) <= limits[label[0]]]
    assert list(limited.labels) == expected
    assert any(label[0] == 3 and highest_l(label) > 1 for label in full.labels)
    assert any(label[0] == 4 and highest_l(label) > 2 for label in full.labels)
    assert any(label[0] == 3 for label in limited.labels) and any(label[0] == 4 for label in limited.labels)


def test_descriptor_gradients_of_high_body_orders(basis_nu5):
    calculator = DescriptorCalculator(basis_nu5)
    atoms = random_triclinic(SPECIES, 4, 3.3, seed=82)
    result = calculator.compute(atoms, gradients=("positions", "strain"))
    numerical = position_derivatives(lambda a: calculator.compute(a).values, atoms)
    assert relative_error(result.dense_position_gradients().transpose(1, 2, 0, 3), numerical) <= 1e-6
    numerical = strain_derivatives(lambda a: calculator.compute(a).values, atoms)
    assert relative_error(result.strain_gradients.transpose(1, 2, 0, 3), numerical) <= 1e-6


@pytest.mark.parametrize("body_order, budgets", [(3, {3: 20}), (4, {3: 14, 4: 12}), (5, {3: 12, 4: 10, 5: 8})])
def test_adjoint_equals_descriptor_path_and_finite_differences(body_order, budgets):
    model = random_model(SPECIES, seed=83, cutoff=4.5, n_max=3, l_max=2, body_order=body_order, budgets=budgets)
    atoms = random_triclinic(SPECIES, 5, 3.6, seed=84)
    result = Potential(model).compute(atoms)
    descriptors = DescriptorCalculator(model.basis).compute(atoms, gradients=("positions",))
    species = model.basis.species_index(atoms.numbers)
    energies = model.reference_energies[species] + np.einsum("iq,iq->i", model.coefficients[species], descriptors.values)
    forces = -np.einsum("iq,ijaq->ja", model.coefficients[species], descriptors.dense_position_gradients())
    np.testing.assert_allclose(result.energies, energies, rtol=1e-12, atol=1e-12 * np.abs(energies).max())
    assert relative_error(result.forces, forces) <= 1e-12
    numerical = position_derivatives(lambda a: Potential(model).compute(a).energy, atoms)
    assert relative_error(-result.forces, numerical) <= 1e-6


def test_parameter_file_round_trip_of_high_body_orders(tmp_path):
    model = random_model(SPECIES, seed=85, cutoff=4.5, n_max=3, l_max=2, body_order=4, budgets={3: 14, 4: 12})
    model.save(tmp_path / "nu4.json")
    loaded = load_model(tmp_path / "nu4.json")
    assert loaded.basis.couplings.labels == model.basis.couplings.labels
    atoms = random_triclinic(SPECIES, 6, 4.2, seed=86)
    assert Potential(loaded).compute(atoms).energy == Potential(model).compute(atoms).energy


def test_lammps_equals_ase_for_a_body_order_4_model(tmp_path):
    from lammps_runner import compute

    model = random_model(SPECIES, seed=87, cutoff=4.5, n_max=3, l_max=2, body_order=4, budgets={3: 14, 4: 12})
    model.save(tmp_path / "nu4.json")
    atoms = random_triclinic(SPECIES, 20, 6.2, seed=88)
    result = compute(atoms, tmp_path / "nu4.json", SPECIES, tmp_path / "run")
    reference = Potential(model).compute(atoms)
    assert result.energy == pytest.approx(reference.energy, rel=1e-10)
    np.testing.assert_allclose(result.energies, reference.energies, rtol=1e-10, atol=1e-10 * np.abs(reference.energies).max())
    assert np.abs(result.forces - reference.forces).max() <= 1e-10 * np.abs(reference.forces).max()
