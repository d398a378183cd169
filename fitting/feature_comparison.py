"""`lepot compare`: how much of one basis' information another keeps, on a data set (docs/uncertainty.md).

The global feature reconstruction error and distortion of Goscinski, Fraux, Imbalzano and Ceriotti
(Mach. Learn.: Sci. Technol. 2, 025028 (2021)), on the per-atom descriptors B(i) of two bases:

  * both feature sets are centred and scaled by their root-mean-square norm on the training half of the
    environments (so each has total variance 1 per environment);
  * P = argmin |X_A P − X_B|² + r |P|² on the training half (r = RELATIVE_RIDGE × tr(X_Aᵀ X_A) / p_A);
  * GFRE(A → B) = sqrt(mean over the test half of |x_B − x_A P|²): 0 when B is a linear function of A,
    1 when A says nothing about B;
  * GFRD(A → B) = sqrt(mean over the test half of |x_A Q − x_A P|²), Q the orthogonal (Procrustes) map
    closest to P on the training half: 0 when B is A rotated, larger the more P deforms A.

The environments are split at random (seeded) into two halves. Compare, for example, a compressed basis
with a full one, two n_max, or a pruned model with the unpruned one.
"""

from dataclasses import dataclass

import numpy as np

from lepot.calculator import DescriptorCalculator

RELATIVE_RIDGE = 1e-8


@dataclass
class Reconstruction:
    error: float  # GFRE(A → B)
    distortion: float  # GFRD(A → B)


def environment_features(basis, structures):
    """B(i) of every atom of ``structures`` (ase.Atoms or Structures), stacked [n_atoms][n_features]."""
    calculator = DescriptorCalculator(basis)
    return np.vstack([calculator.compute(getattr(s, "atoms", s)).values for s in structures])


def split_environments(n, seed):
    """(train, test) index arrays: a seeded random half each."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def _standardised(features, train):
    centred = features - features[train].mean(axis=0)
    norm = np.sqrt(np.mean(np.sum(centred[train] ** 2, axis=1)))
    return centred / (norm if norm > 0 else 1.0)


def reconstruction(source, target, train, test):
    """Reconstruction of ``target`` [n][p_B] from ``source`` [n][p_A] (module docstring) on the given halves."""
    a, b = _standardised(source, train), _standardised(target, train)
    gram = a[train].T @ a[train]
    ridge = RELATIVE_RIDGE * np.trace(gram) / gram.shape[0]
    mapping = np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), a[train].T @ b[train])  # shape [p_A][p_B]
    error = np.sqrt(np.mean(np.sum((b[test] - a[test] @ mapping) ** 2, axis=1)))
    u, _, vt = np.linalg.svd(a[train].T @ (a[train] @ mapping), full_matrices=False)  # Procrustes: Q = U Vᵀ
    orthogonal = u @ vt
    distortion = np.sqrt(np.mean(np.sum((a[test] @ orthogonal - a[test] @ mapping) ** 2, axis=1)))
    return Reconstruction(float(error), float(distortion))


def compare_bases(basis_a, basis_b, structures, seed=0):
    """{"A->B": Reconstruction, "B->A": Reconstruction} on the atoms of ``structures``."""
    if tuple(basis_a.species) != tuple(basis_b.species):
        raise ValueError(f"the two models have different species ({', '.join(basis_a.species)} against "
                         f"{', '.join(basis_b.species)}); GFRE compares bases of the same elements")
    features_a, features_b = environment_features(basis_a, structures), environment_features(basis_b, structures)
    if len(features_a) < 4:
        raise ValueError(f"the data has {len(features_a)} atoms; GFRE needs at least 4 environments")
    train, test = split_environments(len(features_a), seed)
    return {"A->B": reconstruction(features_a, features_b, train, test),
            "B->A": reconstruction(features_b, features_a, train, test)}


def run_compare(model_a, model_b, patterns, seed=0):
    """`lepot compare`: GFRE and GFRD between the bases of two parameter files on the atoms of ``patterns``."""
    from lepot.calculator.ase import resolve_model

    from .data import check_species, read_structures

    a, b = resolve_model(model_a), resolve_model(model_b)
    structures = read_structures(patterns)
    check_species(structures, a.species)
    result = compare_bases(a.basis, b.basis, structures, seed)
    n_atoms = sum(s.n_atoms for s in structures)
    return "\n".join([
        f"A = {model_a} ({a.basis.n_features} features), B = {model_b} ({b.basis.n_features} features); "
        f"{n_atoms} environments of {len(structures)} structures, half to fit the maps (seed {seed}), half to judge",
        "| direction | GFRE | GFRD |", "|---|---|---|",
        f"| A -> B | {result['A->B'].error:.4f} | {result['A->B'].distortion:.4f} |",
        f"| B -> A | {result['B->A'].error:.4f} | {result['B->A'].distortion:.4f} |",
        "GFRE 0: the target basis is a linear function of the source; 1: the source says nothing about it.",
    ])
