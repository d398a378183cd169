"""Parameter files: exact round trip, atomic writes, and a clear error for every kind of bad file."""

import json
import os

import numpy as np
import pytest
from models import random_model
from structures import random_triclinic

from lepot.calculator import CoreRepulsion, Model, ModelFileError, Potential, load_model


@pytest.fixture
def model():
    return random_model(
        ["Mo", "W", "Nb"], seed=1, core_repulsion=CoreRepulsion({("Mo", "W"): (0.9, 1.8), ("W", "W"): (1.0, 2.0)})
    )


@pytest.fixture
def compressed_model():
    u = np.random.default_rng(2).normal(size=(2, 4, 3))
    return random_model(["Mo", "W", "Nb"], seed=2, embedding=u)


@pytest.mark.parametrize("fixture", ["model", "compressed_model"])
def test_round_trip_is_exact(fixture, request, tmp_path):
    original = request.getfixturevalue(fixture)
    path = tmp_path / "model.json"
    original.save(path)
    loaded = load_model(path)
    assert loaded.to_dict() == original.to_dict() | {"metadata": loaded.metadata}
    np.testing.assert_array_equal(loaded.weights, original.weights)
    np.testing.assert_array_equal(loaded.reference_energies, original.reference_energies)
    np.testing.assert_array_equal(loaded.basis.embedding, original.basis.embedding)
    np.testing.assert_array_equal(loaded.basis.spline.node_values, original.basis.spline.node_values)
    assert loaded.basis.couplings.labels == original.basis.couplings.labels
    assert loaded.core_repulsion == original.core_repulsion
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


def corrupt(model, tmp_path, change):
    data = model.to_dict()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


def set_key(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def delete_key(key):
    return lambda data: data.pop(key)


CASES = {
    "unknown version": (set_key(["format_version"], 2), "unsupported format_version 2"),
    "not lepot": (set_key(["format"], "pace"), "not a lepot parameter file"),
    "missing key": (delete_key("weights"), r"missing key\(s\) \['weights'\]"),
    "unknown key": (set_key(["colour"], "blue"), r"unknown key\(s\) \['colour'\]"),
    "wrong units": (set_key(["units", "energy"], "kcal/mol"), "units must be"),
    "unknown element": (set_key(["species"], ["Mo", "W", "Qq"]), "unknown element 'Qq'"),
    "short weights": (lambda d: d["weights"]["W"].pop(), r"'weights.W' has shape"),
    "nan weight": (lambda d: d["weights"]["Mo"].__setitem__(0, float("nan")), "not a number|NaN"),
    "spline shape": (lambda d: d["radial"]["spline"]["values"].pop(), "'radial.spline.values' has shape"),
    "damaged spline": (
        lambda d: d["radial"]["spline"]["values"][10].__setitem__(2, 123.0),
        "do not match the LE functions",
    ),
    "n_radial mismatch": (set_key(["radial", "n_radial"], [4, 4, 3]), "does not match the LE selection"),
    "factor out of range": (lambda d: d["basis"]["terms"]["factors"].__setitem__(0, 10**6), "index outside"),
    "missing species weights": (lambda d: d["weights"].pop("Nb"), r"'weights' is missing key\(s\) \['Nb'\]"),
    "core beyond cutoff": (
        lambda d: d["core_repulsion"]["pairs"][0].__setitem__("r_outer", 9.0),
        r"r_inner < r_outer <= cutoff",
    ),
    "core unknown species": (
        lambda d: d["core_repulsion"]["pairs"][0].__setitem__("species", ["Mo", "Fe"]),
        "must name two of",
    ),
    "negative cutoff": (set_key(["cutoff", "radius"], -4.5), "'cutoff.radius' must be positive"),
    "string number": (set_key(["reference_energies", "Mo"], "-3.0"), "must be a finite number"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_files_are_refused_with_a_named_problem(model, tmp_path, case):
    change, message = CASES[case]
    path = corrupt(model, tmp_path, change)
    with pytest.raises(ModelFileError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_truncated_file(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="not valid JSON.*truncated"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read the parameter file"):
        load_model(tmp_path / "absent.json")


def test_nan_literal_is_refused(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    path.write_text(path.read_text().replace('"reference_energies":{"Mo":', '"reference_energies":{"Mo":NaN,"x":', 1))
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(path)


def test_model_constructor_checks_shapes(model):
    with pytest.raises(ValueError, match="weights must have shape"):
        Model(model.basis, model.weights[:, :-1], model.reference_energies)
    with pytest.raises(ValueError, match="finite"):
        Model(model.basis, model.weights * np.nan, model.reference_energies)
