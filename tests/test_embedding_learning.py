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
