"""The coefficients' posterior (docs/uncertainty.md): LPR and the energy uncertainty against explicit
constrained refits and an explicit Hessian, the calibration against a brute-force likelihood search, the
file round trip and the ASE results."""

from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from models import random_model
from lammps_runner import run_lmp, write_data
from structures import write_emt_training_file
from test_fitting import MO_TEST, SAMPLE, fit_on_two_ranks, small_config

from lepot.calculator import LepotCalculator, Model, build_basis, load_model
from lepot.calculator.descriptors import DescriptorCalculator
from lepot.fitting.evaluate import evaluate_uncertainty, run_eval
from lepot.fitting.feature_comparison import compare_bases, reconstruction, run_compare, split_environments
from lepot.fitting.data import DataError, read_structures
from lepot.fitting.posterior import calibrate, force_scale, held_out_errors
from lepot.fitting.selection import run_select, select_structures
from lepot.fitting.uncertainty_eval import StructureUncertainty, calibration_summary
from lepot.fitting.solver import RidgeProblem

ROOT = Path(__file__).resolve().parent.parent


def mo_config(tmp_path):
    """The shipped Mo sample, 8 of its 40 structures for validation (enough to calibrate on)."""
    return small_config(SAMPLE, tmp_path / "Mo.json", data={"test": str(MO_TEST), "validation_fraction": 0.2},
                        model={"n_max": 4, "l_max": 3, "cutoff": 5.0})


def alloy_config(tmp_path):
    """Two elements with compressed centre weights (two centre channels mixing both species)."""
    train = write_emt_training_file(tmp_path / "train.extxyz", ["Cu", "Au"], 12, seed=4)
    return small_config(train, tmp_path / "CuAu.json", species=["Cu", "Au"],
                        data={"validation_fraction": 0.0},
                        model={"n_max": 4, "l_max": 2, "cutoff": 4.5, "compression": 2, "centre_weights": "compressed"})


def fitted_stages(config):
    """The fit's stages in memory: (data, design, solved, model with its posterior)."""
    # imported here: importing the submodule lepot.fitting.fit rebinds the package's `fit` to it until the
    # function is next called (lepot/fitting/__init__.py), which other test modules import at collection
    from lepot.fitting.fit import run_stages

    stages = run_stages(config)
    assert stages.model.uncertainty is not None
    return stages.data, stages.design, stages.solved, stages.model


def explicit_problem(data, design, solved):
    """The weighted rows X, y of every training structure, stacked, and the ridge λ D² of the solution:
    the loss L(w) = ½ (|X w − y|² + wᵀ (λ D²) w), built without the triangular factor's posterior code."""
    rows = [design.builder.rows(s) for s in data.splits["train"]]
    x, y = np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    problem = RidgeProblem(design.factor)
    ridge = solved.solution.regularisation * problem.s_max2 * np.diag(problem.scale**2)
    return x, y, ridge


def atom_columns(builder, atoms, values):
    """z_i of every atom: B(i) in its species' centre blocks, 1 in its E0 column (design.py's energy row, per atom)."""
    species = builder.basis.species_index(atoms.numbers)
    n_features = builder.basis.n_features
    z = np.zeros((len(atoms), builder.n_columns))
    for kappa, weight in enumerate(builder.centre_embedding):
        z[:, kappa * n_features : (kappa + 1) * n_features] = weight[species][:, None] * values
    z[np.arange(len(atoms)), builder.n_coefficient_columns + species] = 1.0
    return z


def constrained_minimum(x, y, ridge, z, target):
    """min over w of ½ (|X w − y|² + wᵀ ridge w) subject to zᵀ w = target, by its KKT system."""
    n = x.shape[1]
    kkt = np.block([[x.T @ x + ridge, z[:, None]], [z[None, :], np.zeros((1, 1))]])
    w = np.linalg.solve(kkt, np.concatenate([x.T @ y, [target]]))[:n]
    return 0.5 * (np.sum((x @ w - y) ** 2) + w @ ridge @ w)


@pytest.mark.parametrize("make_config", [mo_config, alloy_config])
def test_local_prediction_rigidity_equals_the_curvature_of_constrained_refits(tmp_path, make_config):
    """LPR_i = ∂² L_min / ∂ε_i², L_min(ε) the lowest loss of a refit whose local energy of atom i is held at ε
    (Chong et al. 2023): here by explicit constrained solves at ε0 ± h (L_min is exactly quadratic in ε)."""
    data, design, solved, model = fitted_stages(make_config(tmp_path))
    x, y, ridge = explicit_problem(data, design, solved)
    atoms = data.splits["train"][0].atoms.copy()
    atoms.rattle(0.05, seed=1)
    calculator = LepotCalculator(model)
    rigidity = calculator.get_property("local_prediction_rigidity", atoms)
    values = calculator._descriptors.compute(atoms).values
    z = atom_columns(design.builder, atoms, values)
    free = np.linalg.solve(x.T @ x + ridge, x.T @ y)
    for i in (0, len(atoms) - 1):
        centre, step = z[i] @ free, 1.0 / np.sqrt(rigidity[i])
        losses = [constrained_minimum(x, y, ridge, z[i], centre + k * step) for k in (-1, 0, 1)]
        curvature = (losses[0] - 2 * losses[1] + losses[2]) / step**2
        assert rigidity[i] == pytest.approx(curvature, rel=1e-6)


