"""Learned alchemical compression: exact gradient of the variable-projection loss, learning lowers the
loss reproducibly, and `lepot fit` with a learned embedding and compressed centre weights gives a model
whose size does not depend on the number of elements."""

import numpy as np
import pytest
from finite_differences import assert_exact_loss_gradient
from structures import write_emt_training_file
from test_fitting import fit_on_two_ranks

from lepot.calculator import DescriptorCalculator, load_model
from lepot.fitting import fit
from lepot.fitting.embedding_learning import EmbeddingProblem, learn_embedding
from lepot.fitting.emt_data import emt_alloy_structures

WEIGHTS = {"energy": 100.0, "forces": 1.0, "stress": 1.0, "config_types": {}}
# small enough that the sample has ~3x more rows than columns, so the loss is not trivially zero
BASIS = dict(cutoff=4.5, n_max=3, l_max=2, body_order=3, cutoff_width=1.0, budgets={3: 8})
SPECIES = ["Cu", "Ag", "Au"]


@pytest.fixture(scope="module")
def structures():
    return emt_alloy_structures(SPECIES, 6, seed=1, repeat=2)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("centre", ["species", "compressed"])
def test_loss_gradient_matches_finite_differences(structures, per_channel, centre):
    problem = EmbeddingProblem(SPECIES, BASIS, structures, WEIGHTS, 2, per_channel, centre, True)
    theta = np.random.default_rng(2).normal(size=int(np.prod(problem.shape())))
    assert_exact_loss_gradient(problem, theta)


def test_learning_lowers_the_loss_and_is_reproducible(structures):
    def run():
        problem = EmbeddingProblem(SPECIES, BASIS, structures, WEIGHTS, 2, False, "compressed", True)
        initial = np.array([[1.0, 0.5, 0.2], [0.1, -0.4, 0.9]])
        return learn_embedding(problem, initial, iterations=6, tolerance=0.01)

    first, second = run(), run()
    assert first.losses[-1] < 0.9 * first.losses[0]
    assert first.losses == second.losses
    np.testing.assert_array_equal(first.embedding, second.embedding)


def fit_config(tmp_path, species, seed, validation_fraction=0.0):
    train = write_emt_training_file(tmp_path / f"train_{len(species)}.extxyz", species, 6, seed=seed)
    return {
        "species": species,
        "data": {"train": str(train), "validation_fraction": validation_fraction},
        "model": dict(
            cutoff=4.5, n_max=3, l_max=2, body_order=3, budgets={3: 8}, compression=2,
            learn_embedding={"structures": 4, "iterations": 3}, centre_weights="compressed",
        ),
        "output": {"model": str(tmp_path / f"model_{len(species)}.json")},
    }


def test_fit_with_learned_embedding_has_a_size_independent_of_the_species(tmp_path):
    models = {}
    for species in (["Cu", "Ag"], ["Al", "Ni", "Cu", "Pd", "Ag"]):
        result = fit(fit_config(tmp_path, species, seed=3, validation_fraction=0.34), communicator=None, progress=False)
        embedding = result.model.metadata["fit"]["embedding"]
        assert embedding["learned"] and len(embedding["losses"]) >= 2
        assert embedding["losses"][-1] <= embedding["losses"][0]
        scan = embedding["accuracy_against_k"]  # sample fits for K = 1, 2 (PCA) and the learned K = 2
        assert [(row["K"], row["embedding"]) for row in scan] == [
            (1, "principal components"), (2, "principal components"), (2, "learned")]
        assert all(row["energy_meV_per_atom"] > 0 and row["forces_eV_per_A"] > 0 for row in scan)
        assert "accuracy against K" in (tmp_path / f"model_{len(species)}.md").read_text()
        assert (tmp_path / f"model_{len(species)}_embedding.png").stat().st_size > 0
        models[len(species)] = load_model(result.outputs["model"])
    assert models[2].basis.n_features == models[5].basis.n_features
    # centre weights through the embedding: w(a) = Σ_k u_k(a) W(k), rank K across the species
    assert np.linalg.matrix_rank(models[5].coefficients, tol=1e-10 * np.abs(models[5].coefficients).max()) == 2
    atoms = emt_alloy_structures(["Al", "Ni", "Cu", "Pd", "Ag"], 1, seed=4, repeat=1)[0].atoms
    assert np.all(np.isfinite(DescriptorCalculator(models[5].basis).compute(atoms).values))


def test_learning_without_compression_is_refused(tmp_path):
    from lepot.fitting.config import ConfigError

    config = fit_config(tmp_path, ["Cu", "Ag"], seed=5)
    config["model"]["compression"] = None
    with pytest.raises(ConfigError, match="model.learn_embedding.*needs model.compression"):
        fit(config, communicator=None, progress=False)
    config["model"]["learn_embedding"] = None
    with pytest.raises(ConfigError, match="model.centre_weights.*needs model.compression"):
        fit(config, communicator=None, progress=False)


