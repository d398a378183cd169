"""`model.compression: auto` (the default): element-resolved while the fit is within its cost budget, else the
largest K that is; `model.tensor_reduction: auto` (the default): over that budget at body order 3, the largest
affordable tensor reduction first; the counted columns are the built ones; the choice is recorded and the
recorded config refits to the same file; explicit settings are kept."""

import json

import pytest
from structures import write_emt_training_file

import lepot.fitting.automatic_compression as automatic
from lepot.fitting import fit
from lepot.fitting.config import ConfigError, make_config

SPECIES = ["Cu", "Ag", "Au"]
MODEL = dict(cutoff=4.5, n_max=3, l_max=2, body_order=3, budgets={3: 8}, tensor_reduction=None)  # auto: its own tests


def config_for(tmp_path, name, species=SPECIES, **model):
    train = tmp_path / f"train_{len(species)}.extxyz"
    if not train.exists():
        write_emt_training_file(train, species, 6, seed=4)
    return {"species": species, "data": {"train": str(train), "validation_fraction": 0.0},
            "model": {**MODEL, **model}, "output": {"model": str(tmp_path / f"{name}.json")}}


def config_and_data(config):
    """(FitConfig, FitData) of a config dict. lepot.fitting.fit is imported here, not at collection: importing
    that submodule rebinds the package's `fit` to it until the function next runs (lepot/fitting/__init__.py),
    which other test modules import at collection."""
    from lepot.fitting.fit import load_data

    config = make_config(config)
    return config, load_data(config)


def candidates_of(config):
    config, data = config_and_data(config)
    return automatic.compression_candidates(config, data.splits["train"], data.targets)


def test_within_budget_the_default_is_element_resolved(tmp_path):
    model = fit(config_for(tmp_path, "resolved"), progress=False).model
    choice = model.metadata["fit"]["compression_choice"]
    assert choice["chosen"] == "element-resolved"
    assert model.basis.n_pseudo == len(SPECIES) and model.metadata["fit"]["embedding"] is None
    assert model.metadata["fit"]["config"]["model"]["compression"] is None


def test_over_budget_the_largest_affordable_k_is_learned_with_compressed_centres(tmp_path, monkeypatch):
    config = config_for(tmp_path, "compressed")
    by_k = {c.n_pseudo: c for c in candidates_of(config)}
    assert by_k[3].columns > by_k[2].columns > by_k[1].columns
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.5 * (by_k[2].flops + by_k[3].flops))
    monkeypatch.setattr(automatic, "AUTOMATIC_LEARNING", {"structures": 4, "iterations": 2})
    result = fit(config, progress=False)
    fitted = result.model.metadata["fit"]
    assert fitted["compression_choice"]["chosen"] == 2
    assert [c["n_pseudo"] for c in fitted["compression_choice"]["candidates"]] == [3, 2, 1]
    recorded = fitted["config"]["model"]
    assert (recorded["compression"], recorded["compression_per_channel"], recorded["centre_weights"]) == (2, True, "compressed")
    assert recorded["learn_embedding"] == {"structures": 4, "iterations": 2} and fitted["embedding"]["learned"]
    assert fitted["solver"]["n_columns"] == by_k[2].columns  # counted before the fit = built
    report = (tmp_path / "compressed.md").read_text()
    assert "compression auto: 2 (the largest model within" in report

    # the recorded (resolved) config refits to the same parameters, whatever the budget now is
    monkeypatch.undo()
    again = dict(fitted["config"], output={"model": str(tmp_path / "again.json")})
    refit = fit(again, progress=False).model
    assert refit.metadata["fit"]["compression_choice"] is None
    assert json.dumps(refit.coefficients.tolist()) == json.dumps(result.model.coefficients.tolist())


def test_counted_columns_equal_the_built_ones_for_every_k(tmp_path):
    config = config_for(tmp_path, "counted")
    for candidate in candidates_of(config):
        k = None if candidate.element_resolved else candidate.n_pseudo
        model = fit(config_for(tmp_path, f"k{candidate.n_pseudo}", compression=k,
                               centre_weights=None if k is None else "compressed"), progress=False).model
        assert model.metadata["fit"]["solver"]["n_columns"] == candidate.columns


