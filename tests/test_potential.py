"""Energy, forces and stress by adjoint: against the descriptor path, finite differences, invariances,
per-atom sums, and the ZBL core repulsion."""

import numpy as np
import pytest
from ase import Atoms
from finite_differences import position_derivatives, relative_error, strain_derivatives
from models import random_model
from scipy.spatial.transform import Rotation
from structures import open_cluster, random_triclinic, slab

from lepot.calculator import Contraction, CoreRepulsion, DescriptorCalculator, Potential

SPECIES = ["Mo", "Nb", "Ta", "W"]
CORE = CoreRepulsion({("Mo", "W"): (0.8, 2.0), ("Mo", "Mo"): (1.0, 2.2), ("Nb", "Ta"): (0.5, 1.9), ("W", "W"): (0.0, 1.7)})

STRUCTURES = {
    "triclinic": lambda: random_triclinic(SPECIES, 9, 4.7, seed=30),
    "cell-smaller-than-cutoff": lambda: random_triclinic(["Mo", "W", "Nb"], 3, 2.9, seed=31),
    "cluster": lambda: open_cluster(["Mo", "Ta", "W"], 7, seed=32),
    "slab": lambda: slab(SPECIES, seed=33),
}


def slab_in_vacuum_cell():
    atoms = slab(SPECIES, seed=33)
    atoms.cell[2] = [0.3, -0.2, 12.0]
    return atoms


def random_contraction(channels, n_pseudo, n_radial, seed, from_body_order=3):
    """Tensor-reduced channels with random weights W_l [K_l][n_pseudo][n_l]."""
    rng = np.random.default_rng(seed)
    weights = tuple(rng.normal(size=(k, n_pseudo, n)) for k, n in zip(channels, n_radial))
    return Contraction(tuple(channels), weights, from_body_order)


MODELS = {
    "uncompressed": lambda: random_model(SPECIES, seed=3),
    "compressed-per-channel": lambda: random_model(
        SPECIES, seed=4, embedding=np.random.default_rng(4).normal(size=(2, 4, 4))
    ),
    "with-core-repulsion": lambda: random_model(SPECIES, seed=5, core_repulsion=CORE),
    # n_max 4, l_max 3: n_radial = [4, 3, 3, 2]; 4 species one-hot
    "tensor-reduced": lambda: random_model(
        SPECIES, seed=7, body_order=3, budgets={3: 40},
        contraction=random_contraction((3, 2, 2, 1), len(SPECIES), (4, 3, 3, 2), seed=7),
    ),
    "tensor-reduced-compressed-from-nu2": lambda: random_model(
        SPECIES, seed=8, body_order=3, budgets={3: 40},
        embedding=np.random.default_rng(8).normal(size=(2, 4, 4)),
        contraction=random_contraction((2, 2, 1, 1), 2, (4, 3, 3, 2), seed=8, from_body_order=2),
    ),
    "compressed-nu4": lambda: random_model(
        SPECIES, seed=6, n_max=3, l_max=2, body_order=4, budgets={3: 10, 4: 8},
        embedding=np.random.default_rng(6).normal(size=(2, len(SPECIES))),
    ),
}


@pytest.mark.parametrize("model_name", ["uncompressed", "compressed-per-channel", "compressed-nu4", "tensor-reduced",
                                        "tensor-reduced-compressed-from-nu2"])
@pytest.mark.parametrize("structure", ["triclinic", "cell-smaller-than-cutoff", "slab"])
def test_adjoint_equals_descriptor_path(model_name, structure):
    model = MODELS[model_name]()
    atoms = STRUCTURES[structure]()
    result = Potential(model).compute(atoms)
    descriptors = DescriptorCalculator(model.basis).compute(atoms, gradients=("positions", "strain"))
    species = model.basis.species_index(atoms.numbers)
    weights = model.coefficients[species]  # [i][q]
    energies = model.reference_energies[species] + np.einsum("iq,iq->i", weights, descriptors.values)
    forces = -np.einsum("iq,ijaq->ja", weights, descriptors.dense_position_gradients())
    strain = np.einsum("iq,iabq->ab", weights, descriptors.strain_gradients)
    np.testing.assert_allclose(result.energies, energies, rtol=1e-12, atol=1e-12 * np.abs(energies).max())
    assert relative_error(result.forces, forces) <= 1e-12
    assert relative_error(-result.virial.T, strain) <= 1e-12


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("structure", STRUCTURES)
def test_forces_are_minus_the_energy_gradient(model_name, structure):
    model = MODELS[model_name]()
    potential = Potential(model)
    atoms = STRUCTURES[structure]()
    numerical = position_derivatives(lambda a: potential.compute(a).energy, atoms)
    assert relative_error(-potential.compute(atoms).forces, numerical) <= 1e-6


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("structure", ["triclinic", "cell-smaller-than-cutoff", "slab-in-vacuum-cell"])
def test_stress_is_the_strain_derivative(model_name, structure):
    model = MODELS[model_name]()
    potential = Potential(model)
    atoms = slab_in_vacuum_cell() if structure == "slab-in-vacuum-cell" else STRUCTURES[structure]()
    numerical = strain_derivatives(lambda a: potential.compute(a).energy, atoms) / atoms.cell.volume
    assert relative_error(potential.compute(atoms).stress, numerical) <= 1e-6


def test_no_stress_without_a_cell_volume():
    result = Potential(MODELS["uncompressed"]()).compute(STRUCTURES["slab"]())
    assert result.stress is None and result.stresses is None


