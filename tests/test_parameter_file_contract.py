"""One contract for the parameter file: the ASE calculator and the LAMMPS plugin accept and refuse the
same files, with the same message naming the key and the problem.

Every case below is a damaged copy of one valid file (three species, compressed density, body order 3,
ZBL core repulsion). Each is loaded by the ASE calculator (in this process) and by the real LAMMPS with
the plugin (`lmp`, one process per file); both must refuse it, the core reader's message must name the
key and the problem, and LAMMPS must print exactly the message ASE raises.
"""

import base64
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from lammps_runner import run_lmp, write_data
from models import random_model
from structures import random_triclinic

from lepot.calculator import Contraction, CoreRepulsion, LepotCalculator, ModelFileError, load_model
from lepot.calculator.uncertainty import Posterior

SPECIES = ["Mo", "W", "Nb"]


@pytest.fixture(scope="module")
def base_text():
    model = random_model(
        SPECIES, seed=5, n_max=4, l_max=3, body_order=3, budgets={3: 12},
        embedding=np.random.default_rng(5).normal(size=(2, 4, 3)),
        core_repulsion=CoreRepulsion({("Mo", "W"): (0.8, 2.0), ("Nb", "Nb"): (1.0, 2.2)}),
    )
    return model.to_text()


def edit(change):
    """A case built by changing the parsed JSON (dicts and lists) and writing it back."""

    def build(text):
        data = json.loads(text)
        change(data)
        return json.dumps(data)

    return build


def replace_once(old, new):
    def build(text):
        assert old in text
        return text.replace(old, new, 1)

    return build


def set_path(keys, value):
    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit(change)


def third_order_feature(data):
    return next(q for q, label in enumerate(data["basis"]["features"]) if label[0] == 3)


def swap_third_order_channels(data):
    q = third_order_feature(data)
    channels = data["basis"]["features"][q][2]
    channels[0] = [1 - channels[0][0], channels[0][1], channels[0][2]]