def test_explicit_settings_and_the_memory_limit_are_kept_one_species_or_tensor_reduction_stay_resolved(
        tmp_path, monkeypatch):
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.0)  # every K over budget: the smallest, K = 1
    monkeypatch.setattr(automatic, "AUTOMATIC_LEARNING", {"structures": 4, "iterations": 1})
    model = fit(config_for(tmp_path, "kept", compression_per_channel=False, centre_weights="species",
                           learn_embedding={"structures": 3, "iterations": 1}), progress=False).model
    fitted = model.metadata["fit"]
    assert fitted["compression_choice"]["chosen"] == 1 and "no K is within the budget" in fitted["compression_choice"]["reason"]
    recorded = fitted["config"]["model"]
    assert (recorded["compression_per_channel"], recorded["centre_weights"]) == (False, "species")
    assert recorded["learn_embedding"] == {"structures": 3, "iterations": 1}

    monkeypatch.undo()
    limited = config_for(tmp_path, "limited")
    by_k = {c.n_pseudo: c for c in candidates_of(limited)}
    limited["solver"] = {"memory_limit": 0.5 * (by_k[3].memory + by_k[2].memory) / 2**30}
    config, data = config_and_data(limited)
    automatic.choose_compression(config, data)
    assert data.compression_choice["chosen"] == 2  # solver.memory_limit below the element-resolved estimate

    one = fit(config_for(tmp_path, "one", species=["Cu"], tensor_reduction="auto"), progress=False)
    assert one.model.metadata["fit"]["compression_choice"] == {
        "chosen": "element-resolved", "reason": "one species",
        "tensor_reduction": {"chosen": None, "reason": "one species"}}
    reduced = fit(config_for(tmp_path, "reduced", tensor_reduction={"channels": 2}), progress=False).model
    assert reduced.metadata["fit"]["compression_choice"]["reason"] == "model.tensor_reduction bounds the size"


@pytest.mark.parametrize("value, message", [
    ("automatic", "'model.compression' must be null, auto or an integer from 1 to 3"),
    (True, "'model.compression' must be null, auto or an integer from 1 to 3"),
])
def test_unknown_compression_values_are_refused(tmp_path, value, message):
    with pytest.raises(ConfigError, match=message):
        make_config(config_for(tmp_path, "bad", compression=value))


def test_compressed_centre_weights_without_pseudo_elements_are_refused_by_name(tmp_path):
    config, data = config_and_data(config_for(tmp_path, "centres", centre_weights="compressed"))
    with pytest.raises(ConfigError, match="auto chose element-resolved .* 'compressed' needs pseudo-elements"):
        automatic.choose_compression(config, data)


def test_with_more_than_three_species_k_is_at_most_three(tmp_path, monkeypatch):
    """Chosen on the Nb-Mo-Ta-W validation split: K = 4 and element-resolved 4-body models memorise the few
    quaternary training cells (lepot.fitting.automatic_compression)."""
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", float("inf"))
    config, data = config_and_data(config_for(tmp_path, "four", species=["Cu", "Ag", "Au", "Ni"], n_max=2, l_max=1,
                                              budgets={3: 4}))
    resolved = automatic.choose_compression(config, data)
    assert data.compression_choice["chosen"] == 3 and resolved["model"]["compression"] == 3
    assert data.compression_choice["reason"].startswith("the largest K <= 3 within")
    assert [c["n_pseudo"] for c in data.compression_choice["candidates"]] == [4, 3, 2, 1]


