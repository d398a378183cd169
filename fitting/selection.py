"""`lepot select`: which structures of a pool to label next, from a fitted model's posterior (docs/uncertainty.md).

Labelling a structure S would add its weighted design rows X_S (one energy row, 3N force rows, six stress
rows for a periodic cell: lepot.fitting.design.RowBuilder, with the row weights the model was fitted with,
from its metadata) to the fit, whose Hessian is H = CᵀC and becomes H + X_SᵀX_S. With V_S = C⁻ᵀ X_Sᵀ and
M_S = I + V_Sᵀ V_S (the posterior's calibration scale cancels from both criteria):

  criterion "variance" (transductive / V-optimal design): the expected reduction of the total
      predictive variance of the whole pool's weighted rows X_P,
          gain(S) = tr(X_P (H⁻¹ − (H + X_SᵀX_S)⁻¹) X_Pᵀ) = tr(M_S⁻¹ V_Sᵀ G V_S),   G = C⁻ᵀ X_PᵀX_P C⁻¹,
      which favours structures that inform the predictions the pool asks for, in the proportions it asks
      (mostly forces: a structure has one energy row and 3N force rows);
  criterion "energy" (default): the same with X_P the pool's energy rows only (the expected reduction of
      the variance of the pool's energies per atom), the labels still adding all their rows X_S; chosen over
      "variance" on the validation curves of benchmarks/active_learning.py (better energies at every size,
      forces within 1-5 %);
  criterion "information" (D-optimal design): the expected information of the labels,
          gain(S) = ln det(I + X_S H⁻¹ X_Sᵀ) = ln det M_S (nats).

Each round takes the structure of largest gain, folds its rows into C (a QR of [C; X_S]) and recomputes
the other gains, so a second structure like the first gains little: the selection is diverse by
construction. The rows need no labels (targets do not enter X). Deterministic (ties go to the earlier
structure). benchmarks/active_learning.py compares both with random picks.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from .data import Structure
from .posterior import posterior_row_builder
from .triangular import fold_rows


@dataclass
class Selection:
    indices: list  # pool indices in the order chosen
    gains: list  # gain(S) of each when it was chosen (variance: weighted-row units²; information: nats)
    initial_gains: np.ndarray  # [pool] gain of every structure before any was chosen


def design_rows(model, structures):
    """([X_S [n_rows][n_columns]], [E_S [1 or 0][n_columns]]) of ``structures`` with the fit's row weights, in
    the posterior's columns: all the rows of each structure (energy, forces, stress), and its energy row."""
    posterior = model.uncertainty
    builder = posterior_row_builder(model, posterior, targets=False)
    rows, energy_rows = [], []
    for structure in structures:
        atoms = getattr(structure, "atoms", structure)
        placeholder = Structure(atoms, 0.0, np.zeros((len(atoms), 3)), np.zeros((3, 3)),  # X does not depend on them
                                getattr(structure, "config_type", "default"), getattr(structure, "source", ""))
        by_target = builder.rows_by_target(placeholder)
        rows.append(np.vstack([x for x, _ in by_target.values()]) if by_target else np.zeros((0, posterior.n_columns)))
        energy_rows.append(by_target["energy"][0] if "energy" in by_target else np.zeros((0, posterior.n_columns)))
    return rows, energy_rows


CRITERIA = ("variance", "energy", "information")
DEFAULT_CRITERION = "energy"


def _projected(factor, rows):
    """V = C⁻ᵀ Xᵀ [n_columns][m] and M = I + VᵀV [m][m] of rows X [m][n_columns]."""
    v = solve_triangular(factor, rows.T, trans="T", lower=False)
    return v, np.eye(v.shape[1]) + v.T @ v


def information_gain(factor, rows):
    """ln det(I + X H⁻¹ Xᵀ) of rows X [m][n_columns] with H = CᵀC (``factor`` C upper triangular)."""
    return float(np.linalg.slogdet(_projected(factor, rows)[1])[1])


def variance_reduction(factor, rows, whitened_gram):
    """tr(M⁻¹ Vᵀ G V): the drop of the pool's total predictive variance if rows X joined the fit
    (``whitened_gram`` G = C⁻ᵀ X_PᵀX_P C⁻¹ [n_columns][n_columns])."""
    v, m = _projected(factor, rows)
    return float(np.trace(np.linalg.solve(m, v.T @ whitened_gram @ v)))


def select_structures(model, pool, count, criterion=DEFAULT_CRITERION):
    """Selection of ``count`` structures (ase.Atoms or Structures) of ``pool`` under ``model``'s posterior."""
    if model.uncertainty is None:
        raise ValueError("this parameter file stores no uncertainty ('uncertainty': null): refit it with lepot fit "
                         "(output.uncertainty: true, the default) to select structures")
    if count < 1:
        raise ValueError(f"the number of structures to select must be at least 1, got {count}")
    if criterion not in CRITERIA:
        raise ValueError(f"unknown selection criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    count = min(count, len(pool))
    rows, energy_rows = design_rows(model, pool)
    targets = {"variance": rows, "energy": energy_rows}.get(criterion)  # the pool rows whose variance is reduced
    pool_gram = sum(r.T @ r for r in targets) if targets is not None else None  # shape [n_columns][n_columns]
    factor = model.uncertainty.factor
    chosen, gains, initial = [], [], None
    remaining = list(range(len(pool)))
    for _ in range(count):
        if pool_gram is not None:
            half = solve_triangular(factor, pool_gram, trans="T", lower=False)  # C⁻ᵀ K
            gram = solve_triangular(factor, half.T, trans="T", lower=False).T  # C⁻ᵀ K C⁻¹
            scores = np.array([variance_reduction(factor, rows[k], gram) for k in remaining])
        else:
            scores = np.array([information_gain(factor, rows[k]) for k in remaining])
        if initial is None:
            initial = scores.copy()
        best = int(np.argmax(scores))
        index = remaining.pop(best)
        chosen.append(index)
        gains.append(float(scores[best]))
        factor = _with_rows(factor, rows[index])
    return Selection(chosen, gains, initial)


def _with_rows(factor, rows):
    """C of the Hessian CᵀC + XᵀX (rows X [m][n_columns]): the R of [C; X], diagonal positive."""
    return fold_rows(factor, rows, positive_diagonal=True)


def run_select(model, patterns, count, output, criterion=DEFAULT_CRITERION):
    """`lepot select`: choose ``count`` structures of the files ``patterns`` and write them to ``output``
    (extxyz, atomically, with any energies, forces and stresses the pool had) with info "source" (file:index),
    "selection_rank" and "selection_gain"; returns a text summary."""
    from lepot.calculator.ase import resolve_model

    from .data import check_species, read_structures
    from .evaluate import write_extxyz_atomically

    model = resolve_model(model)
    pool = read_structures(patterns)
    check_species(pool, model.species)
    selection = select_structures(model, pool, count, criterion)
    chosen = []
    for rank, (index, gain) in enumerate(zip(selection.indices, selection.gains)):
        chosen.append(labelled_atoms(pool[index]))
        chosen[-1].info.update(source=pool[index].source, selection_rank=rank, selection_gain=gain)
    write_extxyz_atomically(chosen, output)
    lines = [f"selected {len(chosen)} of {len(pool)} structures (criterion {criterion}, docs/uncertainty.md) -> {output}",
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
