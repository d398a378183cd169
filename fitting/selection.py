"""`lepot select`: which structures of a pool to label next, from a fitted model's posterior (docs/uncertainty.md).

Greedy D-optimal selection over local environments. Labelling a structure pins its atoms' local energies;
we model that as adding, for every atom i, the row z_i / √v_ref to the fit's Hessian H (v_ref: the
posterior's reference_variance, the median |u_i|² of the environments the calibration saw), which brings an
atom of variance |u_i|² down to |u_i|² / (1 + |u_i|²/v_ref) — to about the level of a fitted environment.
The information a structure S adds is then

    gain(S) = ln det(I + U_S U_Sᵀ / v_ref) = ln det(I + U_Sᵀ U_S / v_ref)     (U_S = [u_i]: its atoms' C⁻ᵀ z_i)

(≈ Σ_i ln(1 + γ_i²) for atoms in unrelated directions, γ the extrapolation grade). Each round takes the
structure of largest gain, folds its rows into C (a QR of [C; Z_S / √v_ref]) and recomputes the others'
gains, so a second structure like the first gains little: the selection is diverse by construction.
Deterministic (ties go to the earlier structure).
"""

from dataclasses import dataclass, replace

import numpy as np

from lepot.calculator import DescriptorCalculator


@dataclass
class Selection:
    indices: list  # pool indices in the order chosen
    gains: list  # gain(S) of each when it was chosen (nats)
    initial_gains: np.ndarray  # [pool] gain of every structure before any was chosen


def structure_gain(projections, reference_variance):
    """ln det(I + U Uᵀ / v_ref) of one structure's projections U [n_atoms][n_columns]."""
    small = projections @ projections.T if projections.shape[0] <= projections.shape[1] else projections.T @ projections
    sign, value = np.linalg.slogdet(np.eye(len(small)) + small / reference_variance)
    return float(value)


def select_structures(model, pool, count):
    """Selection of ``count`` structures (ase.Atoms or Structures) of ``pool`` under ``model``'s posterior."""
    posterior = model.uncertainty
    if posterior is None:
        raise ValueError("this parameter file stores no uncertainty ('uncertainty': null): refit it with lepot fit "
                         "(output.uncertainty: true, the default) to select structures")
    if count < 1:
        raise ValueError(f"the number of structures to select must be at least 1, got {count}")
    count = min(count, len(pool))
    descriptors = DescriptorCalculator(model.basis)
    species, columns = [], []
    for structure in pool:
        atoms = getattr(structure, "atoms", structure)
        species.append(model.basis.species_index(atoms.numbers))
        columns.append(descriptors.compute(atoms).values)
    current = posterior
    chosen, gains, initial = [], [], None
    remaining = list(range(len(pool)))
    for _ in range(count):
        scores = np.array([structure_gain(current.projections(species[k], columns[k]), current.reference_variance)
                           for k in remaining])
        if initial is None:
            initial = scores.copy()
        best = int(np.argmax(scores))
        index = remaining.pop(best)
        chosen.append(index)
        gains.append(float(scores[best]))
        current = _with_rows(current, current.atom_columns(species[index], columns[index]))
    return Selection(chosen, gains, initial)


def _with_rows(posterior, rows):
    """The posterior after the rows z_i / √v_ref [n][n_columns] joined the fit (C of [C; rows / √v_ref])."""
    stacked = np.vstack([posterior.factor, rows / np.sqrt(posterior.reference_variance)])
    factor = np.linalg.qr(stacked, mode="r")[: posterior.n_columns]
    signs = np.where(np.diag(factor) < 0, -1.0, 1.0)
    return replace(posterior, factor=np.triu(factor * signs[:, None]))


def run_select(model, patterns, count, output):
    """`lepot select`: choose ``count`` structures of the files ``patterns`` and write them to ``output``
    (extxyz, atomically, with any energies, forces and stresses the pool had) with info "source" (file:index),
    "selection_rank" and "selection_gain"; returns a text summary."""
    from lepot.calculator.ase import resolve_model

    from .data import check_species, read_structures
    from .evaluate import write_extxyz_atomically

    model = resolve_model(model)
    pool = read_structures(patterns)
    check_species(pool, model.species)
    selection = select_structures(model, pool, count)
    chosen = []
    for rank, (index, gain) in enumerate(zip(selection.indices, selection.gains)):
        chosen.append(labelled_atoms(pool[index]))
        chosen[-1].info.update(source=pool[index].source, selection_rank=rank, selection_gain=gain)
    write_extxyz_atomically(chosen, output)
    lines = [f"selected {len(chosen)} of {len(pool)} structures (greedy D-optimal over local environments; "
             f"gain = ln det(I + U Uᵀ / v_ref), docs/uncertainty.md) -> {output}",
             "| rank | source | atoms | gain when chosen | gain before any was chosen |", "|---|---|---|---|---|"]
    for rank, (index, gain) in enumerate(zip(selection.indices, selection.gains)):
        lines.append(f"| {rank} | {pool[index].source} | {pool[index].n_atoms} | {gain:.4g} | {selection.initial_gains[index]:.4g} |")
    return "\n".join(lines)


def labelled_atoms(structure):
    """A copy of a Structure's atoms carrying its reference energy, forces and stress (those it has)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = structure.atoms.copy()
    results = {key: value for key, value in (("energy", structure.energy), ("forces", structure.forces),
                                             ("stress", structure.stress)) if value is not None}
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms
