"""Training data: structures read with ase.io, their DFT targets, validation, splits and a digest.

Any format ase.io reads works (extxyz, VASP OUTCAR / vasprun.xml, Quantum ESPRESSO output, ...).
Targets come from the structure's calculator results (what ase.io attaches when the file has them)
or, when a key is named, from ``atoms.info[key]`` (energy, stress) and ``atoms.arrays[key]`` (forces).

Units: energy eV (total, not per atom), forces eV/Å, stress eV/Å³ with ASE's sign (tensile positive),
as a 3x3 matrix or Voigt 6-vector (xx, yy, zz, yz, xz, xy).
"""

import glob
import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np
from ase.stress import voigt_6_to_full_3x3_stress


class DataError(ValueError):
    """Bad training data; the message names the file and the structure index."""


@dataclass
class Structure:
    """One structure with its targets (any of them may be None when absent from the data).

    energy : float, eV (total)
    forces : float64 [n_atoms][3], eV/Å
    stress : float64 [3][3], eV/Å³ (ASE sign)
    source : "file:index", for messages
    """

    atoms: object
    energy: float = None
    forces: np.ndarray = None
    stress: np.ndarray = None
    config_type: str = "default"
    source: str = ""

    @property
    def n_atoms(self):
        return len(self.atoms)

    @property
    def periodic(self):
        """True for a cell periodic in all three directions: only such a structure has a stress (a molecule
        or a slab in a box has none, and gets no stress rows whatever the stress weight)."""
        return bool(np.all(self.atoms.pbc)) and self.atoms.cell.rank == 3


@dataclass(frozen=True)
class TargetKeys:
    """Where targets are read from: None = the calculator results; a string = info/arrays key."""

    energy: str = None
    forces: str = None
    stress: str = None
    config_type: str = "config_type"


def expand_paths(patterns, base_directory="."):
    """Files matching ``patterns`` (a path or glob, or a list of them), relative to ``base_directory``."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    files = []
    for pattern in patterns:
        full = os.path.join(base_directory, os.path.expanduser(str(pattern)))
        matches = sorted(glob.glob(full))
        if not matches:
            raise DataError(f"{pattern}: no file matches (looked in {os.path.abspath(base_directory)})")
        files.extend(matches)
    return files


def read_structures(patterns, keys=TargetKeys(), base_directory="."):
    """All structures of all files matching ``patterns``, in file order then index order. A pattern may end in
    ase.io's slice syntax, ``file.extxyz@start:stop[:step]``, to take part of every file it matches."""
    return [s for structures in read_structures_by_file(patterns, keys, base_directory).values() for s in structures]


def read_structures_by_file(patterns, keys=TargetKeys(), base_directory="."):
    """{file (with its @slice, if any): [Structure]} for every file matching ``patterns`` (read_structures)."""
    import ase.io

    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    by_file = {}
    for pattern in patterns:
        path_pattern, chosen = _split_selection(pattern)
        suffix = "" if chosen == slice(None) else "@" + str(pattern).rpartition("@")[2]
        for path in expand_paths(path_pattern, base_directory):
            try:
                images = ase.io.read(path, index=":")
            except Exception as error:  # ase.io raises many types; the message is what matters
                raise DataError(f"{path}: cannot read it with ase.io ({type(error).__name__}: {error})") from None
            indices = range(len(images))[chosen]
            if not indices:
                raise DataError(f"{path}: contains no structures" + (f" in the selection {suffix}" if suffix else ""))
            by_file.setdefault(path + suffix, []).extend(
                _structure(images[index], keys, f"{path}:{index}") for index in indices)
    return by_file


def _split_selection(pattern):
    """(path pattern, slice) of 'file@start:stop[:step]', or (pattern, slice(None)) without a slice."""
    text = str(pattern)
    path, at, selection = text.rpartition("@")
    if not at or not re.fullmatch(r"-?\d*:-?\d*(:-?\d*)?", selection):
        return text, slice(None)
    return path, slice(*[int(part) if part else None for part in selection.split(":")])


def _structure(atoms, keys, source):
    def from_results(name):
        calculator = atoms.calc
        if calculator is not None and name in getattr(calculator, "results", {}):
            return calculator.results[name]
        return None

    energy = atoms.info.get(keys.energy) if keys.energy else from_results("energy")
    if energy is None and keys.energy is None:
        energy = atoms.info.get("energy")
    forces = atoms.arrays.get(keys.forces) if keys.forces else from_results("forces")
    stress = atoms.info.get(keys.stress) if keys.stress else from_results("stress")
    config_type = str(atoms.info.get(keys.config_type, "default"))
    clean = atoms.copy()
    clean.calc = None
    structure = Structure(clean, None if energy is None else energy, forces, stress, config_type, source)
    _normalise_and_check(structure)
    return structure