def test_mpi_two_ranks_equal_serial_with_a_learned_embedding(tmp_path):
    config = fit_config(tmp_path, ["Cu", "Ag", "Au"], seed=6)
    serial = fit(config, communicator=None, progress=False).model
    parallel = fit_on_two_ranks(config, tmp_path, timeout=600)
    # rank 0 learns and broadcasts; serial and parallel differ only by BLAS round-off (thread counts differ)
    np.testing.assert_allclose(parallel.basis.embedding, serial.basis.embedding, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(parallel.coefficients, serial.coefficients, rtol=1e-8, atol=1e-10 * np.abs(serial.coefficients).max())
    np.testing.assert_allclose(parallel.reference_energies, serial.reference_energies, rtol=1e-8)


def test_sample_ridge_is_chosen_by_cross_validation_over_structures(structures):
    """The held-out score of calibrate() equals explicit ridge refits without each fold of structures, and μ is
    the strength it selects (relative to the whole sample's largest singular value)."""
    from lepot.fitting.data import cross_validation_folds
    from lepot.fitting.embedding_learning import SAMPLE_FOLDS
    from lepot.fitting.solver import RidgeProblem, select_relative_lambda

    problem = EmbeddingProblem(SPECIES, BASIS, structures, WEIGHTS, 2, False, "compressed", True)
    theta = np.array([[1.0, 0.5, 0.2], [0.1, -0.4, 0.9]]).reshape(-1)
    _, _, builder = problem.design(theta)
    blocks = [builder.rows(structure) for structure in structures]
    folds = cross_validation_folds(len(structures), SAMPLE_FOLDS, 0)
    n_rows = sum(len(y) for _, y in blocks)

    def explicit_score(relative_lambda):
        total = 0.0
        for k in range(SAMPLE_FOLDS):
            x = np.vstack([b[0] for b, f in zip(blocks, folds) if f != k])
            y = np.concatenate([b[1] for b, f in zip(blocks, folds) if f != k])
            norms = np.linalg.norm(x, axis=0)
            s_max2 = np.linalg.svd(x / norms, compute_uv=False)[0] ** 2
            ridge = np.sqrt(relative_lambda * s_max2) * np.diag(norms)
            w = np.linalg.lstsq(np.vstack([x, ridge]), np.concatenate([y, np.zeros(x.shape[1])]), rcond=None)[0]
            held_x = np.vstack([b[0] for b, f in zip(blocks, folds) if f == k])
            held_y = np.concatenate([b[1] for b, f in zip(blocks, folds) if f == k])
            total += np.sum((held_x @ w - held_y) ** 2)
        return total / n_rows

    validation, whole = problem.cross_validation(theta)
    for relative_lambda in (1e-8, 1e-5, 1e-2):
        assert validation.score(relative_lambda) == pytest.approx(explicit_score(relative_lambda), rel=1e-6)
    problem.calibrate(theta, 0.01)
    chosen = select_relative_lambda(validation.score, 0.01).relative_lambda
    assert problem.mu == pytest.approx(chosen * RidgeProblem(whole).s_max2, rel=1e-12)
    assert problem.n_rows == n_rows


def test_stratified_sample_takes_every_group_in_turn():
    from types import SimpleNamespace

    from lepot.fitting.data import stratified_sample

    structures = [SimpleNamespace(config_type=name) for name in ["bulk"] * 50 + ["alloy"] * 3 + ["surface"]]
    chosen = stratified_sample(structures, 10, seed=4)
    groups = [structures[i].config_type for i in chosen]
    assert (groups.count("bulk"), groups.count("alloy"), groups.count("surface")) == (6, 3, 1)
    assert list(chosen) == sorted(set(chosen.tolist()))
    np.testing.assert_array_equal(chosen, stratified_sample(structures, 10, seed=4))
    assert len(stratified_sample(structures, 100, seed=4)) == len(structures)


def test_principal_embedding_starts_from_the_uniform_density(structures):
    from lepot.fitting.embedding import principal_embedding

    embeddings = {k: principal_embedding(SPECIES, structures, k, BASIS) for k in (1, 2, 3)}
    for k, u in embeddings.items():
        assert u.shape == (k, len(SPECIES))
        np.testing.assert_allclose(u[0], np.full(len(SPECIES), 1 / np.sqrt(len(SPECIES))), rtol=1e-14)
        np.testing.assert_allclose(u @ u.T, np.eye(k), atol=1e-12)  # the rest: orthogonal to the uniform density
    np.testing.assert_allclose(embeddings[3][1], embeddings[2][1], atol=1e-12)  # leading directions are nested
    per_channel = principal_embedding(SPECIES, structures, 2, BASIS, per_radial_channel=True)  # [K][N][S]
    np.testing.assert_allclose(per_channel[0], 1 / np.sqrt(len(SPECIES)), rtol=1e-14)