def test_per_atom_quantities_sum_to_totals():
    model = MODELS["with-core-repulsion"]()
    atoms = STRUCTURES["triclinic"]()
    result = Potential(model).compute(atoms)
    assert abs(result.energies.sum() - result.energy) <= 1e-12 * abs(result.energy)
    np.testing.assert_allclose(result.stresses.sum(axis=0), result.stress, atol=1e-14)
    np.testing.assert_allclose(result.atom_virials.sum(axis=0), result.virial, atol=1e-12)
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("model_name", ["with-core-repulsion", "compressed-nu4"])
def test_invariances(model_name):
    model = MODELS[model_name]()
    potential = Potential(model)
    atoms = STRUCTURES["triclinic"]()
    reference = potential.compute(atoms)
    rotation = -Rotation.random(random_state=7).as_matrix()  # rotation combined with inversion
    moved = atoms.copy()
    moved.positions = atoms.positions @ rotation.T + [0.3, -2.0, 5.0]
    moved.cell = atoms.cell.array @ rotation.T
    result = potential.compute(moved)
    np.testing.assert_allclose(result.energies, reference.energies, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.forces, reference.forces @ rotation.T, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.stress, rotation @ reference.stress @ rotation.T, atol=1e-10, rtol=0)
    permutation = np.random.default_rng(8).permutation(len(atoms))
    result = potential.compute(atoms[permutation])
    np.testing.assert_allclose(result.energies, reference.energies[permutation], atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.forces, reference.forces[permutation], atol=1e-10, rtol=0)
    wrapped = atoms.copy()
    wrapped.positions += np.random.default_rng(9).integers(-2, 3, size=(len(atoms), 3)) @ atoms.cell.array
    np.testing.assert_allclose(potential.compute(wrapped).energies, reference.energies, atol=1e-10, rtol=0)


def test_thread_count_does_not_change_results():
    model = MODELS["compressed-per-channel"]()
    atoms = random_triclinic(SPECIES, 40, 8.0, seed=34)
    one = Potential(model, n_threads=1).compute(atoms)
    two = Potential(model, n_threads=2).compute(atoms)
    np.testing.assert_array_equal(one.energies, two.energies)
    np.testing.assert_array_equal(one.forces, two.forces)


def zbl_reference(z1, z2, r):
    """Independent ZBL pair energy (eV), r in Å: Ziegler, Biersack and Littmark's universal screening."""
    a = 0.46850 / (z1**0.23 + z2**0.23)
    x = r / a
    screening = (
        0.18175 * np.exp(-3.19980 * x)
        + 0.50986 * np.exp(-0.94229 * x)
        + 0.28022 * np.exp(-0.40290 * x)
        + 0.02817 * np.exp(-0.20162 * x)
    )
    return 14.399645478425668 * z1 * z2 / r * screening


def dimer_potential():
    model = random_model(["Mo", "W"], seed=6, scale=0.0, core_repulsion=CoreRepulsion({("Mo", "W"): (1.2, 2.4)}))
    return model, Potential(model)


def dimer(distance):
    return Atoms("MoW", positions=[[0, 0, 0], [distance * 0.6, distance * 0.8, 0.0]])


def test_zbl_matches_the_reference_below_the_switch():
    model, potential = dimer_potential()
    baseline = model.reference_energies.sum()
    for r in [0.3, 0.7, 1.0, 1.19]:
        assert potential.compute(dimer(r)).energy - baseline == pytest.approx(zbl_reference(42, 74, r), rel=1e-12)


def test_zbl_is_smooth_through_its_switching_region():
    model, potential = dimer_potential()
    baseline = model.reference_energies.sum()

    def energy(r):
        return potential.compute(dimer(r)).energy - baseline

    def force(r):  # -dE/dr along the bond
        return potential.compute(dimer(r)).forces[1] @ np.array([0.6, 0.8, 0.0])

    assert energy(2.4) == 0.0 and energy(2.5) == 0.0 and energy(2.4 - 1e-4) > 0.0
    for r in np.linspace(1.0, 2.39, 29):
        numerical = -(energy(r + 1e-6) - energy(r - 1e-6)) / 2e-6
        assert force(r) == pytest.approx(numerical, rel=1e-6, abs=1e-9)
    # C²: force and its derivative continuous at both ends of the switch
    for edge in (1.2, 2.4):
        h = 1e-7
        assert abs(force(edge + h) - force(edge - h)) < 1e-5 * max(1.0, abs(force(edge - 1e-3)))
        slope_left = (force(edge - h) - force(edge - 2 * h)) / h
        slope_right = (force(edge + 2 * h) - force(edge + h)) / h
        assert abs(slope_left - slope_right) < 1e-3 * max(1.0, abs(slope_left))
    # the switch is monotone: no spurious minimum in the repulsion
    energies = [energy(r) for r in np.linspace(0.5, 2.4, 200)]
    assert np.all(np.diff(energies) <= 0)


def test_unknown_element_is_named():
    potential = Potential(MODELS["uncompressed"]())
    with pytest.raises(ValueError, match="Fe not in this basis"):
        potential.compute(Atoms("MoFe", positions=[[0, 0, 0], [2.2, 0, 0]]))


def test_isolated_atom_has_its_reference_energy():
    model = MODELS["with-core-repulsion"]()
    result = Potential(model).compute(Atoms("Ta", positions=[[1.0, 2.0, 3.0]]))
    assert result.energy == model.reference_energies[model.basis.species_index([73])[0]]
    assert not result.forces.any()
