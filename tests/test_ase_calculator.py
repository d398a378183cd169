"""The ASE calculator: properties and conventions, caching, model resolution, errors, and use in
ASE's optimisers, cell filter and molecular dynamics."""

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from ase.filters import FrechetCellFilter
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS, FIRE
from models import fitted_mo_model, random_model
from structures import open_cluster, random_triclinic

import lepot.potentials
from lepot.calculator import LepotCalculator, ModelFileError
from lepot.calculator.conventions import LAMMPS_VOIGT, to_voigt

SPECIES = ["Mo", "Nb", "W"]


@pytest.fixture(scope="module")
def model():
    return random_model(SPECIES, seed=11)


def sheared_cell():
    atoms = random_triclinic(SPECIES, 6, 4.4, seed=40)
    atoms.cell = atoms.cell.array @ np.array([[1.0, 0.0, 0.0], [0.35, 1.0, 0.0], [-0.2, 0.25, 1.0]])
    atoms.wrap()
    return atoms


def test_all_properties_from_one_evaluation(model, monkeypatch):
    atoms = sheared_cell()
    calculator = LepotCalculator(model)
    calls = []
    original = calculator.potential.compute
    monkeypatch.setattr(calculator.potential, "compute", lambda a, **options: calls.append(options) or original(a, **options))
    atoms.calc = calculator
    stresses = atoms.get_stresses()  # per-atom stresses are computed when asked for (as LAMMPS's vflag_atom) ...
    energy = atoms.get_potential_energy()  # ... and then everything else comes from the same evaluation
    assert atoms.get_potential_energy(force_consistent=True) == energy
    energies = atoms.get_potential_energies()
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    assert calls == [{"per_atom_virials": True}]
    assert energies.shape == (len(atoms),) and forces.shape == (len(atoms), 3)
    assert stress.shape == (6,) and stresses.shape == (len(atoms), 6)
    assert energies.sum() == pytest.approx(energy, rel=1e-13)
    np.testing.assert_allclose(stresses.sum(axis=0), stress, atol=1e-14)
    # the cache: same structure -> no new evaluation; a moved atom -> one
    atoms.get_forces()
    assert len(calls) == 1
    atoms.positions[0, 1] += 0.01
    atoms.get_forces()  # without per-atom virials: an MD step does not pay for them
    assert calls[1:] == [{"per_atom_virials": False}]


def test_stress_voigt_order_on_a_sheared_triclinic_cell(model):
    """Regression for the conversion helper: ASE's own finite-difference stress, in ASE's Voigt order."""
    atoms = sheared_cell()
    atoms.calc = LepotCalculator(model)
    numerical = calculate_numerical_stress(atoms, eps=1e-5, voigt=True)
    analytic = atoms.get_stress()
    assert np.max(np.abs(analytic - numerical)) <= 1e-6 * np.max(np.abs(numerical))
    # off-diagonal components are distinct on this cell, so a permuted order could not pass
    assert min(abs(analytic[3] - analytic[4]), abs(analytic[4] - analytic[5]), abs(analytic[3] - analytic[5])) > 1e-4


def test_lammps_voigt_order():
    matrix = np.array([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])
    np.testing.assert_array_equal(to_voigt(matrix, LAMMPS_VOIGT), [1, 2, 3, 6, 5, 4])


def test_forces_against_ase_finite_differences(model):
    atoms = open_cluster(SPECIES, 6, seed=41)
    atoms.calc = LepotCalculator(model)
    numerical = calculate_numerical_forces(atoms, eps=1e-5)
    assert np.max(np.abs(atoms.get_forces() - numerical)) <= 1e-6 * np.max(np.abs(numerical))


def test_stress_not_available_without_a_cell(model):
    atoms = open_cluster(SPECIES, 4, seed=42)
    atoms.calc = LepotCalculator(model)
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_calculators_do_not_share_state(model):
    implemented = LepotCalculator.implemented_properties
    first = LepotCalculator(model)
    second = LepotCalculator(random_model(SPECIES, seed=12))
    atoms_a, atoms_b = sheared_cell(), sheared_cell()
    atoms_a.calc, atoms_b.calc = first, second
    assert atoms_a.get_potential_energy() != atoms_b.get_potential_energy()
    assert LepotCalculator.implemented_properties == implemented
    assert first.results is not second.results