def test_body_order_auto_is_three_unless_several_elements_would_need_slow_compression_at_three(tmp_path, monkeypatch):
    """Cheap enough: body order 3 element-resolved, pruned as `prune: auto` says. Over the budget at body order 3
    (the case of three or more elements at the default sizes): body order 3 compressed when its embedding is
    quick to learn (few neighbour pairs in the learning sample), else body order 2 with K chosen there."""
    from lepot.fitting.config import automatic_prune

    config = config_for(tmp_path, "order", body_order="auto")
    at_three = candidates_of(dict(config, model={**config["model"], "body_order": 3}))[0]
    at_two = candidates_of(dict(config, model={**config["model"], "body_order": 2}))[0]
    assert at_three.columns > at_two.columns

    cheap, data = config_and_data(config)
    resolved = automatic.choose_compression(cheap, data)
    assert resolved["model"]["body_order"] == 3 and resolved["model"]["prune"] == automatic_prune(3)
    assert data.compression_choice["body_order"]["chosen"] == 3 and data.compression_choice["chosen"] == "element-resolved"

    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.5 * (at_two.flops + at_three.flops))
    monkeypatch.setattr(automatic, "AUTOMATIC_LEARNING", {"structures": 4, "iterations": 1})
    quick, data = config_and_data(config)
    pairs = automatic.learning_sample_pairs(quick, data.splits["train"])
    assert 0 < pairs <= automatic.AUTOMATIC_LEARNING_PAIRS
    resolved = automatic.choose_compression(quick, data)
    assert resolved["model"]["body_order"] == 3 and resolved["model"]["compression"] in (1, 2)
    assert f"{pairs:,} neighbour pairs, within" in data.compression_choice["body_order"]["reason"]

    monkeypatch.setattr(automatic, "AUTOMATIC_LEARNING_PAIRS", pairs - 1)
    result = fit(config, progress=False)
    choice = result.model.metadata["fit"]["compression_choice"]
    assert result.model.basis.body_order == 2 and choice["body_order"]["chosen"] == 2
    assert "neighbour pairs, over" in choice["body_order"]["reason"] and choice["chosen"] == "element-resolved"
    assert result.model.metadata["fit"]["config"]["model"]["prune"] is None
    assert "body order auto: 2 (body order 3 needs compression" in (tmp_path / "order.md").read_text()


def test_tensor_reduction_auto_over_budget_takes_the_largest_affordable_channels(tmp_path, monkeypatch):
    """Element-resolved over the budget at body order 3: the largest of AUTOMATIC_CHANNELS whose reduction (from
    body order 2, centre weights per species, nothing learned) is within it — counted = built, recorded, and
    the recorded config refits to the same file; with none within it: null, and compression auto compresses."""
    config = config_for(tmp_path, "reduced", tensor_reduction="auto")
    counted, data = config_and_data(config)
    resolved = automatic.compression_candidates(counted, data.splits["train"], data.targets)[0]
    six, four = automatic.reduction_candidates(counted, data.splits["train"], data.targets)
    assert (six.channels, four.channels) == automatic.AUTOMATIC_CHANNELS == (6, 4)
    assert resolved.columns > six.columns > four.columns
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.5 * (resolved.flops + six.flops))
    result = fit(config, progress=False)
    fitted = result.model.metadata["fit"]
    setting = {"channels": 6, "from_body_order": 2}
    assert fitted["compression_choice"]["tensor_reduction"]["chosen"] == setting
    assert [c["channels"] for c in fitted["compression_choice"]["tensor_reduction"]["candidates"]] == [6, 4]
    assert fitted["compression_choice"]["reason"] == "model.tensor_reduction bounds the size"
    assert fitted["config"]["model"]["tensor_reduction"] == setting and fitted["config"]["model"]["compression"] is None
    assert fitted["solver"]["n_columns"] == six.columns  # counted before the fit = built
    assert "tensor reduction auto: {'channels': 6, 'from_body_order': 2} (element-resolved over" in (
        tmp_path / "reduced.md").read_text()
    monkeypatch.undo()
    again = dict(fitted["config"], output={"model": str(tmp_path / "again.json")})
    assert json.dumps(fit(again, progress=False).model.coefficients.tolist()) == json.dumps(
        result.model.coefficients.tolist())

    for flops, expected in ((0.5 * (six.flops + four.flops), {"channels": 4, "from_body_order": 2}),
                            (0.5 * four.flops, None)):
        monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", flops)
        chosen = automatic.choose_compression(*config_and_data(config))
        assert chosen["model"]["tensor_reduction"] == expected
        assert (chosen["model"]["compression"] is None) == (expected is not None)  # none affordable: compressed


