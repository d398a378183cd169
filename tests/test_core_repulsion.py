"""Potentials stay physical where there is no data: core repulsion on by default in `lepot fit`.

- Every shipped potential hands every species pair over to ZBL below its shortest training distance, and
  its dimers and trimers (equilateral and linear, every species combination) rise monotonically from the
  shortest distance in its data down to 0.5 Å. Each file records r_outer = the pair's shortest distance
  in the training and validation data, so min(r_outer) is the data's shortest distance.
- `lepot fit` with the default settings places r_outer at the shortest distance of each pair in its
  training and validation data and r_inner at INNER_FRACTION of it, does not change the fitted weights
  (no training pair is that close), and states the radii in its report.
- The handover itself: a close pair's density contribution fades out, forces stay -∇E through the
  switching window (finite differences), and LAMMPS equals ASE there.
"""

import itertools
import json
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from models import random_model
from structures import random_triclinic

from lepot import potentials
from lepot.calculator import CoreRepulsion, DescriptorCalculator, Potential, load_model
from lepot.fitting import fit
from lepot.fitting.config import ConfigError
from lepot.fitting.core_radii import INNER_FRACTION, shortest_distances

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "data" / "Mo_train_sample.extxyz"
SHIPPED = ["Mo", "Si", "Mo_fast", "Si_fast", "NbMoTaW"]


def cluster_energies(potential, symbols, shape, distances):
    """Energies (eV) of a dimer or trimer of ``symbols`` at each bond length in ``distances`` (Å)."""
    energies = []
    for r in distances:
        if shape == "dimer":
            positions = [[0, 0, 0], [r, 0, 0]]
        elif shape == "equilateral":
            positions = [[0, 0, 0], [r, 0, 0], [r / 2, r * np.sqrt(3) / 2, 0]]
        else:
            positions = [[0, 0, 0], [r, 0, 0], [2 * r, 0, 0]]
        energies.append(potential.compute(Atoms(list(symbols), positions=positions)).energy)
    return np.array(energies)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_potentials_are_repulsive_below_their_data(name):
    model = load_model(potentials.path(name))
    core = model.core_repulsion
    assert core is not None, f"{name} has no core repulsion"
    species = model.species
    assert set(core.pairs) == set(itertools.combinations_with_replacement(species, 2))
    for inner, outer in core.pairs.values():
        assert inner == pytest.approx(INNER_FRACTION * outer, rel=1e-12)
    shortest = min(outer for _, outer in core.pairs.values())
    distances = np.arange(0.5, shortest, 0.01)
    potential = Potential(model, n_threads=1)
    clusters = [("dimer", pair) for pair in itertools.combinations_with_replacement(species, 2)]
    clusters += [(shape, trio) for trio in itertools.combinations_with_replacement(species, 3)
                 for shape in ("equilateral", "linear")]
    not_rising = []
    for shape, symbols in clusters:
        energies = cluster_energies(potential, symbols, shape, distances)
        rising = np.diff(energies) < 0  # energy falls as the bond length grows: rises as it shrinks
        if not rising.all():
            not_rising.append(f"{shape} {'-'.join(symbols)} at {distances[np.argmin(rising)]:.2f} Å")
    assert not not_rising, f"{name}: energy does not rise monotonically below {shortest:.3f} Å: {not_rising}"


def test_default_fit_puts_the_handover_below_the_shortest_distance_in_the_data(tmp_path):
    """The automatic radii come from the training data, leave the weights as they are without repulsion,
    and are stated in the report."""
    config = {
        "species": ["Mo"],
        "data": {"train": str(SAMPLE), "validation_fraction": 0.0},
        # body order 2: a well-conditioned model, so equal weights can be asked to 1e-9
        "model": {"cutoff": 4.5, "n_max": 4, "l_max": 3, "body_order": 2},
        "output": {"model": str(tmp_path / "with.json")},
    }
    with_repulsion = fit(config, progress=False).model
    config["model"]["core_repulsion"] = None
    config["output"]["model"] = str(tmp_path / "without.json")
    without = fit(config, progress=False).model
    structures = ase.io.read(SAMPLE, ":")
    shortest = min(
        np.min(atoms.get_all_distances(mic=True)[~np.eye(len(atoms), dtype=bool)]) for atoms in structures
    )
    inner, outer = with_repulsion.core_repulsion.pairs[("Mo", "Mo")]
    assert outer == pytest.approx(shortest, abs=1e-9) and inner == pytest.approx(INNER_FRACTION * shortest)
    np.testing.assert_allclose(with_repulsion.coefficients, without.coefficients, rtol=1e-9, atol=1e-12)
    report = (tmp_path / "with.md").read_text()
    assert f"Mo-Mo {inner:.3f}-{outer:.3f} Å" in report and "auto (periodic data): r_outer = 1 × the shortest distance" in report
    assert json.loads((tmp_path / "with.json").read_text())["format_version"] >= 2  # the handover meaning


@pytest.mark.parametrize("fraction", [0.9, 1.0])
def test_shortest_fraction_moves_the_handover_below_the_data(tmp_path, fraction):
    """{shortest_fraction: f}: r_outer = f × the shortest distance (f = 1 is 'auto'), stated in the report;
    a non-periodic molecule with no stress fits with the default stress weight (it gets no stress rows)."""
    config = {
        "species": ["Mo"],
        "data": {"train": str(SAMPLE), "validation_fraction": 0.0},
        "model": {"cutoff": 4.5, "n_max": 4, "l_max": 3, "core_repulsion": {"shortest_fraction": fraction}},
        "output": {"model": str(tmp_path / "fraction.json")},
    }
    model = fit(config, progress=False).model
    structures = ase.io.read(SAMPLE, ":")
    shortest = min(
        np.min(atoms.get_all_distances(mic=True)[~np.eye(len(atoms), dtype=bool)]) for atoms in structures
    )
    inner, outer = model.core_repulsion.pairs[("Mo", "Mo")]
    assert outer == pytest.approx(fraction * shortest, abs=1e-9) and inner == pytest.approx(INNER_FRACTION * outer)
    assert f"r_outer = {fraction:g} × the shortest distance" in (tmp_path / "fraction.md").read_text()