def test_model_from_path_and_from_shipped_name(model, tmp_path, monkeypatch):
    path = tmp_path / "Test.json"
    model.save(path)
    atoms = sheared_cell()
    atoms.calc = LepotCalculator(str(path))
    energy = atoms.get_potential_energy()
    monkeypatch.setattr(lepot.potentials, "DIRECTORY", tmp_path)
    assert lepot.potentials.available() == ["Test"]
    atoms.calc = LepotCalculator("Test")
    assert atoms.get_potential_energy() == energy
    with pytest.raises(ValueError, match=r"neither a parameter file nor a shipped potential.*shipped: Test"):
        LepotCalculator("Unobtainium")
    with pytest.raises(ValueError, match="does not exist"):
        LepotCalculator(str(tmp_path / "missing.json"))


def test_bad_file_error_reaches_the_user(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "lepot-potential", "format_version": 1')
    with pytest.raises(ModelFileError, match="broken.json: not valid JSON"):
        LepotCalculator(path)


def test_species_not_in_the_model(model):
    atoms = Atoms("MoCu", positions=[[0, 0, 0], [2.3, 0, 0]])
    atoms.calc = LepotCalculator(model)
    with pytest.raises(ValueError, match="Cu not in this basis"):
        atoms.get_potential_energy()


def rattled_mo(repeat=2, seed=0, a=3.16):
    atoms = bulk("Mo", "bcc", a=a, cubic=True).repeat(repeat)
    atoms.rattle(0.05, seed=seed)
    return atoms


@pytest.mark.parametrize("optimizer", [BFGS, FIRE])
def test_position_relaxation_converges(optimizer):
    atoms = rattled_mo()
    atoms.calc = LepotCalculator(fitted_mo_model())
    assert optimizer(atoms, logfile=None).run(fmax=1e-3, steps=500)
    assert np.abs(atoms.get_forces()).max() < 1e-3


def test_cell_relaxation_with_frechet_filter_converges():
    atoms = rattled_mo(a=3.25)
    atoms.calc = LepotCalculator(fitted_mo_model())
    cell_filter = FrechetCellFilter(atoms)
    assert BFGS(cell_filter, logfile=None).run(fmax=1e-3, steps=500)
    assert np.abs(atoms.get_stress()).max() * atoms.get_volume() / len(atoms) < 1e-3 * 3.2  # |σ| V/N < fmax·a
    assert np.abs(atoms.get_forces()).max() < 1e-3


def test_nve_conserves_energy():
    """VelocityVerlet, 54-atom bcc Mo from 600 K (equipartition -> ~300 K), 1000 steps of 1 fs.

    Measured on the development machine: largest deviation of the total energy from its start
    0.019 meV/atom, linear drift 1e-4 meV/atom per ps. Bounds: 0.2 meV/atom and 0.01 meV/atom/ps.
    """
    atoms = rattled_mo(repeat=3, seed=1)
    atoms.rattle(0.02, seed=1)
    atoms.calc = LepotCalculator(fitted_mo_model())
    thermalize_momenta(atoms, temperature_K=600, rng=np.random.default_rng(2))
    Stationary(atoms)
    dynamics = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    totals = []
    dynamics.attach(lambda: totals.append(atoms.get_total_energy() / len(atoms)), interval=1)
    dynamics.run(1000)
    totals = np.array(totals)
    assert atoms.get_temperature() > 100  # it really moved
    assert np.abs(totals - totals[0]).max() < 2e-4
    slope_per_ps = np.polyfit(np.arange(len(totals)) * 1e-3, totals, 1)[0]
    assert abs(slope_per_ps) < 1e-5


def test_langevin_runs_and_thermalises():
    atoms = rattled_mo(repeat=2, seed=3)
    atoms.calc = LepotCalculator(fitted_mo_model())
    dynamics = Langevin(atoms, timestep=2.0 * units.fs, temperature_K=500, friction=0.05, fixcm=False, rng=np.random.default_rng(4))
    temperatures = []
    dynamics.attach(lambda: temperatures.append(atoms.get_temperature()), interval=10)
    dynamics.run(600)
    assert np.all(np.isfinite(atoms.positions))
    assert 250 < np.mean(temperatures[20:]) < 750