def _normalise_and_check(structure):
    where = structure.source
    n = structure.n_atoms
    if n == 0:
        raise DataError(f"{where}: structure has no atoms")
    positions = structure.atoms.positions
    if not np.all(np.isfinite(positions)):
        raise DataError(f"{where}: positions contain NaN or inf")
    if structure.energy is not None:
        try:
            structure.energy = float(np.asarray(structure.energy).reshape(()))
        except (TypeError, ValueError):
            raise DataError(f"{where}: energy is not a single number ({structure.energy!r})") from None
        if not np.isfinite(structure.energy):
            raise DataError(f"{where}: energy is NaN or inf")
    if structure.forces is not None:
        forces = np.asarray(structure.forces, dtype=np.float64)
        if forces.shape != (n, 3):
            raise DataError(f"{where}: forces have shape {forces.shape}, expected ({n}, 3)")
        if not np.all(np.isfinite(forces)):
            raise DataError(f"{where}: forces contain NaN or inf")
        structure.forces = forces
    if structure.stress is not None:
        stress = np.asarray(structure.stress, dtype=np.float64)
        if stress.shape == (6,):
            stress = voigt_6_to_full_3x3_stress(stress)
        if stress.shape != (3, 3):
            raise DataError(f"{where}: stress has shape {stress.shape}, expected (6,) or (3, 3)")
        if not np.all(np.isfinite(stress)):
            raise DataError(f"{where}: stress contains NaN or inf")
        if not structure.periodic:
            raise DataError(f"{where}: stress given for a structure that is not periodic in 3D (pbc and a 3D cell)")
        structure.stress = stress


def check_targets(structures, need_energy, need_forces, need_stress, split_name):
    """Refuse structures that lack a target its weight asks for (stress only of periodic ones: the others
    have none); refuse an empty split."""
    if not structures:
        raise DataError(f"the {split_name} set is empty")
    for structure in structures:
        for needed, value, name in (
            (need_energy, structure.energy, "energy"),
            (need_forces, structure.forces, "forces"),
            (need_stress and structure.periodic, structure.stress, "stress"),
        ):
            if needed and value is None:
                raise DataError(
                    f"{structure.source}: no {name} in the data, but the {name} weight is non-zero "
                    f"(name the key in the config, or set the weight to 0)"
                )


def check_species(structures, species):
    """Refuse elements that the model does not know. A LAMMPS dump without element names reads with its atom
    types as atomic numbers (ase.io keeps them as the "type" array): the message then says how to name them."""
    allowed = set(species)
    for structure in structures:
        atoms = structure.atoms
        unknown = sorted(set(atoms.get_chemical_symbols()) - allowed)
        if unknown:
            hint = ""
            if "type" in atoms.arrays and np.array_equal(atoms.arrays["type"], atoms.numbers):
                hint = ("; this LAMMPS dump has atom types but no element names: dump them with an element column "
                        "(dump ID group custom N file id element x y z ... and dump_modify ID element <one per type>)")
            raise DataError(f"{structure.source}: element(s) {', '.join(unknown)} not in the model's species "
                            f"{list(species)}{hint}")


def split_validation(structures, fraction, seed, by_config_type=False):
    """Seeded train/validation split; returns (train, validation), each in the structures' order.

    By default round(fraction · n) structures chosen at random. ``by_config_type``: round(fraction · n_g) of
    every config_type g, at least one of a group of two or more, so that a small group (eight quaternary
    cells among 4 700 elemental and binary ones) is in the validation set as well as in training."""
    if not 0 <= fraction < 1:
        raise DataError(f"validation_fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    if by_config_type:
        groups = _indices_by_config_type(structures)
        chosen = set()
        for name in sorted(groups):
            members = groups[name]
            count = int(round(fraction * len(members)))
            if fraction > 0 and len(members) >= 2:
                count = max(count, 1)
            chosen.update(int(i) for i in rng.permutation(members)[:count])
    else:
        n_validation = int(round(fraction * len(structures)))
        chosen = set(rng.permutation(len(structures))[:n_validation].tolist())
    train = [s for i, s in enumerate(structures) if i not in chosen]
    validation = [s for i, s in enumerate(structures) if i in chosen]
    return train, validation


def stratified_sample(structures, count, seed):
    """Sorted indices of ``count`` of ``structures`` spread as evenly as possible over their config_types: the
    groups (sorted by name) take turns, each giving its next structure in a seeded random order, until
    ``count`` are drawn; a group with fewer structures than its share gives all of them. So a small group
    (a few multi-element cells among thousands of elemental ones) is always in the sample."""
    rng = np.random.default_rng(seed)
    groups = _indices_by_config_type(structures)
    queues = [list(rng.permutation(groups[name])) for name in sorted(groups)]
    chosen = []
    while len(chosen) < min(count, len(structures)):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(int(queue.pop(0)))
    return np.sort(np.array(chosen, dtype=np.int64))


def _indices_by_config_type(structures):
    """{config_type: [index of each of its structures, in order]}."""
    groups = {}
    for index, structure in enumerate(structures):
        groups.setdefault(structure.config_type, []).append(index)
    return groups


def cross_validation_folds(n_structures, folds, seed):
    """Fold index [n_structures] of each structure: a seeded permutation dealt round-robin into ``folds``
    folds (sizes differ by at most one)."""
    if not 2 <= folds <= n_structures:
        raise DataError(f"cross-validation needs 2 <= folds <= {n_structures} training structures, got {folds}")
    assignment = np.empty(n_structures, dtype=np.int64)
    assignment[np.random.default_rng(seed).permutation(n_structures)] = np.arange(n_structures) % folds
    return assignment


def digest(structures):
    """SHA-256 over numbers, positions, cell, pbc and targets of every structure, in order."""
    hasher = hashlib.sha256()
    for s in structures:
        for array in (s.atoms.numbers.astype(np.int64), s.atoms.positions, s.atoms.cell.array, s.atoms.pbc.astype(np.int8)):
            hasher.update(np.ascontiguousarray(array).tobytes())
        for target in (s.energy, s.forces, s.stress):
            hasher.update(b"-" if target is None else np.ascontiguousarray(target, dtype=np.float64).tobytes())
    return hasher.hexdigest()
