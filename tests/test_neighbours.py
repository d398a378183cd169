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