def nest(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


# name: (build the bad text from the valid one, what the message must contain)
CASES = {
    "empty file": (lambda text: "", "the file is empty"),
    "truncated": (lambda text: text[: len(text) // 2], "(the file looks truncated)"),
    "binary garbage": (lambda text: "{\x00\x01\xfe" + text, "the file is not text (a NUL byte at offset 1)"),
    "not JSON": (lambda text: "format = lepot-potential\n" + text, "not valid JSON at line 1, column 2: syntax error"),
    "top level a list": (lambda text: f"[{text}]", "the top level must be a JSON object"),
    "not a lepot file": (set_path(["format"], "pace"), "not a lepot parameter file ('format' is \"pace\""),
    "future format version": (set_path(["format_version"], 7),
                              "unsupported format_version 7; this lepot reads versions 1 to 6"),
    "version 3 with an uncertainty key": (set_path(["format_version"], 3),
                                          "'top level' has the unknown key 'uncertainty'"),
    "version 2 with a contraction key": (set_path(["format_version"], 2),
                                         "'top level' has the unknown key 'contraction'"),
    "unknown format version": (set_path(["format_version"], 0), "unsupported format_version 0"),
    "version 1 with core repulsion": (edit(lambda d: [d.update(format_version=1), d.pop("contraction"), d.pop("uncertainty")]),
                                      "a format_version 1 file with core_repulsion pairs: from version 2"),
    "version as a string": (set_path(["format_version"], "1"), "unsupported format_version \"1\""),
    "missing key": (edit(lambda d: d.pop("weights")), "'top level' is missing the key 'weights'"),
    "unknown key": (set_path(["colour"], "blue"), "'top level' has the unknown key 'colour'"),
    "duplicate top-level key": (
        replace_once('"format":"lepot-potential",', '"format":"lepot-potential","format":"lepot-potential",'),
        "'top level' has the key 'format' twice",
    ),
    "duplicate nested key": (replace_once('"cutoff":{"radius":4.5,', '"cutoff":{"radius":4.5,"radius":9.0,'),
                             "'cutoff' has the key 'radius' twice"),
    "wrong units": (set_path(["units", "energy"], "kcal/mol"), "'units' must be {\"energy\": \"eV\", \"length\": \"Angstrom\"}, got {\"energy\":\"kcal/mol\",\"length\":\"Angstrom\"}"),
    "unknown element": (set_path(["species"], ["Mo", "W", "Qq"]), "'species' has the unknown element 'Qq'"),
    "species listed twice": (set_path(["species"], ["Mo", "W", "Mo"]), "'species' lists 'Mo' twice"),
    "species not a list": (set_path(["species"], "Mo"), "'species' must be a list, got \"Mo\""),
    "negative cutoff": (set_path(["cutoff", "radius"], -4.5), "'cutoff.radius' must be positive, got -4.5"),
    "zero cutoff": (set_path(["cutoff", "radius"], 0), "'cutoff.radius' must be positive, got 0"),
    "width above cutoff": (set_path(["cutoff", "width"], 5.0), "'cutoff.width' must not exceed 'cutoff.radius'"),
    "NaN literal": (replace_once('"radius":4.5', '"radius":NaN'), "not valid JSON"),
    "infinite number": (replace_once('"radius":4.5', '"radius":1e999'), "not valid JSON: number overflow"),
    "number as a string": (set_path(["reference_energies", "Mo"], "-3.0"),
                           "'reference_energies.Mo' must be a number, got \"-3.0\""),
    "boolean as a number": (edit(lambda d: d["weights"]["W"].__setitem__(3, True)),
                            "'weights.W[3]' must be a number, got true"),
    "absurd n_max": (set_path(["radial", "n_max"], 10**12), "'radial.n_max' must be in [1, 128], got 1000000000000"),
    "absurd l_max": (set_path(["radial", "l_max"], 1000), "'radial.l_max' must be in [0, 20], got 1000"),
    "absurd n_nodes": (set_path(["radial", "spline", "n_nodes"], 10**9), "'radial.spline.n_nodes' must be in [2, 257]"),
    "inconsistent n_radial": (set_path(["radial", "n_radial"], [4, 4, 3, 2]),
                              "'radial.n_radial' [4,4,3,2] does not match the LE selection for n_max=4, l_max=3: [4, 3, 3, 2]"),
    "damaged spline table": (edit(lambda d: d["radial"]["spline"]["values"][100].__setitem__(2, 0.123)),
                             "'radial.spline.values' column 2 does not match the LE function it declares"),
    "short spline row": (edit(lambda d: d["radial"]["spline"]["derivatives"][7].pop()),
                         "'radial.spline.derivatives[7]' has 11 entries, expected 12"),
    "short weights": (edit(lambda d: d["weights"]["Nb"].pop()), "'weights.Nb' has 185 entries, expected 186"),
    "NaN weight": (replace_once('"weights":{"Mo":[', '"weights":{"Mo":[NaN,'), "not valid JSON"),
    "missing species weights": (edit(lambda d: d["weights"].pop("Nb")), "'weights' is missing the key 'Nb'"),
    "embedding of the wrong shape": (edit(lambda d: d["embedding"]["weights"].pop()),
                                     "'embedding.weights' has 2 entries, expected 3"),
    "absurd n_pseudo": (set_path(["embedding", "n_pseudo"], 10**9), "'embedding.n_pseudo' must be in [1, 2], got 1000000000"),
    "feature label a string": (edit(lambda d: d["basis"]["features"].__setitem__(5, "B5")),
                               "'basis.features[5]' must be [body_order, index, [channels]], got \"B5\""),
    "feature label a negative number": (edit(lambda d: d["basis"]["features"].__setitem__(5, -1)),
                                        "'basis.features[5]' must be [body_order, index, [channels]], got -1"),
    "feature label an empty list": (edit(lambda d: d["basis"]["features"].__setitem__(5, [])),
                                    "'basis.features[5]' must be [body_order, index, [channels]], got []"),
    "feature body order above the basis'": (edit(lambda d: d["basis"].__setitem__("body_order", 2)),
                                            "'basis.features[96][0]' must be in [1, 2], got 3"),
    "label that does not describe its terms": (edit(swap_third_order_channels),
                                               "is not a product of the 3 channels that 'basis.features[96]' names"),
    "factor index out of range": (edit(lambda d: d["basis"]["terms"]["factors"].__setitem__(0, 10**6)),
                                  "'basis.terms.factors[0]' must be in [0, 83], got 1000000"),
    "factor offsets not increasing": (edit(lambda d: d["basis"]["terms"]["factor_offsets"].__setitem__(2, 1)),
                                      "'basis.terms.factor_offsets' must increase (term 1 has no factors)"),
    "terms not grouped by feature": (edit(lambda d: d["basis"]["terms"]["feature"].__setitem__(0, 5)),
                                     "'basis.terms.feature' must be sorted (terms grouped by feature), term 1"),
    "core repulsion beyond the cutoff": (edit(lambda d: d["core_repulsion"]["pairs"][0].__setitem__("r_outer", 9.0)),
                                         "'core_repulsion.pairs[0]' needs 0 <= r_inner < r_outer <= cutoff.radius"),
    "core repulsion of a species not in the file": (
        edit(lambda d: d["core_repulsion"]["pairs"][0].__setitem__("species", ["Mo", "Fe"])),
        "'core_repulsion.pairs[0].species' names 'Fe', which is not in 'species'",
    ),
    "core repulsion pair repeated": (
        edit(lambda d: d["core_repulsion"]["pairs"].append(dict(d["core_repulsion"]["pairs"][0], species=["W", "Mo"]))),
        "'core_repulsion.pairs[2]' repeats the species pair W-Mo",
    ),
    "metadata not an object": (set_path(["metadata"], [1, 2]), "'metadata' must be an object, got [1,2]"),
    "nesting deeper than 16 levels": (set_path(["metadata", "deep"], nest(40)),
                                      "the JSON is nested deeper than 16 levels (at 'metadata.deep[][][]"),
}


@pytest.fixture(scope="module")
def tensor_reduced_text():
    """Three species, one-hot density (n_radial [4, 3, 3, 2]), K_l = (2, 2, 1, 1) contracted channels from ν = 2."""
    rng = np.random.default_rng(6)
    channels = (2, 2, 1, 1)
    weights = tuple(rng.normal(size=(k, len(SPECIES), n)) for k, n in zip(channels, (4, 3, 3, 2)))
    model = random_model(SPECIES, seed=6, n_max=4, l_max=3, body_order=3, budgets={3: 12},
                         contraction=Contraction(channels, weights, from_body_order=2))
    return model.to_text()


def first_contracted_label(data):
    return next(q for q, label in enumerate(data["basis"]["features"]) if label[0] == 2 and label[2][0][0] >= 3)


# damage to the "contraction" block and to what refers to it, on tensor_reduced_text
CONTRACTION_CASES = {
    "contraction channels for too few l": (edit(lambda d: d["contraction"]["channels"].pop()),
                                           "'contraction.channels' has 3 entries, expected 4"),
    "more contracted channels than inputs": (set_path(["contraction", "channels"], [13, 2, 1, 1]),
                                             "'contraction.channels[0]' must be in [0, 12], got 13"),
    "negative contracted channels": (set_path(["contraction", "channels"], [2, -1, 1, 1]),
                                     "'contraction.channels[1]' must be in [0, 9], got -1"),
    "contraction weights of the wrong shape": (edit(lambda d: d["contraction"]["weights"][1][0][2].pop()),
                                               "'contraction.weights[1][0][2]' has 2 entries, expected 3"),
    "non-finite contraction weight": (replace_once('"contraction":{"channels":[2,2,1,1],"weights":[[[[',
                                                   '"contraction":{"channels":[2,2,1,1],"weights":[[[[1e999,'),
                                      "not valid JSON: number overflow"),
    "contraction with no channels": (
        edit(lambda d: d["contraction"].update(channels=[0, 0, 0, 0], weights=[[], [], [], []])),
        "'contraction.channels' are all 0; write \"contraction\": null for no contraction"),
    "unknown key in contraction": (set_path(["contraction", "rank"], 3), "'contraction' has the unknown key 'rank'"),
    "label names a contracted channel that does not exist": (
        edit(lambda d: d["basis"]["features"][first_contracted_label(d)][2][0].__setitem__(0, 6)),
        "must be in [0, 4], got 6"),
    "contracted channel with a radial index": (
        edit(lambda d: d["basis"]["features"][first_contracted_label(d)][2][0].__setitem__(1, 1)),
        "must be in [0, 0], got 1"),
    "contracted factors without a contraction": (set_path(["contraction"], None), "[2][0][0]' must be in [0, 2], got 3"),
}


@pytest.fixture(scope="module")
def posterior_text():
    """Two centre channels over the three species and E0 columns: a random posterior of the right shape."""
    model = random_model(SPECIES, seed=7, n_max=3, l_max=2)
    rng = np.random.default_rng(7)
    n_columns = 2 * model.basis.n_features + len(SPECIES)
    factor = np.triu(rng.normal(size=(n_columns, n_columns))) + 5.0 * np.eye(n_columns)
    model.uncertainty = Posterior(rng.normal(size=(2, len(SPECIES))), True, factor, 1.5, 0.002, 0.01,
                                  local_variance_scale=0.3, force_posterior_scale=4.0, atom_energy_noise=0.02)
    return model.to_text()


def change_factor(change):
    """A case that decodes the base64 factor, changes the packed numbers and encodes them again."""

    def apply(data):
        numbers = np.frombuffer(base64.b64decode(data["uncertainty"]["factor"]), dtype="<f8").copy()
        data["uncertainty"]["factor"] = base64.b64encode(np.asarray(change(numbers), dtype="<f8").tobytes()).decode()

    return edit(apply)


def with_diagonal(numbers, row, value, n=195):
    """The packed factor with C[row][row] set (row j starts after the n − i entries of every row i < j)."""
    numbers[sum(n - i for i in range(row))] = value
    return numbers


# damage to the "uncertainty" block, on posterior_text (96 features: 2 x 96 + 3 = 195 columns, 19110 packed numbers)
UNCERTAINTY_CASES = {
    "factor one number short": (change_factor(lambda x: x[:-1]), "'uncertainty.factor' holds 19109 numbers, expected 19110"),
    "factor with a fraction of a number": (
        edit(lambda d: d["uncertainty"].update(factor=base64.b64encode(base64.b64decode(d["uncertainty"]["factor"])[:-5]).decode())),
                                           "'uncertainty.factor' holds 19109 and a fraction of numbers, expected 19110"),
    "factor not base64": (edit(lambda d: d["uncertainty"].update(factor="!!!!" + d["uncertainty"]["factor"][4:])),
                          "'uncertainty.factor' is not base64 (character 33 at 0)"),
    "factor of the wrong length for base64": (edit(lambda d: d["uncertainty"].update(factor=d["uncertainty"]["factor"][:-1])),
                                              "'uncertainty.factor' is not base64 (its length"),
    "factor as a list": (set_path(["uncertainty", "factor"], [1.0, 2.0]),
                         "'uncertainty.factor' must be a base64 string of float64 numbers, got [1.0,2.0]"),
    "non-finite number in the factor": (change_factor(lambda x: with_diagonal(x, 2, np.nan)),
                                        "'uncertainty.factor' number 389 is not finite"),
    "zero on the factor's diagonal": (change_factor(lambda x: with_diagonal(x, 4, 0.0)),
                                      "'uncertainty.factor' has a zero on the diagonal (row 4)"),
    "no E0 columns but a factor with them": (set_path(["uncertainty", "reference_energy_columns"], False),
                                             "'uncertainty.factor' holds 19110 numbers, expected 18528"),
    "E0 columns as a string": (set_path(["uncertainty", "reference_energy_columns"], "yes"),
                               "'uncertainty.reference_energy_columns' must be true or false, got \"yes\""),
    "centre channels for too few species": (edit(lambda d: d["uncertainty"]["centre_channels"][1].pop()),
                                            "'uncertainty.centre_channels[1]' has 2 entries, expected 3"),
    "no centre channels": (set_path(["uncertainty", "centre_channels"], []),
                           "'uncertainty.centre_channels' must not be empty"),
    "zero posterior scale": (set_path(["uncertainty", "posterior_scale"], 0.0),
                             "'uncertainty.posterior_scale' must be positive, got 0"),
    "negative energy noise": (set_path(["uncertainty", "energy_noise"], -0.1),
                              "'uncertainty.energy_noise' must not be negative, got -0.1"),
    "negative local variance scale": (set_path(["uncertainty", "local_variance_scale"], -0.5),
                                      "'uncertainty.local_variance_scale' must not be negative, got -0.5"),
    "zero force posterior scale": (set_path(["uncertainty", "force_posterior_scale"], 0.0),
                                   "'uncertainty.force_posterior_scale' must be positive, got 0"),
    "version 5 without the force scale": (edit(lambda d: d["uncertainty"].pop("force_posterior_scale")),
                                          "'uncertainty' is missing the key 'force_posterior_scale'"),
    "version 4 with the version-5 scales": (edit(lambda d: [d.update(format_version=4), d["uncertainty"].pop("atom_energy_noise")]),
                                            "'uncertainty' has the unknown key 'local_variance_scale'"),
    "negative per-atom energy noise": (set_path(["uncertainty", "atom_energy_noise"], -0.01),
                                       "'uncertainty.atom_energy_noise' must not be negative, got -0.01"),
    "version 6 without the per-atom noise": (edit(lambda d: d["uncertainty"].pop("atom_energy_noise")),
                                             "'uncertainty' is missing the key 'atom_energy_noise'"),
    "version 5 with the version-6 noise": (set_path(["format_version"], 5),
                                           "'uncertainty' has the unknown key 'atom_energy_noise'"),
    "reference variance as text": (set_path(["uncertainty", "reference_variance"], "1"),
                                   "'uncertainty.reference_variance' must be a number, got \"1\""),
    "missing factor": (edit(lambda d: d["uncertainty"].pop("factor")), "'uncertainty' is missing the key 'factor'"),
    "unknown key in uncertainty": (set_path(["uncertainty", "rank"], 3), "'uncertainty' has the unknown key 'rank'"),
}


def lammps_outputs(folder, paths):
    """`lmp` output for each bad file, bcc Mo-W-Nb data, two files at a time."""
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2)
    atoms.symbols[[1, 2]] = ["W", "Nb"]
    write_data(atoms, folder / "data.lmp", SPECIES)

    def run(path):
        work = folder / path.stem
        work.mkdir()
        os.symlink(folder / "data.lmp", work / "data.lmp")
        script = f"units metal\natom_style atomic\nread_data data.lmp\npair_style lepot\npair_coeff * * {path} {' '.join(SPECIES)}\nrun 0\n"
        return run_lmp(work, script)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, paths))


