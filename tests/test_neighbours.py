"""Neighbour pairs from vesin against ASE's independent neighbour list, and input validation."""

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list
from structures import open_cluster, random_triclinic, slab

from lepot.calculator.neighbours import neighbour_pairs


def pair_set(centres, neighbours, shifts):
    return sorted(zip(centres.tolist(), neighbours.tolist(), map(tuple, shifts.tolist())))


@pytest.mark.parametrize(
    "atoms",
    [
        random_triclinic(["Mo", "W"], 7, 5.0, seed=0),
        random_triclinic(["Mo"], 2, 2.7, seed=1),  # cell smaller than the cutoff: self-images
        open_cluster(["Nb", "Ta"], 6, seed=2),
        slab(["Mo", "W"], seed=3),
    ],
    ids=["triclinic", "small-cell", "cluster", "slab"],
)
def test_pairs_match_ase(atoms):
    cutoff = 4.6
    pairs = neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, cutoff)
    i, j, shifts, vectors = neighbor_list("ijSD", atoms, cutoff)
    assert pair_set(pairs.centres, pairs.neighbours, pairs.shifts) == pair_set(i, j, shifts)
    assert np.all(np.diff(pairs.centres) >= 0)
    expected = atoms.positions[pairs.neighbours] - atoms.positions[pairs.centres] + pairs.shifts @ atoms.cell.array
    np.testing.assert_allclose(pairs.vectors, expected, atol=1e-12)
    counts = np.diff(pairs.centre_offsets)
    np.testing.assert_array_equal(counts, np.bincount(pairs.centres, minlength=len(atoms)))


def test_small_cell_has_self_images():
    atoms = Atoms("Mo", positions=[[0, 0, 0]], cell=np.diag([2.5, 2.6, 2.7]), pbc=True)
    pairs = neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, 4.0)
    assert pairs.n_pairs > 0 and np.all(pairs.neighbours == 0)


def test_overlapping_atoms_are_named():
    atoms = Atoms("Mo3", positions=[[0, 0, 0], [1.5, 0, 0], [1.5, 0, 0]])
    with pytest.raises(ValueError, match="atoms 1 and 2 .*overlap"):
        neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, 4.0)


@pytest.mark.parametrize(
    "positions, cell, pbc, message",
    [
        ([[0, 0, np.nan]], np.eye(3) * 4, True, "NaN"),
        ([[0, 0]], np.eye(3) * 4, True, "shape"),
        ([[0, 0, 0]], np.eye(2) * 4, True, "cell must have shape"),
        ([[0, 0, 0]], [[4, 0, 0], [8, 0, 0], [0, 0, 4]], True, "degenerate"),
        ([[0, 0, 0]], np.full((3, 3), np.inf), True, "cell contains NaN"),
    ],
)
def test_bad_structures_are_named(positions, cell, pbc, message):
    with pytest.raises(ValueError, match=message):
        neighbour_pairs(positions, cell, pbc, 4.0)


def test_verlet_pairs_are_reused_only_while_complete():
    """Within skin/2 of the build positions the reused list gives the same results as a fresh one; a larger
    move, a new cell or a new atom count rebuilds it; overlaps are still refused on reuse."""
    from ase.build import bulk

    from lepot.calculator import CoreRepulsion, Potential
    from models import random_model

    # with ZBL: pairs listed beyond the cutoff must add nothing to the core repulsion either
    model = random_model(["Mo", "W"], seed=11, body_order=3, budgets={3: 20},
                         core_repulsion=CoreRepulsion({("Mo", "W"): (1.5, 2.8), ("Mo", "Mo"): (1.5, 2.8)}))
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(3)
    atoms.symbols[::3] = "W"
    atoms.rattle(0.05, seed=2)
    cached, fresh = Potential(model, skin=0.4), Potential(model, skin=0.0)
    directions = np.random.default_rng(4).normal(size=(len(atoms), 3))
    steps = 0.05 * directions / np.linalg.norm(directions, axis=1, keepdims=True)  # 0.05 Å per atom and step
    for step in range(8):  # a list built at step s serves until an atom is 0.2 Å = skin / 2 away: 4 steps
        atoms.positions += steps
        a, b = cached.compute(atoms), fresh.compute(atoms)
        assert abs(a.energy - b.energy) <= 1e-12 * abs(b.energy)
        np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.virial, b.virial, rtol=0, atol=1e-11)
    assert cached.neighbour_list.builds == 2  # built at the first step and again at the fifth
    builds = cached.neighbour_list.builds
    atoms.positions[0] += [0.25, 0.0, 0.0]  # more than skin / 2
    cached.compute(atoms)
    assert cached.neighbour_list.builds == builds + 1
    atoms.set_cell(atoms.cell * 1.001, scale_atoms=False)  # a new cell
    cached.compute(atoms)
    assert cached.neighbour_list.builds == builds + 2
    atoms.positions[1] = atoms.positions[0] + [1e-5, 0.0, 0.0]  # a large move, so a new list, which refuses it
    with pytest.raises(ValueError, match="overlap"):
        cached.compute(atoms)


def test_verlet_pairs_refuse_a_negative_skin():
    from lepot.calculator.neighbours import VerletPairs

    with pytest.raises(ValueError, match="skin must be a non-negative number of Å"):
        VerletPairs(5.0, -0.1)


def test_pair_vectors_of_a_reused_list():
    """The compiled loop that refreshes a reused list's vectors gives r_j - r_i + shift · cell, as numpy
    does, and refuses a pair that names an atom outside the structure."""
    from lepot.calculator._evaluator import pair_vectors

    rng = np.random.default_rng(5)
    positions = rng.normal(size=(7, 3)) * 3.0
    centres = rng.integers(0, 7, size=40)
    neighbours = rng.integers(0, 7, size=40)
    shift_vectors = rng.normal(size=(40, 3))
    out = np.empty((40, 3))
    pair_vectors(positions, centres, neighbours, shift_vectors, out)
    np.testing.assert_array_equal(out, positions[neighbours] - positions[centres] + shift_vectors)
    neighbours[3] = 7
    with pytest.raises(ValueError, match="pair 3 names atom .* outside"):
        pair_vectors(positions, centres, neighbours, shift_vectors, out)
