"""Neighbour pairs within a cutoff, from vesin, validated and sorted by centre.

Full list: every pair appears as (i, j) and (j, i). Periodic images are included, and so are
self-images (j = i with a non-zero shift) when the cell is smaller than the cutoff.
Convention: r_ij = r_j - r_i + shift · cell (Å), shift in integer cell vectors.
"""

from dataclasses import dataclass

import numpy as np
import vesin

from ._evaluator import MIN_PAIR_DISTANCE  # Å: closer pairs are overlapping atoms (the core's rule)
from ._evaluator import pair_vectors


@dataclass(frozen=True)
class NeighbourPairs:
    """Neighbour pairs of one structure, sorted by centre.

    n_atoms : int
    centres : int64 [n_pairs], i
    neighbours : int64 [n_pairs], j
    shifts : int64 [n_pairs][3], cell shift of j
    vectors : float64 [n_pairs][3], r_ij in Å
    centre_offsets : int64 [n_atoms + 1], pairs of centre i are centre_offsets[i]:centre_offsets[i+1]
    """

    n_atoms: int
    centres: np.ndarray
    neighbours: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    centre_offsets: np.ndarray

    @property
    def n_pairs(self):
        return len(self.centres)


def _independent(vectors, tolerance=1e-8):
    """Whether 1-3 vectors [k][3] are linearly independent, by explicit norms, cross and triple products.

    Written out instead of np.linalg (SVD/LU) so that the per-step path makes no LAPACK call, whose
    OpenBLAS worker threads would otherwise spin and compete with the evaluator's OpenMP threads.
    """
    lengths = np.sqrt((vectors * vectors).sum(axis=1))
    if np.any(lengths == 0.0):
        return False
    if len(vectors) == 1:
        return True
    cross = np.cross(vectors[0], vectors[1])
    area = np.sqrt((cross * cross).sum())
    if len(vectors) == 2:
        return area > tolerance * lengths[0] * lengths[1]
    return abs((cross * vectors[2]).sum()) > tolerance * lengths.prod()


def cell_volume(cell):
    """|det(cell)| in Å³ by the triple product (0 for a cell with fewer than three independent vectors)."""
    cell = np.asarray(cell, dtype=np.float64)
    return float(abs((np.cross(cell[0], cell[1]) * cell[2]).sum()))