def test_at_least_thirty_bad_files():
    assert len(CASES) >= 30


@pytest.mark.parametrize("base, cases", [("base_text", CASES), ("tensor_reduced_text", CONTRACTION_CASES),
                                         ("posterior_text", UNCERTAINTY_CASES)], ids=["file", "contraction", "uncertainty"])
def test_both_front_ends_refuse_every_bad_file_with_the_same_message(base, cases, request, tmp_path):
    base_text = request.getfixturevalue(base)
    paths = {}
    for index, (name, (build, _)) in enumerate(cases.items()):
        paths[name] = tmp_path / f"case{index:02d}.json"
        paths[name].write_bytes(build(base_text).encode("utf-8", errors="surrogateescape"))
    lammps = dict(zip(cases, lammps_outputs(tmp_path, list(paths.values()))))
    problems = []
    for name, (_, expected) in cases.items():
        with pytest.raises(ModelFileError) as refused:
            LepotCalculator(str(paths[name]))
        message = str(refused.value)
        if not message.startswith(f"{paths[name]}: ") or expected not in message:
            problems.append(f"{name}: ASE said {message!r}, expected it to contain {expected!r}")
        completed = lammps[name]
        if completed.returncode == 0 or f"ERROR: pair_style lepot: {message}" not in completed.stdout:
            problems.append(f"{name}: LAMMPS did not print {message!r}:\n{completed.stdout[-600:]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("base", ["base_text", "tensor_reduced_text", "posterior_text"])
def test_the_valid_file_is_accepted_by_both(base, request, tmp_path):
    """The undamaged files load in both (so the refusals above are the damage's doing)."""
    path = tmp_path / "valid.json"
    path.write_text(request.getfixturevalue(base))
    (completed,) = lammps_outputs(tmp_path, [path])
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert load_model(path).species == tuple(SPECIES)


@pytest.mark.parametrize("version", [3, 2, 1])
def test_an_older_version_file_is_read_by_both(base_text, tmp_path, version):
    """Version 4 only added the "uncertainty" key and version 3 the "contraction" key, so a file of an older
    version is one without the later keys; version 2 changed only what core_repulsion pairs mean, so a
    version-1 file without them still loads."""
    data = json.loads(base_text)
    for key, added_in in (("uncertainty", 4), ("contraction", 3)):
        if version < added_in:
            data.pop(key)
    if version == 1:
        data["core_repulsion"] = None
    data["format_version"] = version
    path = tmp_path / f"version{version}.json"
    path.write_text(json.dumps(data))
    (completed,) = lammps_outputs(tmp_path, [path])
    assert completed.returncode == 0, completed.stdout[-2000:]
    model = load_model(path)
    assert model.uncertainty is None
    assert version >= 3 or model.basis.contraction is None
    assert version >= 2 or model.core_repulsion is None


@pytest.mark.parametrize("version", [4, 5])
def test_an_older_posterior_means_what_it_meant_in_both(posterior_text, tmp_path, version):
    """Version 5 added the local variance and force scales, version 6 the per-atom energy noise: an older
    "uncertainty" without them is read by both front ends as what its σ_E and σ_F meant — β² = 0 and α_F² = α²
    before version 5, η = 0 before version 6."""
    data = json.loads(posterior_text)
    data["uncertainty"].pop("atom_energy_noise")
    if version == 4:
        for key in ("local_variance_scale", "force_posterior_scale"):
            data["uncertainty"].pop(key)
    data["format_version"] = version
    path = tmp_path / f"version{version}.json"
    path.write_text(json.dumps(data))
    (completed,) = lammps_outputs(tmp_path, [path])
    assert completed.returncode == 0, completed.stdout[-2000:]
    posterior = load_model(path).uncertainty
    assert posterior.atom_energy_noise == 0.0
    if version == 4:
        assert posterior.local_variance_scale == 0.0 and posterior.force_posterior_scale == posterior.posterior_scale == 1.5
    else:
        assert posterior.local_variance_scale == 0.3 and posterior.force_posterior_scale == 4.0


def test_an_element_the_file_lacks_is_named_by_both(tmp_path):
    """Species not in the file: the structure (ASE) or pair_coeff (LAMMPS) names the missing element."""
    path = Path(__file__).resolve().parent.parent / "potentials" / "Mo.json"
    atoms = random_triclinic(["Mo", "W"], 8, 5.0, seed=3)
    with pytest.raises(ValueError, match=r"element\(s\) W not in this basis \(species: Mo\)"):
        LepotCalculator(str(path)).get_potential_energy(atoms)
    write_data(atoms, tmp_path / "data.lmp", ["Mo", "W"])
    completed = run_lmp(tmp_path, f"units metal\natom_style atomic\nread_data data.lmp\npair_style lepot\npair_coeff * * {path} Mo W\nrun 0\n")
    assert completed.returncode != 0
    assert "element W (atom type 2) is not in lepot model" in completed.stdout and "(species: Mo)" in completed.stdout


def test_missing_file_gives_the_same_message(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ModelFileError) as refused:
        load_model(path)
    assert str(refused.value) == f"{path}: cannot read the parameter file (No such file or directory)"
    (completed,) = lammps_outputs(tmp_path, [path])
    assert f"ERROR: pair_style lepot: {refused.value}" in completed.stdout


def test_a_folder_is_not_a_parameter_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read the parameter file \\(not a regular file\\)"):
        load_model(tmp_path)


def test_loading_never_executes_code(base_text, tmp_path):
    """Strings that would run code in an unsafe loader (Python, YAML, shell) stay inert data."""
    marker = tmp_path / "executed"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"$(touch {marker})",
        f"`touch {marker}`",
    ]
    data = json.loads(base_text)
    data["metadata"]["payloads"] = payloads
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(data))
    assert load_model(path).metadata["payloads"] == payloads
    (completed,) = lammps_outputs(tmp_path, [path])
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert not marker.exists()
