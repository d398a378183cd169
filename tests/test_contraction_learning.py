"""Tensor-reduced channels: the principal-component start, the exact gradient of the variable-projection
loss over the contraction weights W_l, and learning that lowers the loss reproducibly."""

import numpy as np
import pytest
from finite_differences import assert_exact_loss_gradient
from structures import write_emt_training_file

from lepot.calculator import Contraction, DescriptorCalculator, build_basis
from lepot.fitting.contraction_learning import ContractionProblem, learned_contraction
from lepot.fitting.embedding import principal_contraction
from lepot.fitting.embedding_learning import learn_embedding
from lepot.fitting.emt_data import emt_alloy_structures

WEIGHTS = {"energy": 100.0, "forces": 1.0, "stress": 1.0, "config_types": {}}
# n_radial [3, 2, 2]: K_l = (2, 1, 1) contracted channels; about 3x more rows than columns
BASIS = dict(cutoff=4.5, n_max=3, l_max=2, body_order=3, cutoff_width=1.0, budgets={3: 20})
SPECIES = ["Cu", "Ag"]


@pytest.fixture(scope="module")
def structures():
    return emt_alloy_structures(SPECIES, 5, seed=4, repeat=2)


def random_contraction(seed, from_body_order=3, diagonal=False):
    rng = np.random.default_rng(seed)
    channels = (2, 1, 1)
    return Contraction(channels, tuple(rng.normal(size=(k, 2, n)) for k, n in zip(channels, (3, 2, 2))), from_body_order,
                       diagonal)


def test_principal_contraction_keeps_the_leading_directions(structures):
    """W_l rows are orthonormal eigenvectors of C_l = Σ a aᵀ, ordered by eigenvalue, computed here
    independently from the element-resolved densities."""
    contraction = principal_contraction(SPECIES, structures, 2, BASIS)
    basis = build_basis(SPECIES, **dict(BASIS, body_order=1))
    offsets = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(basis.radial.n_radial)])])
    for l, n in enumerate(basis.radial.n_radial):
        vectors = []
        for structure in structures:
            density = DescriptorCalculator(basis).density(structure.atoms).reshape(-1, 2, offsets[-1])
            block = density[:, :, offsets[l] : offsets[l + 1]].reshape(-1, 2, n, 2 * l + 1)
            vectors.append(block.transpose(0, 3, 1, 2).reshape(-1, 2 * n))
        moments = np.concatenate(vectors).T @ np.concatenate(vectors)
        values = np.linalg.eigvalsh(moments)[::-1]
        rows = contraction.weights[l].reshape(contraction.channels[l], -1)
        np.testing.assert_allclose(rows @ rows.T, np.eye(len(rows)), atol=1e-12)
        np.testing.assert_allclose(np.einsum("ka,ab,kb->k", rows, moments, rows), values[: len(rows)], rtol=1e-9)


@pytest.mark.parametrize("from_body_order, diagonal", [(3, False), (2, False), (3, True)])
def test_loss_gradient_matches_finite_differences(structures, from_body_order, diagonal):
    problem = ContractionProblem(SPECIES, BASIS, structures, WEIGHTS, random_contraction(7, from_body_order, diagonal),
                                 True)
    theta = problem.initial.flat_weights()
    assert_exact_loss_gradient(problem, theta)


def test_learning_lowers_the_loss_and_is_reproducible(structures):
    def run():
        problem = ContractionProblem(SPECIES, BASIS, structures, WEIGHTS, random_contraction(8), True)
        learned = learn_embedding(problem, problem.initial.flat_weights(), iterations=12, tolerance=0.01)
        return learned, learned_contraction(problem, learned)

    first, contraction = run()
    second, _ = run()
    assert first.losses[-1] < 0.9 * first.losses[0]
    np.testing.assert_array_equal(first.embedding, second.embedding)
    assert contraction.channels == (2, 1, 1) and contraction.weights[0].shape == (2, 2, 3)


def fit_config(tmp_path, species, tensor_reduction):
    train = write_emt_training_file(tmp_path / f"train_{len(species)}.extxyz", species, 6, seed=9)
    return {
        "species": species,
        "data": {"train": str(train), "validation_fraction": 0.0},
        "model": dict(cutoff=4.5, n_max=3, l_max=2, body_order=3, budgets={3: 20}, tensor_reduction=tensor_reduction),
        "output": {"model": str(tmp_path / f"model_{len(species)}.json")},
    }


def test_fit_with_tensor_reduction_has_features_independent_of_the_species(tmp_path):
    """From body order 2 on, the invariants are products of K_l contracted channels: only the S n_radial(0)
    pair terms depend on the number S of elements. The learned contraction is written and reloads."""
    from lepot.calculator import load_model
    from lepot.fitting import fit

    counts = {}
    for species in (["Cu", "Ag"], ["Al", "Ni", "Cu", "Ag"]):
        reduction = {"channels": 2, "from_body_order": 2, "learn": {"structures": 3, "iterations": 2}}
        result = fit(fit_config(tmp_path, species, reduction), communicator=None, progress=False)
        model = load_model(result.outputs["model"])
        assert model.basis.contraction.channels == (2, 2, 2)
        assert model.basis.contraction.from_body_order == 2
        counts[len(species)] = model.basis.n_features - len(species) * model.basis.radial.n_radial[0]
    assert counts[2] == counts[4]


def test_tensor_reduction_settings_are_checked(tmp_path):
    from lepot.fitting import fit
    from lepot.fitting.config import ConfigError

    for reduction, message in (
        ({"channels": 0}, "model.tensor_reduction.channels"),
        ({"channels": [2, 2]}, "model.tensor_reduction.channels"),
        ({"channels": 2, "from_body_order": 1}, "model.tensor_reduction.from_body_order"),
        ({"channels": 2, "diagonal": "yes"}, "model.tensor_reduction.diagonal"),
        ({"channels": 2, "learn": {"iterations": 0}}, "model.tensor_reduction.learn.iterations"),
        ({"channels": 2, "rank": 3}, "model.tensor_reduction"),
    ):
        with pytest.raises(ConfigError, match=message):
            fit(fit_config(tmp_path, ["Cu", "Ag"], reduction), communicator=None, progress=False)