def validate_structure(positions, cell, pbc):
    """Checked float64 positions [n][3], cell [3][3] and pbc [3]; raises ValueError naming the problem."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape [n_atoms, 3], got {positions.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(positions), axis=1))
    if bad.size:
        raise ValueError(f"positions of atom(s) {bad[:10].tolist()} are NaN or inf")
    cell = np.asarray(cell, dtype=np.float64)
    if cell.shape != (3, 3):
        raise ValueError(f"cell must have shape [3, 3], got {cell.shape}")
    if not np.all(np.isfinite(cell)):
        raise ValueError("cell contains NaN or inf")
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    if pbc.any():
        if not _independent(cell[pbc]):
            raise ValueError(f"cell vectors along periodic directions {np.flatnonzero(pbc).tolist()} are degenerate")
    return positions, cell, pbc


def _check_overlaps(centres, neighbours, shifts, vectors):
    squared = np.einsum("ij,ij->i", vectors, vectors)  # |r_ij|², no square root unless something overlaps
    close = np.flatnonzero(~(squared >= MIN_PAIR_DISTANCE * MIN_PAIR_DISTANCE))
    if close.size:
        distances = np.sqrt(squared)
        p = close[0]
        raise ValueError(
            f"atoms {centres[p]} and {neighbours[p]} (shift {shifts[p].tolist()}) overlap: distance "
            f"{distances[p]:.3g} Å < {MIN_PAIR_DISTANCE} Å ({close.size // 2 or 1} overlapping pair(s))"
        )


class VerletPairs:
    """Neighbour pairs within cutoff + skin (Å), reused between calls while they are still complete.

    The usual Verlet-list rule: the list built at positions r⁰ holds every pair closer than cutoff + skin,
    so as long as no atom has moved more than skin / 2 from r⁰ (and the cell, the periodic directions and
    the number of atoms are unchanged) every pair now closer than the cutoff is in it. Each call recomputes
    the vectors r_j − r_i + shift · cell from the current positions; pairs at or beyond the cutoff are in
    the list and the kernels ignore them. skin = 0: a fresh list of the pairs within the cutoff every call.
    """

    def __init__(self, cutoff, skin):
        if not np.isfinite(skin) or skin < 0:
            raise ValueError(f"skin must be a non-negative number of Å, got {skin}")
        self.cutoff, self.skin = float(cutoff), float(skin)
        self._built = None  # (positions r⁰, cell, pbc, NeighbourPairs, shift · cell [n_pairs][3] in Å)
        self.builds = 0  # lists built so far

    def pairs(self, positions, cell, pbc):
        positions, cell, pbc = validate_structure(positions, cell, pbc)
        if self.skin == 0.0:
            self.builds += 1
            return neighbour_pairs(positions, cell, pbc, self.cutoff)
        if self._built is not None:
            origin, built_cell, built_pbc, pairs, shift_vectors = self._built
            if (len(origin) == len(positions) and np.array_equal(built_cell, cell) and np.array_equal(built_pbc, pbc)
                    and (len(positions) == 0
                         or ((positions - origin) ** 2).sum(axis=1).max() < (0.5 * self.skin) ** 2)):
                vectors = np.empty((len(pairs.centres), 3))
                pair_vectors(np.ascontiguousarray(positions), pairs.centres, pairs.neighbours, shift_vectors, vectors)
                _check_overlaps(pairs.centres, pairs.neighbours, pairs.shifts, vectors)
                return NeighbourPairs(pairs.n_atoms, pairs.centres, pairs.neighbours, pairs.shifts, vectors,
                                      pairs.centre_offsets)
        pairs = neighbour_pairs(positions, cell, pbc, self.cutoff + self.skin)
        self._built = (positions.copy(), cell.copy(), pbc.copy(), pairs, np.ascontiguousarray(pairs.shifts @ cell))
        self.builds += 1
        return pairs


def neighbour_pairs(positions, cell, pbc, cutoff):
    """All pairs with |r_ij| < cutoff (Å), validated and sorted by centre."""
    positions, cell, pbc = validate_structure(positions, cell, pbc)
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    n_atoms = len(positions)
    if n_atoms == 0:
        empty = np.zeros(0, dtype=np.int64)
        return NeighbourPairs(0, empty, empty, np.zeros((0, 3), np.int64), np.zeros((0, 3)), np.zeros(1, np.int64))
    box = _box_for_vesin(cell, pbc)
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True, sorted=True)
    centres, neighbours, shifts, vectors = calculator.compute(positions, box, pbc, "ijSD")
    centres = centres.astype(np.int64)
    neighbours = neighbours.astype(np.int64)
    shifts = shifts.astype(np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float64)
    _check_overlaps(centres, neighbours, shifts, vectors)
    order = np.argsort(centres, kind="stable")
    centres, neighbours, shifts, vectors = centres[order], neighbours[order], shifts[order], vectors[order]
    offsets = np.zeros(n_atoms + 1, dtype=np.int64)
    np.cumsum(np.bincount(centres, minlength=n_atoms), out=offsets[1:])
    return NeighbourPairs(n_atoms, centres, neighbours, shifts, np.ascontiguousarray(vectors), offsets)


def _box_for_vesin(cell, pbc):
    """vesin needs a box even along open directions; it is never used there, so fill them with a unit basis."""
    if not pbc.any():
        return np.zeros((3, 3))
    box = cell.copy()
    for axis in np.flatnonzero(~pbc):
        others = [box[a] for a in range(3) if a != axis and (pbc[a] or a < axis)]
        if _independent(np.array(others + [box[axis]])):
            continue
        for candidate in np.eye(3):
            if _independent(np.array(others + [candidate])):
                box[axis] = candidate
                break
    return box
