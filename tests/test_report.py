"""Fit-report diagnostics (lepot.fitting.report): groups far above their split's error are flagged (train and
validation only), and the regularisation plot is written next to the model when the strength was searched."""

import numpy as np

from lepot.fitting import fit
from lepot.fitting.report import FLAG_RATIO, flagged_groups
from test_fitting import SAMPLE, small_config


def row(energy_rmse, force_rmse):
    return {"n_structures": 1, "n_atoms": 1,
            "energy_meV_per_atom": {"rmse": energy_rmse, "mae": energy_rmse, "count": 1},
            "forces_eV_per_A": None if force_rmse is None else {"rmse": force_rmse, "mae": force_rmse, "count": 3},
            "stress_GPa": None}


def test_groups_above_the_ratio_are_flagged_on_train_and_validation_only():
    table = {"all": row(2.0, 0.1), "Bulk": row(1.0, 0.09), "Surface": row(2.0 * FLAG_RATIO + 0.1, 0.1),
             "Vacancy": row(2.0 * FLAG_RATIO - 0.1, 0.1 * FLAG_RATIO + 0.01)}
    flagged = flagged_groups({"train": table, "validation": table, "test": table})
    found = {(entry["split"], entry["group"], entry["target"]) for entry in flagged}
    assert found == {("train", "Surface", "energy"), ("validation", "Surface", "energy"),
                     ("train", "Vacancy", "forces"), ("validation", "Vacancy", "forces")}
    surface = next(e for e in flagged if e["group"] == "Surface")
    assert surface["ratio"] == (2.0 * FLAG_RATIO + 0.1) / 2.0 and surface["unit"] == "meV/atom"
    assert flagged_groups({"train": {"all": row(2.0, None), "Only": row(2.0, None)}}) == []


def test_fit_report_lists_flagged_groups_and_draws_the_regularisation_plot(tmp_path):
    config = small_config(SAMPLE, tmp_path / "report.json", data={"validation_fraction": 0.25},
                          solver={"smoothness_power": "auto"})
    result = fit(config, progress=False)
    report = (tmp_path / "report.md").read_text()
    flagged = result.model.metadata["fit"]["flagged_groups"]
    assert ("## Groups to check" in report) == bool(flagged)
    for entry in flagged:
        assert entry["split"] in ("train", "validation") and entry["ratio"] > FLAG_RATIO
        assert f"{entry['split']} {entry['group']}: {entry['target']} RMSE" in report
    plot = tmp_path / "report_regularisation.png"
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert result.outputs["regularisation_plot"] == str(plot)
    assert set(result.solution.curves) == set(result.solution.power_scores)
    assert all(np.all(np.isfinite(values)) for _, values in result.solution.curves.values())