@pytest.mark.parametrize("setting", [{"shortest_fraction": 0.0}, {"shortest_fraction": 1.5},
                                     {"shortest_fraction": 0.9, "r_outer": 2.0}, {"shortest_fraction": "x"}])
def test_bad_shortest_fraction_is_named(tmp_path, setting):
    config = {"species": ["Mo"], "data": {"train": str(SAMPLE)}, "model": {"core_repulsion": setting},
              "output": {"model": str(tmp_path / "bad.json")}}
    with pytest.raises(ConfigError, match="shortest_fraction"):
        fit(config, progress=False)
    assert not (tmp_path / "bad.json").exists()


def test_a_molecule_without_stress_fits_with_the_default_weights_and_a_handover_below_its_data(tmp_path):
    """Non-periodic structures have no stress: they get no stress rows, and the default stress weight is
    not an error for them (it still is for periodic structures that lack a stress). With no periodic
    structure, core repulsion auto hands over below 0.9 × each pair's shortest distance (core_radii)."""
    from ase.build import molecule

    structures = []
    rng = np.random.default_rng(5)
    for k in range(12):
        atoms = molecule("CH3OH")
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.calc = SinglePointCalculator(atoms, energy=-30.0 + rng.normal(), forces=rng.normal(size=(6, 3)))
        structures.append(atoms)
    ase.io.write(tmp_path / "methanol.extxyz", structures)
    config = {"species": ["C", "H", "O"], "data": {"train": str(tmp_path / "methanol.extxyz"), "validation_fraction": 0.0},
              "model": {"cutoff": 4.0, "n_max": 3, "l_max": 2}, "output": {"model": str(tmp_path / "methanol.json")}}
    result = fit(config, progress=False)
    assert result.tables["train"]["all"]["stress_GPa"] is None
    assert result.solution.effective_parameters > 0
    carbon_oxygen = min(a.get_distance(0, 1) for a in ase.io.read(tmp_path / "methanol.extxyz", ":"))  # C 0, O 1
    inner, outer = result.model.core_repulsion.pairs[("C", "O")]
    assert outer == pytest.approx(0.9 * carbon_oxygen, abs=1e-9) and inner == pytest.approx(INNER_FRACTION * outer)
    assert "auto (no structure periodic): r_outer = 0.9 × the shortest distance" in (tmp_path / "methanol.md").read_text()


def test_shortest_distances_per_species_pair_include_periodic_images():
    atoms = random_triclinic(["Mo", "W"], 3, 3.4, seed=3)  # a cell smaller than the cutoff
    from lepot.fitting.data import Structure

    measured = shortest_distances([Structure(atoms)], ("Mo", "W"), 5.0)
    symbols = np.array(atoms.get_chemical_symbols())
    supercell = atoms.repeat(3)
    all_symbols = np.array(supercell.get_chemical_symbols())
    distances = supercell.get_all_distances()
    np.fill_diagonal(distances, np.inf)
    for a, b in measured:
        mask = np.outer(all_symbols == a, all_symbols == b)
        assert measured[(a, b)] == pytest.approx(distances[mask].min(), abs=1e-9)
    assert set(measured) == {("Mo", "Mo"), ("Mo", "W"), ("W", "W")} and symbols.size == 3


def test_a_pair_below_r_inner_adds_nothing_to_the_density():
    core = CoreRepulsion({("Mo", "W"): (1.2, 2.2)})
    model = random_model(["Mo", "W"], seed=3, core_repulsion=core)
    calculator = DescriptorCalculator(model.basis)
    lone = calculator.compute(Atoms("Mo", positions=[[0, 0, 0]]))
    for r in (0.6, 1.0, 1.19):
        pair = calculator.compute(Atoms("MoW", positions=[[0, 0, 0], [r, 0, 0]]))
        np.testing.assert_array_equal(pair.values[0], lone.values[0])
    inside = calculator.compute(Atoms("MoW", positions=[[0, 0, 0], [1.7, 0, 0]]))
    assert not np.array_equal(inside.values[0], lone.values[0])
    same_species = calculator.compute(Atoms("MoMo", positions=[[0, 0, 0], [1.0, 0, 0]]))  # Mo-Mo is not handed over
    assert not np.array_equal(same_species.values[0], lone.values[0])


def test_forces_are_the_gradient_through_the_handover():
    """Finite differences along a dimer and in a cell whose pairs sit inside the switching windows."""
    core = CoreRepulsion({("Mo", "W"): (1.3, 2.4), ("W", "W"): (1.5, 2.3)})
    model = random_model(["Mo", "W"], seed=4, core_repulsion=core, body_order=3, budgets={3: 10})
    potential = Potential(model)
    atoms = random_triclinic(["Mo", "W"], 10, 5.0, seed=5, min_distance=1.4)
    result = potential.compute(atoms)
    h = 1e-5
    for atom in range(len(atoms)):
        for alpha in range(3):
            moved = atoms.copy()
            moved.positions[atom, alpha] += h
            plus = potential.compute(moved).energy
            moved.positions[atom, alpha] -= 2 * h
            minus = potential.compute(moved).energy
            numeric = -(plus - minus) / (2 * h)
            assert result.forces[atom, alpha] == pytest.approx(numeric, rel=1e-6, abs=1e-6 * np.abs(result.forces).max())
