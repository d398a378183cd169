"""lepot fit / lepot eval: recovery of known models, serial = MPI = chunked, reproducibility,
accuracy on real data, bad input, and the shipped potentials' recorded errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
import yaml
from ase.calculators.singlepoint import SinglePointCalculator
from models import random_model
from structures import open_cluster, random_triclinic

from lepot.calculator import Potential, load_model
from lepot.fitting import fit
from lepot.fitting.config import ConfigError
from lepot.fitting.data import DataError, TargetKeys, read_structures
from lepot.fitting.memory import FitMemoryError
from lepot.fitting.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "data" / "Mo_train_sample.extxyz"
MO_TEST = ROOT / "examples" / "data" / "Mo_test.extxyz"
BIN = Path(sys.executable).parent


def labelled(model, structures):
    """Structures with energies, forces and stresses computed by ``model`` (a known linear model)."""
    potential = Potential(model)
    for atoms in structures:
        result = potential.compute(atoms)
        atoms.calc = SinglePointCalculator(
            atoms, energy=result.energy, forces=result.forces, stress=result.stress.reshape(9)[[0, 4, 8, 5, 2, 1]]
        )
    return structures


def small_config(train, output, **overrides):
    config = {
        "species": ["Mo"],
        "data": {"train": str(train), "validation_fraction": 0.0},
        "model": {"cutoff": 4.5, "n_max": 4, "l_max": 3, "body_order": 2},  # small and quick, not the defaults
        "output": {"model": str(output)},
    }
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values) if isinstance(values, dict) else config.update({section: values})
    return config


def test_fit_recovers_the_weights_of_a_known_model(tmp_path):
    truth = random_model(["Mo"], seed=50, cutoff=4.5, n_max=4, l_max=3)
    structures = [random_triclinic(["Mo"], 6, 4.3 + 0.1 * (k % 5), seed=100 + k) for k in range(40)]
    ase.io.write(tmp_path / "synthetic.extxyz", labelled(truth, structures))
    result = fit(small_config(tmp_path / "synthetic.extxyz", tmp_path / "fit.json", solver={"regularisation": 0.0}),
                 progress=False)
    scale = np.abs(truth.coefficients).max()
    assert np.abs(result.model.coefficients - truth.coefficients).max() <= 1e-6 * scale
    assert result.model.reference_energies[0] == pytest.approx(truth.reference_energies[0], rel=1e-8)


def test_fit_reproduces_a_known_two_element_model(tmp_path):
    """Two species: some weights are not separately identifiable (e.g. the Mo-centred W density and the
    W-centred Mo density sum to the same pair term), so compare predictions on new structures."""
    truth = random_model(["Mo", "W"], seed=51, cutoff=4.5, n_max=4, l_max=3)
    # compositions must vary, or the two reference energies are not separately identifiable
    structures = [random_triclinic(["Mo", "W"], 5 + k % 4, 4.3 + 0.1 * (k % 5), seed=200 + k) for k in range(50)]
    ase.io.write(tmp_path / "synthetic.extxyz", labelled(truth, structures))
    # the truth has no core repulsion; with it (the default) new structures closer than any training pair differ
    config = small_config(tmp_path / "synthetic.extxyz", tmp_path / "fit.json", species=["Mo", "W"],
                          model={"core_repulsion": None}, solver={"regularisation": 0.0})
    fitted = fit(config, progress=False).model
    for k in range(5):
        atoms = random_triclinic(["Mo", "W"], 7, 4.5, seed=300 + k)
        expected, predicted = Potential(truth).compute(atoms), Potential(fitted).compute(atoms)
        assert predicted.energy == pytest.approx(expected.energy, rel=1e-8)
        assert np.abs(predicted.forces - expected.forces).max() <= 1e-7 * np.abs(expected.forces).max()


def real_config(tmp_path, **solver):
    return small_config(SAMPLE, tmp_path / "Mo.json", data={"test": str(MO_TEST), "validation_fraction": 0.1},
                        model={"n_max": 6, "l_max": 4, "cutoff": 5.0}, solver=solver)


def test_chunked_equals_unchunked(tmp_path):
    one = fit(real_config(tmp_path, chunk_size=1), progress=False).model
    all_at_once = fit(real_config(tmp_path, chunk_size=1000), progress=False).model
    automatic = fit(real_config(tmp_path, chunk_size="auto"), progress=False).model
    np.testing.assert_allclose(one.coefficients, all_at_once.coefficients, rtol=1e-8, atol=1e-10 * np.abs(one.coefficients).max())
    np.testing.assert_allclose(automatic.coefficients, all_at_once.coefficients, rtol=1e-8,
                               atol=1e-10 * np.abs(one.coefficients).max())


def test_automatic_chunk_size_holds_half_as_many_rows_as_columns():
    from lepot.fitting.memory import AUTO_CHUNK_MINIMUM, automatic_chunk_size, rows_per_structure

    structures = read_structures(str(SAMPLE), TargetKeys(), ".")
    need = {"energy": True, "forces": True, "stress": True}
    mean_rows = np.mean([rows_per_structure(s, need) for s in structures])
    assert automatic_chunk_size(structures, 500, need) == AUTO_CHUNK_MINIMUM  # few columns: the minimum
    many = automatic_chunk_size(structures, 40000, need)
    assert many == int(np.ceil(0.5 * 40000 / mean_rows)) and many > AUTO_CHUNK_MINIMUM


@pytest.mark.parametrize("chunk_size", [0, "big", True])
def test_bad_chunk_size_is_named(tmp_path, chunk_size):
    assert_refused(real_config(tmp_path, chunk_size=chunk_size), ConfigError, "solver.chunk_size", tmp_path / "Mo.json")


def test_same_data_config_and_seed_give_the_same_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")
    fit(real_config(tmp_path), progress=False)
    first = (tmp_path / "Mo.json").read_bytes()
    fit(real_config(tmp_path), progress=False)
    assert (tmp_path / "Mo.json").read_bytes() == first
    # a different seed draws another validation split, hence another model
    fit(real_config(tmp_path, seed=1), progress=False)
    assert (tmp_path / "Mo.json").read_bytes() != first


def fit_on_two_ranks(config, folder, timeout=300):
    """`mpiexec -n 2 lepot fit` of ``config`` (a dict; its output goes to folder/mpi.json, one thread per rank);
    returns the written model."""
    config = dict(config, output={**config["output"], "model": str(Path(folder) / "mpi.json")})
    (Path(folder) / "mpi.yaml").write_text(yaml.safe_dump(config))
    completed = subprocess.run([str(BIN / "mpiexec"), "-n", "2", str(BIN / "lepot"), "fit", "--quiet",
                                str(Path(folder) / "mpi.yaml")], env=dict(os.environ, OMP_NUM_THREADS="1"),
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stderr
    return load_model(Path(folder) / "mpi.json")


def test_mpi_two_ranks_equal_serial(tmp_path):
    parallel = fit_on_two_ranks(real_config(tmp_path), tmp_path)
    serial = fit(real_config(tmp_path), progress=False).model
    assert parallel.metadata["fit"]["solver"]["n_rows"] == serial.metadata["fit"]["solver"]["n_rows"]
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8, atol=1e-10 * np.abs(serial.coefficients).max())
    np.testing.assert_allclose(parallel.reference_energies, serial.reference_energies, rtol=1e-10)


@pytest.mark.parametrize("threads", [None, "1"])
def test_several_ranks_without_a_thread_count_are_warned(threads):
    """Under mpiexec with OMP_NUM_THREADS unset every rank would start a thread per core: the fit says so once."""
    environment = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        environment["OMP_NUM_THREADS"] = threads
    completed = subprocess.run([str(BIN / "mpiexec"), "-n", "2", sys.executable, "-c",
                                "from lepot.fitting.fit import mpi_communicator; assert mpi_communicator() is not None"],
                               env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count("OMP_NUM_THREADS unset") == (1 if threads is None else 0), completed.stderr


def test_small_real_subset_reaches_its_stated_error(tmp_path):
    """Fit on the 40 shipped Mo structures (n_max 6, l_max 4), test on the shipped mlearn Mo test set.

    Measured on the development machine: energy MAE 5.1 meV/atom, force MAE 0.130 eV/Å.
    Required here: ≤ 7 meV/atom and ≤ 0.15 eV/Å (linear SNAP on the full training set: 5.48, 0.207)."""
    result = fit(real_config(tmp_path), progress=False)
    test = result.tables["test"]["all"]
    assert test["n_structures"] == 23
    assert test["energy_meV_per_atom"]["mae"] <= 7.0
    assert test["forces_eV_per_A"]["mae"] <= 0.15
    report = Path(result.outputs["report"]).read_text()
    assert "| test | all | 23 |" in report
    assert Path(result.outputs["parity_plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metadata = json.loads((tmp_path / "Mo.json").read_text())["metadata"]["fit"]
    assert set(metadata) >= {"config", "data", "solver", "errors"} and len(metadata["data"]["train"]["digest"]) == 64


def write_structures(path, structures):
    ase.io.write(path, structures)
    return path


def assert_refused(config, error_type, message, output):
    with pytest.raises(error_type, match=message):
        fit(config, progress=False)
    assert not Path(output).exists()
    assert not list(Path(output).parent.glob(".*.tmp"))


def test_missing_forces_are_named(tmp_path):
    atoms = random_triclinic(["Mo"], 4, 4.0, seed=60)
    atoms.calc = SinglePointCalculator(atoms, energy=-40.0)
    path = write_structures(tmp_path / "no_forces.extxyz", [atoms])
    assert_refused(small_config(path, tmp_path / "m.json"), DataError, r"no_forces.extxyz:0: no forces in the data",
                   tmp_path / "m.json")


def test_nan_energy_is_named(tmp_path):
    good = random_triclinic(["Mo"], 4, 4.0, seed=61)
    good.calc = SinglePointCalculator(good, energy=-40.0, forces=np.zeros((4, 3)))
    bad = random_triclinic(["Mo"], 4, 4.0, seed=62)
    bad.calc = SinglePointCalculator(bad, energy=float("nan"), forces=np.zeros((4, 3)))
    path = write_structures(tmp_path / "nan.extxyz", [good, bad])
    assert_refused(small_config(path, tmp_path / "m.json", weights={"stress": 0.0}), DataError,
                   r"nan.extxyz:1: energy is NaN", tmp_path / "m.json")


def test_mismatched_force_shape_is_named(tmp_path):
    atoms = random_triclinic(["Mo"], 4, 4.0, seed=63)
    atoms.info["dft_energy"] = -40.0
    atoms.arrays["dft_forces"] = np.zeros((4, 2))
    path = write_structures(tmp_path / "shape.extxyz", [atoms])
    config = small_config(path, tmp_path / "m.json", data={"energy_key": "dft_energy", "forces_key": "dft_forces"},
                          weights={"stress": 0.0})
    assert_refused(config, DataError, r"shape.extxyz:0: forces have shape \(4, 2\), expected \(4, 3\)", tmp_path / "m.json")


def test_species_not_in_config_is_named(tmp_path):
    atoms = random_triclinic(["Mo", "W"], 4, 4.0, seed=64)
    atoms.calc = SinglePointCalculator(atoms, energy=-40.0, forces=np.zeros((4, 3)))
    path = write_structures(tmp_path / "w.extxyz", [atoms])
    assert_refused(small_config(path, tmp_path / "m.json"), DataError, r"w.extxyz:0: element\(s\) W not in the model's species",
                   tmp_path / "m.json")


def test_empty_and_unreadable_and_missing_files(tmp_path):
    (tmp_path / "empty.extxyz").write_text("")
    assert_refused(small_config(tmp_path / "empty.extxyz", tmp_path / "m.json"), DataError,
                   r"empty.extxyz: (contains no structures|cannot read)", tmp_path / "m.json")
    (tmp_path / "garbage.extxyz").write_text("this is not\na structure file\n")
    assert_refused(small_config(tmp_path / "garbage.extxyz", tmp_path / "m.json"), DataError,
                   r"garbage.extxyz: cannot read it with ase.io", tmp_path / "m.json")
    assert_refused(small_config(tmp_path / "absent_*.extxyz", tmp_path / "m.json"), DataError, "no file matches",
                   tmp_path / "m.json")


def test_bad_configs_are_named(tmp_path):
    output = tmp_path / "m.json"
    assert_refused(small_config(SAMPLE, output, model={"colour": 3}), ConfigError, r"unknown key 'model.colour'", output)
    assert_refused(small_config(SAMPLE, output, model={"n_max": 0}), ConfigError, r"'model.n_max' must be an integer",
                   output)
    assert_refused(small_config(SAMPLE, output, model={"l_max_by_order": {3: 9}}), ConfigError,
                   r"'model.l_max_by_order' must be null or a mapping .*l_max \(3\)", output)
    assert_refused(small_config(SAMPLE, output, weights={"energy": 0, "forces": 0, "stress": 0}), ConfigError,
                   "nothing to fit", output)
    assert_refused(small_config(SAMPLE, tmp_path / "absent" / "m.json"), ConfigError, "output folder .* does not exist",
                   tmp_path / "absent" / "m.json")
    with pytest.raises(ConfigError, match="'output.model' is required"):
        fit({"species": ["Mo"], "data": {"train": str(SAMPLE)}})
    unquoted = yaml.safe_load(f"test: [{SAMPLE}@2:]")["test"]  # YAML reads an unquoted name ending in ':' as a key
    assert_refused(small_config(SAMPLE, output, data={"test": unquoted}), ConfigError,
                   r"'data.test' must be a path or glob, or a list of them, .*quote a name that ends in ':'", output)
    assert_refused(small_config(SAMPLE, output, data={"validation_by_config_type": "yes"}), ConfigError,
                   r"'data.validation_by_config_type' must be true or false", output)


def test_validation_ridge_without_validation_structures_is_named(tmp_path):
    """A validation fraction that rounds to no structure, with the ridge chosen on validation data."""
    config = small_config(SAMPLE, tmp_path / "fit.json", data={"validation_fraction": 0.01},
                          solver={"regularisation": "validation"})
    with pytest.raises(ConfigError, match=r"validation_fraction 0.01 of the 40 training structures selects none"):
        fit(config, progress=False)
    assert not (tmp_path / "fit.json").exists()


def molecules(symbols, count, seed):
    """Small random molecules (open boundaries) with random DFT-like labels: enough to start a fit."""
    rng = np.random.default_rng(seed)
    structures = []
    for k in range(count):
        atoms = open_cluster(symbols, len(symbols), seed=seed + k, radius=2.2)
        atoms.calc = SinglePointCalculator(atoms, energy=float(rng.normal()), forces=rng.normal(size=(len(atoms), 3)))
        structures.append(atoms)
    return structures


def test_fit_that_does_not_fit_in_memory_is_refused_before_it_starts(tmp_path):
    """The accurate Si settings on three elements (an ethanol-like data set), element-resolved by request
    (compression null; auto would compress): 39,486 features per species, 118,461 columns, a factor of
    ~105 GiB. The fit refuses before building the design, gives its estimate and the settings that fit,
    and writes nothing."""
    ase.io.write(tmp_path / "ethanol.extxyz", molecules(["C", "C", "O", "H", "H", "H", "H", "H", "H"], 12, seed=7))
    config = yaml.safe_load((ROOT / "examples" / "fit_Si.yaml").read_text())
    config.update(species=["C", "H", "O"], data={"train": str(tmp_path / "ethanol.extxyz"), "validation_fraction": 0.0},
                  output={"model": str(tmp_path / "ethanol.json")})
    config["weights"]["stress"] = 0.0
    config["model"]["compression"] = None
    with pytest.raises(FitMemoryError) as refused:
        fit(config, progress=False)
    message = str(refused.value)
    assert "for 118,461 columns" in message and "GiB" in message
    assert "model.compression: 1 (" in message and "model.body_order: 2 (" in message
    assert not (tmp_path / "ethanol.json").exists()


def test_memory_limit_refuses_and_names_smaller_settings(tmp_path):
    """solver.memory_limit below the estimate of a body-order-3 fit: refused, with smaller budgets and body
    order 2 offered (their estimates fit), and the same fit runs when the limit allows it."""
    model = {"cutoff": 4.5, "n_max": 6, "l_max": 4, "body_order": 3, "budgets": {3: 30}}
    config = small_config(SAMPLE, tmp_path / "fit.json", model=model, solver={"memory_limit": 0.01, "chunk_size": 1})
    with pytest.raises(FitMemoryError) as refused:
        fit(config, progress=False)
    message = str(refused.value)
    assert "solver.memory_limit (0.01 GiB) gives 10 MiB" in message
    assert "model.budgets: {3: " in message and "model.body_order: 2 (" in message
    smaller = dict(config, model=dict(model, budgets={3: 15}))
    assert fit(smaller, progress=False).model.basis.body_order == 3


def test_cli_reports_bad_input_with_exit_code_1(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(small_config(SAMPLE, tmp_path / "m.json", model={"colour": 1})))
    completed = subprocess.run([str(BIN / "lepot"), "fit", str(tmp_path / "c.yaml")], capture_output=True, text=True)
    assert completed.returncode == 1
    assert "lepot fit: error:" in completed.stderr and "unknown key 'model.colour'" in completed.stderr
    assert not (tmp_path / "m.json").exists()


# test MAE (meV/atom, eV/Å) of the better of GAP and MTP on the mlearn test sets, rounded down as in
# the body-order issue: Mo 2.24 / 0.09, Si 2.21 / 0.06 (../shared/data/mlearn/README.md)
GAP_MTP_TARGETS = {"Mo": (2.2, 0.09), "Si": (2.2, 0.06)}


@pytest.mark.parametrize("name", ["Mo", "Si", "Mo_fast", "Si_fast"])
def test_eval_reproduces_the_shipped_potentials_recorded_test_errors(name):
    model = load_model(ROOT / "potentials" / f"{name}.json")
    recorded = model.metadata["fit"]["errors"]["test"]["all"]
    element = name.split("_")[0]
    tables = evaluate(name, [str(ROOT / "examples" / "data" / f"{element}_test.extxyz")])
    (measured,) = tables.values()
    for key in ("energy_meV_per_atom", "forces_eV_per_A", "stress_GPa"):
        for statistic in ("rmse", "mae"):
            assert measured["all"][key][statistic] == pytest.approx(recorded[key][statistic], rel=1e-9)
    if name in GAP_MTP_TARGETS:  # the accurate files: at or below the better of GAP and MTP (mlearn README)
        energy, forces = GAP_MTP_TARGETS[name]
        assert measured["all"]["energy_meV_per_atom"]["mae"] <= energy
        assert measured["all"]["forces_eV_per_A"]["mae"] <= forces


def test_eval_command_prints_the_table():
    completed = subprocess.run([str(BIN / "lepot"), "eval", "Mo", str(MO_TEST)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    recorded = load_model(ROOT / "potentials" / "Mo.json").metadata["fit"]["errors"]["test"]["all"]
    assert f"| {recorded['energy_meV_per_atom']['mae']:.2f} |" in completed.stdout
    assert "Mo_test.extxyz | all | 23 | 1189 |" in completed.stdout


@pytest.mark.parametrize("per_channel", [False, True], ids=["shared", "per-radial-channel"])
def test_compressed_fit_uses_a_principal_component_embedding(tmp_path, per_channel):
    truth = random_model(["Mo", "W", "Nb"], seed=52, cutoff=4.5, n_max=4, l_max=3)
    structures = [random_triclinic(["Mo", "W", "Nb"], 5 + k % 4, 4.4, seed=400 + k) for k in range(20)]
    ase.io.write(tmp_path / "three.extxyz", labelled(truth, structures))
    config = small_config(tmp_path / "three.extxyz", tmp_path / "fit.json", species=["Mo", "W", "Nb"],
                          model={"compression": 2, "compression_per_channel": per_channel})
    result = fit(config, progress=False)
    basis = result.model.basis
    assert basis.n_pseudo == 2
    # the embedding's rows (per radial channel) are orthonormal principal directions over the species
    embedding = basis.embedding.transpose(2, 1, 0)  # [n][k][species]
    for u in embedding:
        np.testing.assert_allclose(u @ u.T, np.eye(2), atol=1e-12)
    if not per_channel:
        assert np.all(embedding == embedding[0])
    # fewer features than the uncompressed basis, and the model file round-trips with its embedding
    assert basis.n_features < random_model(["Mo", "W", "Nb"], seed=0, cutoff=4.5, n_max=4, l_max=3).basis.n_features
    np.testing.assert_array_equal(load_model(tmp_path / "fit.json").basis.embedding, basis.embedding)
    assert result.tables["train"]["all"]["forces_eV_per_A"]["mae"] < np.abs(
        np.concatenate([s.get_forces().ravel() for s in structures])).mean()


def test_compression_larger_than_the_species_is_refused(tmp_path):
    assert_refused(small_config(SAMPLE, tmp_path / "m.json", model={"compression": 2}), ConfigError,
                   "'model.compression' must be null, auto or an integer from 1 to 1", tmp_path / "m.json")


def test_the_package_keeps_its_fit_function_after_a_fit():
    """Running a fit loads the submodule lepot.fitting.fit; `from lepot.fitting import fit` must still give
    the function afterwards (the import system had rebound the name to the submodule)."""
    import lepot.fitting

    with pytest.raises(Exception):
        lepot.fitting._public_fit({"species": []}, communicator=None, progress=False)
    from lepot.fitting import fit as again

    assert again is lepot.fitting._public_fit


def test_validation_split_at_random_or_by_config_type():
    from types import SimpleNamespace

    from lepot.fitting.data import split_validation

    structures = [SimpleNamespace(config_type=name, index=i)
                  for i, name in enumerate(["bulk"] * 50 + ["alloy"] * 8 + ["dimer"])]
    train, validation = split_validation(structures, 0.1, seed=3)
    expected = set(np.random.default_rng(3).permutation(len(structures))[:6].tolist())
    assert {s.index for s in validation} == expected
    train, validation = split_validation(structures, 0.1, seed=3, by_config_type=True)
    groups = [s.config_type for s in validation]
    # round(0.1 n) of each group, at least one of a group of two or more; a single structure stays in train
    assert (groups.count("bulk"), groups.count("alloy"), groups.count("dimer")) == (5, 1, 0)
    assert sorted(s.index for s in train + validation) == list(range(len(structures)))
    assert [s.index for s in validation] == sorted(s.index for s in validation)


def test_a_slice_after_the_file_name_reads_part_of_it(tmp_path):
    path = tmp_path / "five.extxyz"
    images = []
    for seed in range(5):
        atoms = random_triclinic(["Cu"], 4, 6.0, seed)
        atoms.calc = SinglePointCalculator(atoms, energy=float(seed), forces=np.zeros((4, 3)))
        images.append(atoms)
    ase.io.write(path, images)
    assert [s.energy for s in read_structures(f"{path}@1:3")] == [1.0, 2.0]
    assert [s.source for s in read_structures([f"{path}@::2", f"{path}@-1:"])] == [
        f"{path}:0", f"{path}:2", f"{path}:4", f"{path}:4"]
    with pytest.raises(DataError, match="no structures in the selection @7:"):
        read_structures(f"{path}@7:")