def test_energy_uncertainty_is_the_calibrated_posterior_variance(tmp_path):
    data, design, solved, model = fitted_stages(mo_config(tmp_path))
    x, y, ridge = explicit_problem(data, design, solved)
    posterior = model.uncertainty
    assert model.metadata["fit"]["uncertainty"]["calibration"] == "held-out"
    posterior.local_variance_scale, posterior.energy_noise, posterior.atom_energy_noise = 0.5 * posterior.posterior_scale, 2e-3, 1e-2
    atoms = ase.io.read(MO_TEST, 3)
    calculator = LepotCalculator(model)
    sigma = calculator.get_property("energy_uncertainty", atoms)
    local = calculator.get_property("energies_uncertainty", atoms)
    z = atom_columns(design.builder, atoms, calculator._descriptors.compute(atoms).values)
    covariance = np.linalg.inv(x.T @ x + ridge)
    d = z.sum(axis=0)
    atom_variances = np.einsum("ij,jk,ik->i", z, covariance, z)
    expected = (posterior.posterior_scale * d @ covariance @ d + posterior.local_variance_scale * atom_variances.sum()
                + (posterior.energy_noise * len(atoms)) ** 2 + posterior.atom_energy_noise**2 * len(atoms))
    assert sigma**2 == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(local**2, (posterior.posterior_scale + posterior.local_variance_scale) * atom_variances
                               + posterior.atom_energy_noise**2, rtol=1e-6)
    grade = calculator.get_property("extrapolation_grade", atoms)
    np.testing.assert_allclose(grade**2, atom_variances / posterior.reference_variance, rtol=1e-6)