def test_body_order_auto_keeps_three_with_a_tensor_reduction_over_budget(tmp_path, monkeypatch):
    """Several elements over the budget at body order 3 element-resolved: a tensor reduction within it keeps body
    order 3 (even when compressing there would be slow to learn)."""
    config = config_for(tmp_path, "order_reduced", body_order="auto", tensor_reduction="auto")
    at_three, data = config_and_data(dict(config, model={**config["model"], "body_order": 3}))
    resolved = automatic.compression_candidates(at_three, data.splits["train"], data.targets)[0]
    six = automatic.reduction_candidates(at_three, data.splits["train"], data.targets)[0]
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.5 * (resolved.flops + six.flops))
    monkeypatch.setattr(automatic, "AUTOMATIC_LEARNING_PAIRS", 0)
    counted, data = config_and_data(config)
    chosen = automatic.choose_compression(counted, data)
    assert chosen["model"]["body_order"] == 3 and chosen["model"]["compression"] is None
    assert chosen["model"]["tensor_reduction"] == {"channels": 6, "from_body_order": 2}
    assert "with tensor reduction to 6 channels per l" in data.compression_choice["body_order"]["reason"]

    by_k = {c.n_pseudo: c for c in automatic.compression_candidates(at_three, data.splits["train"], data.targets)}
    four = automatic.reduction_candidates(at_three, data.splits["train"], data.targets)[1]
    assert by_k[1].flops < four.flops
    monkeypatch.setattr(automatic, "AUTOMATIC_DESIGN_FLOPS", 0.5 * (by_k[1].flops + four.flops))
    counted, data = config_and_data(config)
    chosen = automatic.choose_compression(counted, data)  # no reduction within; compressing at 3 is slow: 2
    assert chosen["model"]["body_order"] == 2 and chosen["model"]["tensor_reduction"] is None
    assert "; no tensor reduction to 4 or more channels within" in data.compression_choice["body_order"]["reason"]


@pytest.mark.parametrize("species, model, reason", [
    (["Cu"], {}, "one species"),
    (SPECIES, {"compression": 2}, "compression or tensor reduction configured"),
])
def test_body_order_auto_keeps_three_for_one_element_or_a_configured_size(tmp_path, species, model, reason):
    config, data = config_and_data(config_for(tmp_path, "kept", species=species, body_order="auto", **model))
    resolved = automatic.choose_compression(config, data)
    assert resolved["model"]["body_order"] == 3
    assert data.compression_choice["body_order"] == {"chosen": 3, "reason": reason}


@pytest.mark.parametrize("element", ["Mo", "Si"])
def test_a_minimal_config_resolves_to_the_settings_of_the_shipped_accurate_files(tmp_path, element):
    """examples/fit_<El>.yaml writes every default out: species and data alone resolve to the same model and
    weight settings (so a minimal config fits the shipped Mo.json / Si.json)."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    sample = str(root / "examples" / "data" / "Mo_train_sample.extxyz")  # only the settings are compared
    written = yaml.safe_load((root / "examples" / f"fit_{element}.yaml").read_text())
    written["data"] = {"train": sample}
    written["output"] = {"model": str(tmp_path / "written.json")}
    minimal = {"species": [element], "data": {"train": sample}, "output": {"model": str(tmp_path / "minimal.json")}}
    resolved = []
    for values in (written, minimal):
        values["species"] = ["Mo"]  # the sample's element; the settings do not depend on it
        config, data = config_and_data(values)
        resolved.append(automatic.choose_compression(config, data).to_dict())
    assert resolved[0]["model"] == resolved[1]["model"] and resolved[0]["weights"] == resolved[1]["weights"]
    for solver in resolved:
        del solver["solver"]["chunk_size"]  # the example's 32 against auto: memory and speed, not the result
    assert resolved[0]["solver"] == resolved[1]["solver"]


def test_every_mpi_rank_makes_the_same_choice_whatever_memory_it_sees(tmp_path):
    """The budget includes the memory available per rank, read on each rank at a slightly different moment;
    rank 0's is broadcast, so two ranks that see very different amounts still choose alike."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    config = config_for(tmp_path, "ranks")
    candidates = candidates_of(config)
    script = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from mpi4py import MPI
import lepot.fitting.automatic_compression as automatic
from lepot.fitting.config import make_config
from lepot.fitting.fit import FitContext, load_data
rank = MPI.COMM_WORLD.Get_rank()
seen = {{0: {2.0 * candidates[0].memory!r}, 1: {0.5 * candidates[-1].memory!r}}}[rank]
automatic.available_bytes = lambda: seen
config = make_config(json.loads({json.dumps(json.dumps(config))}))
data = load_data(config)
resolved = automatic.choose_compression(config, data, FitContext(MPI.COMM_WORLD, progress=False))
open({str(tmp_path)!r} + f"/rank{{rank}}.json", "w").write(json.dumps(resolved["model"]["compression"]))
"""
    completed = subprocess.run([str(Path(sys.executable).parent / "mpiexec"), "-n", "2", sys.executable, "-c", script],
                               env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    chosen = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]  # not stdout: ranks interleave
    assert chosen == [None, None]  # rank 0 sees room for the element-resolved model: both take it
