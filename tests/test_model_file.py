"""Parameter files: exact round trip and atomic, checked writes. Bad files: test_parameter_file_contract.py."""

import json
import os
from dataclasses import replace

import numpy as np
import pytest
from models import random_model
from structures import random_triclinic

from lepot.calculator import Contraction, CoreRepulsion, Model, ModelFileError, Potential, load_model


@pytest.fixture
def model():
    return random_model(
        ["Mo", "W", "Nb"], seed=1, core_repulsion=CoreRepulsion({("Mo", "W"): (0.9, 1.8), ("W", "W"): (1.0, 2.0)})
    )


@pytest.fixture
def compressed_model():
    u = np.random.default_rng(2).normal(size=(2, 4, 3))
    return random_model(["Mo", "W", "Nb"], seed=2, embedding=u)


@pytest.fixture
def tensor_reduced_model():
    """Tensor-reduced channels (n_max 4, l_max 3: n_radial [4, 3, 3, 2]) from body order 2, with ZBL."""
    rng = np.random.default_rng(3)
    channels = (2, 2, 1, 1)
    weights = tuple(rng.normal(size=(k, 3, n)) for k, n in zip(channels, (4, 3, 3, 2)))
    return random_model(["Mo", "W", "Nb"], seed=3, body_order=3, budgets={3: 30},
                        contraction=Contraction(channels, weights, from_body_order=2),
                        core_repulsion=CoreRepulsion({("Mo", "W"): (0.9, 1.8)}))


@pytest.mark.parametrize("fixture", ["model", "compressed_model", "tensor_reduced_model"])
def test_round_trip_is_exact(fixture, request, tmp_path):
    original = request.getfixturevalue(fixture)
    path = tmp_path / "model.json"
    original.save(path)
    loaded = load_model(path)
    assert loaded.to_dict() == original.to_dict() | {"metadata": loaded.metadata}
    np.testing.assert_array_equal(loaded.coefficients, original.coefficients)
    np.testing.assert_array_equal(loaded.reference_energies, original.reference_energies)
    np.testing.assert_array_equal(loaded.basis.embedding, original.basis.embedding)
    np.testing.assert_array_equal(loaded.basis.spline.node_values, original.basis.spline.node_values)
    assert loaded.basis.couplings.labels == original.basis.couplings.labels
    assert loaded.core_repulsion == original.core_repulsion
    if original.basis.contraction is not None:
        assert loaded.basis.contraction.channels == original.basis.contraction.channels
        assert loaded.basis.contraction.from_body_order == original.basis.contraction.from_body_order
        for a, b in zip(loaded.basis.contraction.weights, original.basis.contraction.weights):
            np.testing.assert_array_equal(a, b)
    # a second save of the loaded model writes the same bytes
    second = tmp_path / "again.json"
    loaded.save(second)
    assert second.read_bytes() == path.read_bytes()
    # and the loaded model computes the same numbers
    atoms = random_triclinic(["Mo", "W", "Nb"], 6, 4.2, seed=3)
    a, b = Potential(original).compute(atoms), Potential(loaded).compute(atoms)
    assert a.energy == b.energy
    np.testing.assert_array_equal(a.forces, b.forces)


def test_metadata_records_version_and_time(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata["purpose"] == "test"
    assert metadata["code_version"] and metadata["created"].startswith("20")


def test_creation_time_is_the_models_not_the_saves(model, tmp_path, monkeypatch):
    """Saving one model twice, across a clock tick, writes the same "created" (it is stamped when the model is made)."""
    import lepot.calculator.model as model_module

    clock = iter(["2030-01-01T00:00:00+00:00", "2030-01-01T00:00:01+00:00", "2030-01-01T00:00:02+00:00"])
    monkeypatch.setattr(model_module, "_now", lambda: next(clock))
    made = replace(model, metadata={"purpose": "test"})
    assert made.to_text() == made.to_text()
    assert made.to_dict()["metadata"]["created"] == "2030-01-01T00:00:00+00:00"


def test_failed_write_leaves_previous_file_untouched(model, tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_text("previous content")

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_text() == "previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_unserialisable_metadata_fails_before_touching_the_file(model, tmp_path):
    path = tmp_path / "model.json"
    path.write_text("previous content")
    model.metadata["bad"] = object()
    with pytest.raises(TypeError):
        model.save(path)
    assert path.read_text() == "previous content"


def test_save_refuses_a_model_the_reader_would_refuse(model, tmp_path):
    """The writer passes its text through the core reader first: an in-memory model whose ZBL switch
    reaches past the cutoff is not written, and the previous file stays."""
    path = tmp_path / "model.json"
    path.write_text("previous content")
    broken = Model(replace(model.basis, core_repulsion=CoreRepulsion({("Mo", "W"): (1.0, 9.0)})), model.coefficients,
                   model.reference_energies)
    with pytest.raises(ModelFileError, match=r"'core_repulsion.pairs\[0\]' needs 0 <= r_inner < r_outer <= cutoff.radius"):
        broken.save(path)
    assert path.read_text() == "previous content"


def test_from_dict_uses_the_same_reader(model):
    data = model.to_dict()
    assert Model.from_dict(data).to_dict() == data
    data["radial"]["n_max"] = 10**6
    with pytest.raises(ModelFileError, match=r"<dict>: 'radial.n_max' must be in \[1, 128\]"):
        Model.from_dict(data)


def test_model_constructor_checks_shapes(model):
    with pytest.raises(ValueError, match="coefficients must have shape"):
        Model(model.basis, model.coefficients[:, :-1], model.reference_energies)
    with pytest.raises(ValueError, match="finite"):
        Model(model.basis, model.coefficients * np.nan, model.reference_energies)