def test_held_out_errors_equal_refits_without_the_structure(tmp_path):
    """The calibration's leave-one-out errors and variances (Woodbury on the fit's factor) against explicit
    refits on the training rows without each structure, and the validation structures' against the full fit."""
    data, design, solved, model = fitted_stages(mo_config(tmp_path))
    x, y, ridge = explicit_problem(data, design, solved)
    train = data.splits["train"]
    weights = design.builder.structure_row_weights(train[0])
    counts = np.cumsum([0] + [len(design.builder.rows(s)[1]) for s in train])
    coefficients = solved.solution.coefficients
    for k in (0, len(train) // 2):
        others = np.r_[0 : counts[k], counts[k + 1] : len(y)]
        covariance = np.linalg.inv(x[others].T @ x[others] + ridge)
        refit = covariance @ x[others].T @ y[others]
        rows, targets = x[counts[k] : counts[k + 1]], y[counts[k] : counts[k + 1]]
        residual = rows @ refit - targets
        atoms = train[k].atoms
        z = atom_columns(design.builder, atoms, DescriptorCalculator(model.basis).compute(atoms).values)
        held = held_out_errors(model, model.uncertainty, coefficients, [train[k]], leave_out=True)
        n = len(atoms)
        assert held.energy_residuals[0] == pytest.approx(residual[0] / weights["energy"], rel=1e-6)
        d = z.sum(axis=0)
        assert held.summed_variances[0] == pytest.approx(d @ covariance @ d / n**2, rel=1e-6)
        assert held.local_variances[0] == pytest.approx(np.einsum("ij,jk,ik->", z, covariance, z) / n**2, rel=1e-6)
        force = slice(1, 1 + 3 * n)
        variances = np.einsum("ij,jk,ik->i", rows[force], covariance, rows[force]) / weights["forces"] ** 2
        np.testing.assert_allclose(held.force_variances, variances, rtol=1e-6)
        # a residual is a difference of numbers of the targets' size, so its round-off is relative to the largest
        # residual of the structure, not to each
        expected = residual[force] / weights["forces"]
        np.testing.assert_allclose(held.force_residuals, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    validation = data.splits["validation"][0]
    rows, targets = design.builder.rows(validation)
    seen = held_out_errors(model, model.uncertainty, coefficients, [validation], leave_out=False)
    assert seen.energy_residuals[0] == pytest.approx((rows[0] @ coefficients - targets[0]) / weights["energy"], rel=1e-6)


def force_rows_by_differences(model, builder, atoms):
    """x_jα of every force component, [3 n_atoms][n_columns]: the change of the model's forces when one design
    column's coefficient goes up by 1 (forces are linear in the coefficients, so this difference is exact up
    to round-off; the core repulsion cancels). Column (κ, q) adds v_κ(a) to species a's coefficient q."""
    forces = LepotCalculator(model).get_forces(atoms)
    rows = np.zeros((3 * len(atoms), builder.n_columns))  # E0 columns: no force
    n_features = builder.basis.n_features
    for kappa, weight in enumerate(builder.centre_embedding):
        for q in range(n_features):
            shifted = Model(model.basis, model.coefficients + np.outer(weight, np.eye(n_features)[q]),
                            model.reference_energies)
            rows[:, kappa * n_features + q] = (LepotCalculator(shifted).get_forces(atoms) - forces).reshape(-1)
    return rows


@pytest.mark.parametrize("make_config", [mo_config, alloy_config])
def test_force_uncertainty_is_the_posterior_variance_of_the_force_rows(tmp_path, make_config):
    data, design, solved, model = fitted_stages(make_config(tmp_path))
    x, y, ridge = explicit_problem(data, design, solved)
    atoms = data.splits["train"][0].atoms.copy()
    atoms.rattle(0.05, seed=2)
    sigma = LepotCalculator(model).get_property("forces_uncertainty", atoms)  # shape [n_atoms][3], eV/Å
    rows = force_rows_by_differences(model, design.builder, atoms)
    expected = model.uncertainty.force_posterior_scale * np.einsum("ij,jk,ik->i", rows, np.linalg.inv(x.T @ x + ridge), rows)
    np.testing.assert_allclose(sigma.reshape(-1) ** 2, expected, rtol=1e-6)


def test_force_scale_leaves_out_force_rows_that_vanish_to_round_off():
    """α_F² is the mean of r² / |C⁻ᵀ x|²; a component whose variance is a round-off zero (a force row that
    vanishes by symmetry) is left out instead of dominating it with DFT noise over 1e-28."""
    rng = np.random.default_rng(3)
    variances = rng.uniform(0.5, 2.0, size=200) * 1e-3
    residuals = rng.normal(size=200) * np.sqrt(6.0 * variances)
    scale = force_scale(np.append(residuals, 1e-3), np.append(variances, 5e-28))
    assert scale == pytest.approx(np.mean(residuals**2 / variances), rel=1e-12)
    assert force_scale(np.zeros(0), np.zeros(0)) is None


@pytest.mark.parametrize("minimum_scale", [1e-3, 10.0])
def test_calibration_maximises_the_held_out_likelihood(minimum_scale):
    """(α², β², τ², η²) with α² >= minimum_scale (with 10 the bound is active): no point of a brute-force grid is
    more likely, and the optimum satisfies the bounded problem's optimality conditions (zero gradient in every
    scale off its bound, a non-negative one at a bound)."""
    rng = np.random.default_rng(7)
    summed = rng.uniform(0.1, 3.0, size=80) * 1e-6
    local = rng.uniform(0.5, 20.0, size=80) * 1e-6
    counts = rng.integers(8, 129, size=80).astype(float)
    residuals = rng.normal(size=80) * np.sqrt(4.0 * summed + 0.3 * local + 0.5e-6 + 4e-5 / counts)
    components = np.column_stack([summed, local, np.ones(80), 1.0 / counts])
    scale, local_scale, noise, atom_noise, nll = calibrate(summed, local, counts, residuals, minimum_scale)
    theta = np.array([scale, local_scale, noise**2, atom_noise**2])

    def negative_log_likelihood(theta):  # theta: shape [..., 4]
        total = theta @ components.T
        return 0.5 * np.sum(np.log(2 * np.pi * total) + residuals**2 / total, axis=-1)

    grid = np.stack(np.meshgrid(np.geomspace(minimum_scale, 1e3, 21), np.concatenate([[0.0], np.geomspace(1e-4, 1e2, 20)]),
                                np.concatenate([[0.0], np.geomspace(1e-10, 1e-4, 20)]),
                                np.concatenate([[0.0], np.geomspace(1e-8, 1e-2, 20)]), indexing="ij"), axis=-1)
    assert nll == pytest.approx(negative_log_likelihood(theta), rel=1e-12)
    assert scale >= minimum_scale and min(local_scale, noise, atom_noise) >= 0.0
    assert nll <= negative_log_likelihood(grid.reshape(-1, 4)).min() + 1e-6
    total = components @ theta
    gradient = 0.5 * components.T @ (1.0 / total - residuals**2 / total**2)  # d(−ln L)/dθ
    at_bound = np.array([scale <= minimum_scale * (1 + 1e-9), local_scale == 0.0, noise == 0.0, atom_noise == 0.0])
    unit = np.mean(residuals**2) / components.mean(axis=0)  # the θ that alone would explain the residuals
    assert np.all(np.abs(theta * gradient)[~at_bound] < 1e-6), (theta, gradient)  # d(−ln L)/d ln θ, nats
    assert np.all((unit * gradient)[at_bound] > -1e-6), (theta, gradient)  # raising a scale off its bound loses


def test_calibration_takes_the_noise_common_to_a_structure_when_sizes_cannot_tell_them_apart():
    """Every structure of one size: τ² and η²/N are the same column, the likelihood cannot choose, and the
    calibration takes τ (the error per atom that does not shrink in a larger box), not a round-off split."""
    rng = np.random.default_rng(3)
    summed = rng.uniform(0.1, 3.0, size=100) * 1e-6
    local = rng.uniform(0.5, 20.0, size=100) * 1e-6
    residuals = rng.normal(size=100) * np.sqrt(4.0 * summed + 0.3 * local + 2e-6)
    _, _, noise, atom_noise, _ = calibrate(summed, local, np.full(100, 64.0), residuals, 1e-3)
    assert noise > 0.0 and atom_noise == 0.0
    _, _, noise, atom_noise, _ = calibrate(summed, local, rng.integers(8, 129, size=100).astype(float), residuals, 1e-3)
    assert noise > 0.0 and atom_noise == 0.0  # the sizes vary and the noise was drawn per atom-constant: τ again


def test_posterior_survives_save_and_load_exactly(tmp_path):
    _, _, _, model = fitted_stages(mo_config(tmp_path))
    model.save(tmp_path / "saved.json")
    loaded = load_model(tmp_path / "saved.json")
    for key in ("centre_channels", "factor"):
        np.testing.assert_array_equal(getattr(loaded.uncertainty, key), getattr(model.uncertainty, key))
    for key in ("reference_energy_columns", "posterior_scale", "local_variance_scale", "energy_noise",
                "force_posterior_scale", "reference_variance"):
        assert getattr(loaded.uncertainty, key) == getattr(model.uncertainty, key)
    assert loaded.to_text("a") == model.to_text("a")


def test_two_ranks_store_the_serial_posterior(tmp_path):
    config = mo_config(tmp_path)
    serial = fitted_stages(config)[3].uncertainty
    parallel = fit_on_two_ranks(config, tmp_path).uncertainty
    np.testing.assert_allclose(parallel.factor, serial.factor, rtol=1e-7, atol=1e-9 * np.abs(serial.factor).max())
    for key in ("posterior_scale", "local_variance_scale", "energy_noise", "force_posterior_scale"):
        assert getattr(parallel, key) == pytest.approx(getattr(serial, key), rel=1e-6, abs=1e-12), key
    assert parallel.reference_variance == pytest.approx(serial.reference_variance, rel=1e-6)


def test_uncertainties_are_computed_only_when_asked_and_refused_without_a_posterior(tmp_path):
    _, _, _, model = fitted_stages(mo_config(tmp_path))
    atoms = ase.io.read(MO_TEST, 0)
    calculator = LepotCalculator(model)
    energy = calculator.get_potential_energy(atoms)
    assert calculator._descriptors is None and "energy_uncertainty" not in calculator.results
    assert calculator.get_property("energy_uncertainty", atoms) > 0
    assert calculator.get_potential_energy(atoms) == energy
    plain = LepotCalculator(random_model(["Mo"], seed=3))
    with pytest.raises(PropertyNotImplementedError, match="stores no uncertainty"):
        plain.get_property("extrapolation_grade", atoms)
    assert isinstance(plain.model, Model) and plain.model.uncertainty is None


def lammps_uncertainties(model_path, atoms, species, folder, ranks, precision="double"):
    """(grade, sigma, lpr) per atom, in the ASE atom order, and the system's σ_E, from the real LAMMPS:
    `fix pair 1 lepot` and `compute pair lepot` after run 0, with `uncertainty_precision precision`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_data(atoms, folder / "data.lmp", species)
    script = (f"units metal\natom_style atomic\natom_modify map array\nboundary p p p\nread_data data.lmp\n"
              f"pair_style lepot uncertainty_precision {precision}\npair_coeff * * {model_path} {' '.join(species)}\n"
              f"fix u all pair 1 lepot grade 1 sigma 1 lpr 1\ncompute system all pair lepot\n"
              f"thermo_style custom step pe c_system[1]\nrun 0\n"
              f"write_dump all custom u.dump id f_u[1] f_u[2] f_u[3] modify sort id format float %.17g\n"
              f"print \"SIGMA $(c_system[1]:%.17g)\"\n")
    completed = run_lmp(folder, script, ranks)
    assert completed.returncode == 0, completed.stdout[-3000:]
    dump = np.loadtxt(folder / "u.dump", skiprows=9)
    sigma = float(next(l for l in completed.stdout.splitlines() if l.startswith("SIGMA")).split()[1])
    return dump[:, 1], dump[:, 2], dump[:, 3], sigma


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("make_config", [mo_config, alloy_config])
def test_lammps_gives_the_ase_grade_sigma_lpr_and_energy_uncertainty(tmp_path, make_config, ranks):
    data, _, _, model = fitted_stages(make_config(tmp_path))
    posterior = model.uncertainty  # every term of σ_E non-zero, whatever was fitted
    posterior.local_variance_scale, posterior.energy_noise, posterior.atom_energy_noise = 0.5 * posterior.posterior_scale, 2e-3, 1e-2
    model.save(tmp_path / "model.json")
    atoms = data.splits["train"][1].atoms.repeat((2, 1, 1))
    atoms.rattle(0.05, seed=2)
    calculator = LepotCalculator(load_model(tmp_path / "model.json"))
    expected = [calculator.get_property(name, atoms) for name in
                ("extrapolation_grade", "energies_uncertainty", "local_prediction_rigidity", "energy_uncertainty")]
    got = lammps_uncertainties(tmp_path / "model.json", atoms, list(model.species), tmp_path / f"lmp{ranks}", ranks)
    for name, a, b in zip(("grade", "sigma", "lpr", "system sigma"), got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=name)


def single_precision_bounds(posterior, z):
    """Exact |u_i|² and Σ_i u_i of u_i = C⁻ᵀ z_i (z: [n_atoms][n_columns]) and bounds on how far the core's
    single-precision values may be from them. u_j = Σ_{k<=j} W_jk z_k with W = C⁻ᵀ is a sum of j + 1 products
    whose factors are rounded to float32 and which is summed in float32, so |û_j − u_j| <= (j + 3) ε
    Σ_k |W_jk| |z_k|, ε = 2⁻²⁴ (the forward error bound of a dot product, Higham, Accuracy and Stability of
    Numerical Algorithms, §3.1). Returns (variance, variance bound [n_atoms], total [n_columns], total bound)."""
    import scipy.linalg

    n = posterior.n_columns
    w = scipy.linalg.solve_triangular(posterior.factor, np.eye(n), trans="T")  # shape [n][n], lower
    u = z @ w.T
    delta = (np.arange(n) + 3) * 2.0**-24 * (np.abs(z) @ np.abs(w).T)  # shape [n_atoms][n_columns]
    total, total_delta = u.sum(axis=0), delta.sum(axis=0)
    return ((u**2).sum(axis=1), (2 * np.abs(u) * delta + delta**2).sum(axis=1), total,
            (2 * np.abs(total) * total_delta + total_delta**2).sum())


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("make_config", [mo_config, alloy_config])
def test_single_precision_stays_within_its_rounding_bound_in_ase_and_lammps(tmp_path, make_config, ranks):
    """uncertainty_precision single: the grade, σ, LPR and σ_E of the ASE calculator and of LAMMPS (1 and 2
    ranks) within the float32 rounding bound of the exact values, and not the double-precision values."""
    data, design, _, model = fitted_stages(make_config(tmp_path))
    posterior = model.uncertainty  # every term of σ_E non-zero, whatever was fitted
    posterior.local_variance_scale, posterior.energy_noise, posterior.atom_energy_noise = 0.5 * posterior.posterior_scale, 2e-3, 1e-2
    model.save(tmp_path / "model.json")
    atoms = data.splits["train"][1].atoms.repeat((2, 1, 1))
    atoms.rattle(0.05, seed=2)
    values = DescriptorCalculator(model.basis).compute(atoms).values
    variance, variance_bound, total, total_bound = single_precision_bounds(
        posterior, atom_columns(design.builder, atoms, values))
    noise = (posterior.energy_noise * len(atoms)) ** 2 + posterior.atom_energy_noise**2 * len(atoms)
    calculator = LepotCalculator(load_model(tmp_path / "model.json"), uncertainty_precision="single")
    ase_values = [calculator.get_property(name, atoms) for name in
                  ("extrapolation_grade", "energies_uncertainty", "local_prediction_rigidity", "energy_uncertainty")]
    lammps_values = lammps_uncertainties(tmp_path / "model.json", atoms, list(model.species), tmp_path / f"lmp{ranks}",
                                         ranks, precision="single")
    for source, (grade, sigma, lpr, system_sigma) in (("ASE", ase_values), ("LAMMPS", lammps_values)):
        for name, got in (("grade", grade**2 * posterior.reference_variance),
                          ("sigma", (sigma**2 - posterior.atom_energy_noise**2)
                           / (posterior.posterior_scale + posterior.local_variance_scale)), ("lpr", 1.0 / lpr)):
            assert np.all(np.abs(got - variance) <= variance_bound), f"{source} {name}"
        alpha2, beta2 = posterior.posterior_scale, posterior.local_variance_scale
        assert (abs(system_sigma**2 - noise - alpha2 * total @ total - beta2 * variance.sum())
                <= alpha2 * total_bound + beta2 * variance_bound.sum()), source
    assert np.any(ase_values[0] != LepotCalculator(model).get_property("extrapolation_grade", atoms))


def test_the_precision_cannot_change_after_an_uncertainty_was_computed(tmp_path):
    """A repeated pair_style keeps the instance, whose evaluator no longer holds the file's factor: a new
    precision is refused with a message, the same one is accepted."""
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2)
    write_data(atoms, tmp_path / "data.lmp", ["Mo"])

    def run(second):
        script = (f"units metal\natom_style atomic\nread_data data.lmp\npair_style lepot\n"
                  f"pair_coeff * * {ROOT / 'potentials' / 'Mo_fast.json'} Mo\nfix u all pair 1 lepot grade 1\n"
                  f"run 0\n{second}\nrun 0\n")
        return run_lmp(tmp_path, script)

    refused = run("pair_style lepot uncertainty_precision single")
    assert refused.returncode != 0 and "uncertainty_precision cannot change once an uncertainty" in refused.stdout
    kept = run("pair_style lepot uncertainty_precision double")
    assert kept.returncode == 0, kept.stdout[-2000:]


def test_fix_halt_stops_a_run_when_the_grade_is_exceeded(tmp_path):
    """The pace/extrapolation workflow: fix pair every 10 steps, its maximum reduced, fix halt on a threshold."""
    data, _, _, model = fitted_stages(mo_config(tmp_path))
    model.save(tmp_path / "model.json")
    atoms = data.splits["train"][1].atoms.repeat((2, 2, 2))
    write_data(atoms, tmp_path / "data.lmp", ["Mo"])
    grade = LepotCalculator(model).get_property("extrapolation_grade", atoms).max()

    def run(threshold):
        script = (f"units metal\natom_style atomic\nread_data data.lmp\npair_style lepot\n"
                  f"pair_coeff * * {tmp_path / 'model.json'} Mo\nvelocity all create 300 1\nfix nve all nve\n"
                  f"fix grade all pair 10 lepot grade 1\ncompute worst all reduce max f_grade\n"
                  f"variable worst equal c_worst\nfix stop all halt 10 v_worst > {threshold:.17g} error continue\n"
                  f"thermo 10\nthermo_style custom step pe c_worst\nrun 50\nprint \"LAST $(step)\"\n")
        completed = run_lmp(tmp_path, script)
        assert completed.returncode == 0, completed.stdout[-3000:]
        return int(next(l for l in completed.stdout.splitlines() if l.startswith("LAST")).split()[1])

    assert run(0.5 * grade) == 10  # exceeded from the start: stops at the first check after step 0
    assert run(1e6 * grade) == 50


def test_frames_dumped_by_lammps_are_a_pool_for_select(tmp_path):
    """The loop of docs/uncertainty.md: MD dumps frames with their element names and grades, and lepot select
    takes the dump as its pool; a dump with atom types only is refused with a message saying how to name them."""
    model = ROOT / "potentials" / "Mo_fast.json"
    write_data(bulk("Mo", "bcc", a=3.16, cubic=True).repeat((3, 3, 3)), tmp_path / "data.lmp", ["Mo"])

    def md(column, modify):
        script = (f"units metal\natom_style atomic\nread_data data.lmp\npair_style lepot\npair_coeff * * {model} Mo\n"
                  f"velocity all create 3000 1\nfix nve all nve\nfix grade all pair 10 lepot grade 1\n"
                  f"dump frames all custom 10 frames.dump id {column} x y z f_grade\n{modify}run 30\n")
        completed = run_lmp(tmp_path, script)
        assert completed.returncode == 0, completed.stdout[-3000:]

    md("element", "dump_modify frames element Mo\n")
    text = run_select(model, [str(tmp_path / "frames.dump")], 2, tmp_path / "next.extxyz")
    assert "selected 2 of 4 structures" in text
    frames = ase.io.read(tmp_path / "frames.dump", ":")
    for atoms in ase.io.read(tmp_path / "next.extxyz", ":"):
        frame = frames[int(atoms.info["source"].rsplit(":", 1)[1])]
        assert set(atoms.get_chemical_symbols()) == {"Mo"}
        np.testing.assert_allclose(atoms.positions, frame.positions)
    md("type", "")
    with pytest.raises(DataError, match="frames.dump:0: element.s. H not in the model's species .'Mo'.; this LAMMPS "
                                        "dump has atom types but no element names"):
        run_select(model, [str(tmp_path / "frames.dump")], 2, tmp_path / "next.extxyz")


@pytest.mark.parametrize("criterion", ["variance", "energy", "information"])
def test_selection_takes_the_largest_gain_then_the_gain_given_it(tmp_path, criterion):
    """Greedy design, checked against explicit inverses with the explicit Hessian H = XᵀX + λD² of the training
    rows and the pool's weighted rows X_S: "information" maximises ln det(I + X_S H⁻¹ X_Sᵀ), "variance" the drop
    Σ_T tr(X_T (H⁻¹ − (H + X_SᵀX_S)⁻¹) X_Tᵀ) over the pool, "energy" the same over the pool's energy rows T only;
    the second choice is the best given the first."""
    data, design, solved, model = fitted_stages(mo_config(tmp_path))
    x, _, ridge = explicit_problem(data, design, solved)
    pool = read_structures(MO_TEST)[:8]
    selection = select_structures(model, pool, 2, criterion)
    rows = [design.builder.rows(s)[0] for s in pool]  # the pool is labelled; its targets do not enter X
    targets = [design.builder.rows_by_target(s)["energy"][0] for s in pool] if criterion == "energy" else rows
    gram = sum(r.T @ r for r in targets)

    def gains(h):
        inverse = np.linalg.inv(h)
        if criterion == "information":
            return np.array([np.linalg.slogdet(np.eye(len(r)) + r @ inverse @ r.T)[1] for r in rows])
        return np.array([np.trace(gram @ (inverse - np.linalg.inv(h + r.T @ r))) for r in rows])

    hessian = x.T @ x + ridge
    first = gains(hessian)
    assert selection.indices[0] == int(np.argmax(first))
    np.testing.assert_allclose(selection.initial_gains, first, rtol=1e-6)
    second = gains(hessian + rows[selection.indices[0]].T @ rows[selection.indices[0]])
    second[selection.indices[0]] = -np.inf
    assert selection.indices[1] == int(np.argmax(second))
    assert selection.gains[1] == pytest.approx(second.max(), rel=1e-6)


def test_select_writes_the_chosen_structures_with_their_labels(tmp_path):
    _, _, _, model = fitted_stages(mo_config(tmp_path))
    model.save(tmp_path / "model.json")
    text = run_select(tmp_path / "model.json", [str(MO_TEST)], 3, tmp_path / "next.extxyz")
    chosen = ase.io.read(tmp_path / "next.extxyz", ":")
    assert len(chosen) == 3 and "selected 3 of 23 structures" in text
    pool = ase.io.read(MO_TEST, ":")
    for rank, atoms in enumerate(chosen):
        index = int(atoms.info["source"].rsplit(":", 1)[1])
        assert atoms.info["selection_rank"] == rank
        np.testing.assert_allclose(atoms.positions, pool[index].positions)
        assert atoms.get_potential_energy() == pytest.approx(pool[index].get_potential_energy(), rel=1e-12)


def test_feature_reconstruction_error_and_distortion():
    """GFRE 0 for a linear function of the source (a rotation, a stretch, a subset), > 0 for information the
    source lacks; GFRD 0 only for a rotation."""
    rng = np.random.default_rng(3)
    source = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    train, test = split_environments(400, seed=0)
    rotation = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    rotated = reconstruction(source, source @ rotation, train, test)
    assert rotated.error < 1e-6 and rotated.distortion < 1e-6
    stretched = reconstruction(source, source @ np.diag([1, 1, 1, 1, 1, 8.0]), train, test)
    assert stretched.error < 1e-6 and stretched.distortion > 0.1
    subset = reconstruction(source, source[:, :3], train, test)
    assert subset.error < 1e-6
    back = reconstruction(source[:, :3], source, train, test)
    assert back.error > 0.1
    unrelated = reconstruction(source, rng.normal(size=(400, 4)), train, test)
    assert unrelated.error > 0.9


def test_compare_finds_a_pruned_basis_inside_the_full_one():
    """Real bases on real environments: body order 2 is a subset of the body-order-3 basis (GFRE ~ 0 that way)."""
    full = build_basis(["Mo"], cutoff=5.0, n_max=4, l_max=3, body_order=3, budgets={3: 10})
    smaller = build_basis(["Mo"], cutoff=5.0, n_max=4, l_max=3, body_order=2)
    result = compare_bases(full, smaller, ase.io.read(MO_TEST, ":6"))
    assert result["A->B"].error < 1e-4  # exact up to the map's ridge: ~ sqrt(RELATIVE_RIDGE) along near-null directions
    assert result["B->A"].error > 10 * result["A->B"].error  # the 4-body invariants are not functions of the pair ones


def test_eval_reports_calibration_and_writes_every_structure_with_its_uncertainties(tmp_path):
    _, _, _, model = fitted_stages(mo_config(tmp_path))
    model.save(tmp_path / "model.json")
    text = run_eval(tmp_path / "model.json", [str(MO_TEST)], uncertainty=True, output=tmp_path / "annotated.extxyz")
    assert "95 % interval coverage" in text and "wrote 23 structures" in text
    annotated = ase.io.read(tmp_path / "annotated.extxyz", ":")
    atoms = ase.io.read(MO_TEST, 5)
    calculator = LepotCalculator(model)
    assert annotated[5].info["energy_uncertainty"] == pytest.approx(calculator.get_property("energy_uncertainty", atoms), rel=1e-10)
    np.testing.assert_allclose(annotated[5].arrays["local_prediction_rigidity"],
                               calculator.get_property("local_prediction_rigidity", atoms), rtol=1e-10)


def test_eval_writes_and_scores_the_force_uncertainty_when_asked(tmp_path):
    _, _, _, model = fitted_stages(mo_config(tmp_path))
    model.save(tmp_path / "model.json")
    _, annotated = evaluate_uncertainty(model, [str(MO_TEST) + "@:4"], forces=True)
    atoms = ase.io.read(MO_TEST, 2)
    calculator = LepotCalculator(model)
    np.testing.assert_allclose(annotated[2].arrays["forces_uncertainty"],
                               calculator.get_property("forces_uncertainty", atoms), rtol=1e-10)
    np.testing.assert_allclose(annotated[2].arrays["lepot_forces"], calculator.get_forces(atoms), rtol=1e-10, atol=1e-12)
    _, plain = evaluate_uncertainty(model, [str(MO_TEST) + "@:1"])
    assert "forces_uncertainty" not in plain[0].arrays  # computed only when asked for
    text = run_eval(tmp_path / "model.json", [str(MO_TEST) + "@:4"], output=tmp_path / "annotated.extxyz",
                    forces_uncertainty=True)
    assert "rank correlation σ_F–force error" in text
    assert ase.io.read(tmp_path / "annotated.extxyz", 2).arrays["forces_uncertainty"].shape == (len(atoms), 3)


def test_calibration_summary_scores_force_uncertainties():
    """Two labelled structures of one atom each: force errors (0.1, 0, 0) and (3, 0, 0) eV/Å against σ_F of 1
    everywhere: 5 of 6 components inside 1.96 σ_F; with two structures no rank correlation (None below three).
    A structure without σ_F does not enter the force scores."""
    forces = [np.array([[0.1, 0.0, 0.0]]), np.array([[3.0, 0.0, 0.0]])]
    records = [StructureUncertainty(-1.0, 1.0, np.ones(1), np.ones(1), np.ones(1), -1.0, f, np.ones((1, 3)), np.zeros((1, 3)))
               for f in forces]
    summary = calibration_summary(records)
    assert summary["force_coverage_95"] == pytest.approx(5 / 6) and summary["force_rank_correlation"] is None
    assert calibration_summary(records[:1] + [StructureUncertainty(-1.0, 1.0, np.ones(1), np.ones(1), np.ones(1))])[
        "force_coverage_95"] == pytest.approx(1.0)


def test_calibration_summary_counts_intervals_and_ranks():
    """Four labelled structures of 2 atoms: errors 0.1, 0.5, 3, 1 eV against σ_E 1, 1, 1, 2 eV: inside the
    95 % interval (|error| <= 1.96 σ) for 3 of 4; σ/N and |error|/N rank-correlate as scipy's spearmanr says."""
    from scipy.stats import spearmanr

    errors, sigmas = [0.1, 0.5, 3.0, 1.0], [1.0, 1.0, 1.0, 2.0]
    records = [StructureUncertainty(-10.0 + e, s, np.ones(2), np.ones(2), np.array([1.0, 3.0]), -10.0)
               for e, s in zip(errors, sigmas)]
    summary = calibration_summary(records)
    assert summary["coverage_95"] == 0.75 and summary["labelled"] == 4
    assert summary["rank_correlation"] == pytest.approx(spearmanr(sigmas, errors).correlation)
    assert summary["median_grade"] == 2.0 and summary["max_grade"] == 3.0


def test_compare_command_names_both_directions(tmp_path):
    text = run_compare("Mo_fast", "Mo", [str(MO_TEST)])
    assert "| A -> B |" in text and "| B -> A |" in text and "1189 environments of 23 structures" in text
