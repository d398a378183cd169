"""Test structures: random triclinic cells (some smaller than the cutoff), open clusters, slabs."""

import numpy as np
from ase import Atoms


def random_positions(n_atoms, cell, rng, min_distance=1.6, pbc=True):
    """Random fractional positions with every minimum-image distance >= min_distance (Å)."""
    cell = np.asarray(cell)
    positions = []
    while len(positions) < n_atoms:
        candidate = rng.random(3) @ cell
        ok = True
        for existing in positions:
            delta = candidate - existing
            if pbc:
                fractional = np.linalg.solve(cell.T, delta)
                delta = (fractional - np.round(fractional)) @ cell
            if np.linalg.norm(delta) < min_distance:
                ok = False
                break
        if ok:
            positions.append(candidate)
    return np.array(positions)


def random_triclinic(symbols, n_atoms, length, seed, min_distance=1.6):
    """Periodic triclinic cell of edge ~``length`` Å with ``n_atoms`` random atoms of ``symbols``."""
    rng = np.random.default_rng(seed)
    cell = length * (np.eye(3) + 0.25 * (rng.random((3, 3)) - 0.5))
    positions = random_positions(n_atoms, cell, rng, min_distance)
    chosen = [symbols[i % len(symbols)] for i in range(n_atoms)]
    rng.shuffle(chosen)
    return Atoms(chosen, positions=positions, cell=cell, pbc=True)


def open_cluster(symbols, n_atoms, seed, radius=2.6):
    """Non-periodic cluster of ``n_atoms`` atoms in a ball of ``radius`` Å (no cell)."""
    rng = np.random.default_rng(seed)
    positions = []
    while len(positions) < n_atoms:
        candidate = radius * (2 * rng.random(3) - 1)
        if np.linalg.norm(candidate) <= radius and all(np.linalg.norm(candidate - p) >= 1.7 for p in positions):
            positions.append(candidate)
    chosen = [symbols[i % len(symbols)] for i in range(n_atoms)]
    return Atoms(chosen, positions=np.array(positions), pbc=False)


def slab(symbols, seed, n_atoms=6):
    """Periodic in x and y only, with vacuum along z and a zero third cell vector."""
    rng = np.random.default_rng(seed)
    box = np.array([[4.1, 0.3, 0.0], [0.5, 3.9, 0.0], [0.0, 0.0, 6.0]])
    positions = random_positions(n_atoms, box, rng)
    cell = box.copy()
    cell[2] = 0.0
    chosen = [symbols[i % len(symbols)] for i in range(n_atoms)]
    return Atoms(chosen, positions=positions, cell=cell, pbc=[True, True, False])


def write_emt_training_file(path, species, count, seed):
    """``count`` EMT-labelled random alloy cells of ``species`` (lepot.fitting.emt_data) written to ``path``
    as extxyz with energies, forces and stresses; returns path."""
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    from lepot.fitting.emt_data import emt_alloy_structures

    frames = []
    for structure in emt_alloy_structures(species, count, seed=seed, repeat=2):
        atoms = structure.atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, energy=structure.energy, forces=structure.forces,
                                           stress=structure.stress)
        frames.append(atoms)
    ase.io.write(path, frames)
    return path
