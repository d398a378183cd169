"""Which uncertainty measure ranks a potential's out-of-sample energy errors, judged on training data only.

    .venv/bin/python benchmarks/uncertainty_loo.py [config.yaml ...]     (default: the four mlearn fits)

The issue's target (rank correlation between the predicted uncertainty and the actual error per structure
>= 0.5) is scored on 23–25 test structures, about ±0.2 of sampling noise, and a choice between measures made
on the 19–21 validation structures is as noisy. Here every training structure S is held out in turn, exactly
for the ridge at the fit's λ — the leave-one-out errors and variances the fit's calibration uses
(lepot.fitting.posterior.held_out_errors, whose docstring has the formulas) — so each candidate is computed
with the posterior that did not see S. Candidates, per structure of N atoms at unit noise (u_i = C⁻ᵀ z_i,
docs/uncertainty.md): the posterior variance of the energy per atom |Σ_i u_i|² / N² (σ_E up to format_version
4), the local variances Σ_i |u_i|² / N², and σ_E² / N² as the fit now calibrates it (α² |Σ_i u_i|² / N² +
β² Σ_i |u_i|² / N² + τ² + η² / N, with the fitted file's α², β², τ, η — chosen by maximum likelihood on these same errors
and the validation ones, not by rank). Printed: Spearman's rank correlation of each with |r_S,held-out|, and
the calibrated scales. The test split is not used.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

from lepot.fitting.fit import run_stages  # noqa: E402
from lepot.fitting.posterior import held_out_errors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "examples" / f"fit_{name}.yaml" for name in ("Mo_fast", "Mo", "Si_fast", "Si")]
MEASURES = ("‖Σu‖²/N² (σ_E to version 4)", "Σ‖u_i‖²/N²", "σ_E²/N² as calibrated")


def held_out(config_path):
    """(|held-out energy error| per training structure (eV/atom), MEASURES [n][3], the model's posterior)."""
    stages = run_stages(config_path)
    posterior = stages.model.uncertainty
    errors = held_out_errors(stages.model, posterior, stages.solved.solution.coefficients, stages.data.splits["train"],
                             leave_out=True)
    calibrated = (posterior.posterior_scale * errors.summed_variances
                  + posterior.local_variance_scale * errors.local_variances + posterior.energy_noise**2
                  + posterior.atom_energy_noise**2 / errors.atom_counts)
    measures = np.column_stack([errors.summed_variances, errors.local_variances, calibrated])
    return np.abs(errors.energy_residuals), measures, posterior


def main():
    configs = [Path(p) for p in sys.argv[1:]] or CONFIGS
    print(machine_line())
    print("| fit | training structures | median held-out error (meV/atom) | "
          + " | ".join(f"Spearman: {m}" for m in MEASURES) + " | α² | β² | τ (meV/atom) | η (meV) | α_F² |")
    print("|---|---|---|" + "---|" * (len(MEASURES) + 5))
    for config_path in configs:
        errors, measures, p = held_out(config_path)
        correlations = [spearmanr(measures[:, k], errors)[0] for k in range(len(MEASURES))]
        print(f"| {config_path.name} | {len(errors)} | {1e3 * np.median(errors):.2f} | "
              + " | ".join(f"{c:.3f}" for c in correlations)
              + f" | {p.posterior_scale:.3g} | {p.local_variance_scale:.3g} | {1e3 * p.energy_noise:.3g} | "
              f"{1e3 * p.atom_energy_noise:.3g} | {p.force_posterior_scale:.3g} |", flush=True)


if __name__ == "__main__":
    main()
