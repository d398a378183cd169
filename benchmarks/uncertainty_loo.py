"""Which uncertainty measure ranks a potential's out-of-sample energy errors, judged on training data only.

    .venv/bin/python benchmarks/uncertainty_loo.py [config.yaml ...]     (default: the four mlearn fits)

The issue's target (rank correlation between the predicted uncertainty and the actual error per structure
>= 0.5) is scored on 23–25 test structures, about ±0.2 of sampling noise, and a choice between measures made
on the 19–21 validation structures is as noisy. Here every training structure S is held out in turn, exactly
for the ridge at the fit's λ: with X_S its weighted rows (energy, forces, stress), r_S their residuals and
H = CᵀC the fit's Hessian (the stored posterior's columns),

    r_S,loo = (I − X_S H⁻¹ X_Sᵀ)⁻¹ r_S                        (the energy row: the held-out error, eV/atom)
    zᵀ H_{−S}⁻¹ z = zᵀ H⁻¹ z + (X_S H⁻¹ z)ᵀ (I − X_S H⁻¹ X_Sᵀ)⁻¹ (X_S H⁻¹ z)     (Woodbury)

so each candidate measure is computed with the posterior that did not see S. Candidates, per structure of N
atoms at unit noise (u_i = C⁻ᵀ z_i, docs/uncertainty.md): the posterior variance of the energy per atom
|Σ_i u_i|² / N² (what σ_E is made of), the mean and the largest local variance |u_i|², and their sum
|Σ_i u_i|² / N² + mean_i |u_i|² / N (the structure's variance if each local energy also had an independent
error as large as its own posterior variance), and the RMS over the structure's force components of the
force uncertainty σ_F (its force rows x in place of z; eV/Å at unit noise; gauge-free, docs/uncertainty.md).
Printed: Spearman's rank correlation of each with |r_S,loo|. The test split is not used.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.calculator.descriptors import DescriptorCalculator  # noqa: E402
from lepot.fitting.fit import run_stages  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "examples" / f"fit_{name}.yaml" for name in ("Mo_fast", "Mo", "Si_fast", "Si")]
MEASURES = ("‖Σu‖²/N² (σ_E, shipped)", "mean ‖u_i‖²", "max ‖u_i‖²", "‖Σu‖²/N² + mean ‖u_i‖²/N", "RMS σ_F")


def atom_columns(model, centre_embedding, atoms, values):
    """z_i [n_atoms][n_columns] in the posterior's columns: B(i) in its species' centre blocks, 1 in its E0 column."""
    n_features, n_columns = model.basis.n_features, model.uncertainty.n_columns
    species = model.basis.species_index(atoms.numbers)
    z = np.zeros((len(atoms), n_columns))
    for kappa, weight in enumerate(centre_embedding):
        z[:, kappa * n_features : (kappa + 1) * n_features] = weight[species][:, None] * values
    if model.uncertainty.reference_energy_columns:
        z[np.arange(len(atoms)), len(centre_embedding) * n_features + species] = 1.0
    return z


def held_out(config_path):
    """Per training structure: |held-out energy error| (eV/atom) and the MEASURES without it."""
    stages = run_stages(config_path)
    data, design, solved, model = stages.data, stages.design, stages.solved, stages.model
    builder, pruning = design.builder, solved.pruning
    columns = pruning.columns if pruning is not None else np.arange(builder.n_columns)  # the posterior's columns
    coefficients = (pruning.solution if pruning is not None else solved.solution).coefficients
    hessian = (model.uncertainty.factor, False)  # H = CᵀC, for cho_solve
    descriptors = DescriptorCalculator(model.basis)
    errors, measures = [], []
    for structure in data.splits["train"]:
        rows, targets = builder.rows(structure)  # energy row first, then 3N force rows
        rows = rows[:, columns]
        keep = np.eye(len(targets)) - rows @ scipy.linalg.cho_solve(hessian, rows.T)  # I − X_S H⁻¹ X_Sᵀ

        def held_out_variances(vectors):  # vᵀ H_{−S}⁻¹ v of each row of vectors [m][n_columns]
            hv = scipy.linalg.cho_solve(hessian, vectors.T)
            xhv = rows @ hv
            return np.einsum("mn,nm->m", vectors, hv) + np.einsum("km,km->m", xhv, np.linalg.solve(keep, xhv))

        residual = np.linalg.solve(keep, rows @ coefficients - targets)
        weights = builder.structure_row_weights(structure)
        errors.append(abs(residual[0]) / weights["energy"])
        atoms = structure.atoms
        n = len(atoms)
        z = atom_columns(model, builder.centre_embedding, atoms, descriptors.compute(atoms).values)
        local = held_out_variances(z)
        total = held_out_variances(z.sum(axis=0)[None, :])[0]
        force_rows = rows[1 : 1 + 3 * n] if weights["forces"] > 0 else None  # after the energy row
        force_sigma = np.nan if force_rows is None else np.sqrt(held_out_variances(force_rows).mean()) / weights["forces"]
        measures.append((total / n**2, local.mean(), local.max(), total / n**2 + local.mean() / n, force_sigma))
    return np.array(errors), np.array(measures)


def main():
    configs = [Path(p) for p in sys.argv[1:]] or CONFIGS
    print(machine_line())
    print("| fit | training structures | median held-out error (meV/atom) | "
          + " | ".join(f"Spearman: {m}" for m in MEASURES) + " |")
    print("|---|---|---|" + "---|" * len(MEASURES))
    for config_path in configs:
        errors, measures = held_out(config_path)
        correlations = [spearmanr(measures[:, k], errors)[0] for k in range(len(MEASURES))]
        print(f"| {config_path.name} | {len(errors)} | {1e3 * np.median(errors):.2f} | "
              + " | ".join(f"{c:.3f}" for c in correlations) + " |", flush=True)


if __name__ == "__main__":
    main()
