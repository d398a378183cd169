"""Native tests of the header-only core (calculator/core), built with AddressSanitizer and
UndefinedBehaviorSanitizer and run as separate programs.

Each tests/native/test_<header>.cpp is a small C++ driver for one core header (see tests/native/check.hpp).
They cover the degenerate inputs the Python and LAMMPS front ends never produce on their own: no coupling
terms, a single radial channel, an empty neighbour list, an atom alone in a huge box, coincident atoms
(which the core must refuse), and byte-level mutations of a shipped parameter file. A sanitizer report
makes the program fail, and with it the test.
"""

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nlohmann_json
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "calculator" / "core"
NATIVE = ROOT / "tests" / "native"
DRIVERS = sorted(NATIVE.glob("test_*.cpp"))
FLAGS = ["-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all"]
# driver -> arguments (the parameter-file driver mutates the smallest shipped file and loads every one)
ARGUMENTS = {
    "test_parameter_file": ["150", str(ROOT / "potentials" / "NbMoTaW.json")]
    + [str(p) for p in sorted((ROOT / "potentials").glob("*.json"))],
}


# Drivers of the register-blocked kernels, also built for this machine's vector unit (-march=native, as the
# Python extension and the LAMMPS plugin are) and, where the CPU has it, for AVX2: the baseline build checks
# the two-lane registers and the portable transposition, these the four- and eight-lane ones (AVX-512: one
# register per block and its shuffles).
REGISTER_BLOCKED = ["test_simd_lanes", "test_cutoff_function", "test_radial_spline", "test_spherical_harmonics",
                    "test_couplings", "test_density_expansion", "test_potential_kernel", "test_descriptor_kernel",
                    "test_posterior"]
CPU_FLAGS = set(" ".join(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
                .split()) if Path("/proc/cpuinfo").exists() else set()
TARGETS = {"native": ["-march=native"]} | ({"avx2": ["-mavx2", "-mfma"]} if {"avx2", "fma"} <= CPU_FLAGS else {})
BUILDS = [(p, p.stem, []) for p in DRIVERS] + [(NATIVE / f"{name}.cpp", f"{name}[{target}]", flags)
                                               for target, flags in TARGETS.items() for name in REGISTER_BLOCKED]


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        pytest.fail(f"no C++ compiler `{compiler}` (the build needs one too; set CXX)")
    folder = tmp_path_factory.mktemp("native")
    includes = ["-I", str(CORE), "-I", str(nlohmann_json.get_include()), "-I", str(NATIVE)]

    def build(entry):
        source, name, extra = entry
        target = folder / name.replace("[", "_").replace("]", "")
        completed = subprocess.run([compiler, *FLAGS, *extra, *includes, str(source), "-o", str(target)],
                                   capture_output=True, text=True)
        return name, (target if completed.returncode == 0 else completed.stderr)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(build, BUILDS))


def test_every_core_header_has_a_native_driver():
    included = "".join(p.read_text() for p in DRIVERS + [NATIVE / "small_basis.hpp"])
    missing = [h.name for h in sorted(CORE.glob("*.hpp")) if f'#include "{h.name}"' not in included]
    assert not missing, f"core headers without a native test: {missing}"


@pytest.mark.parametrize("driver", [name for _, name, _ in BUILDS])
def test_native_driver_under_sanitizers(programs, driver):
    program = programs[driver]
    assert isinstance(program, Path), f"{driver} did not compile:\n{program[-4000:]}"
    environment = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:halt_on_error=1",
                       UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    arguments = ARGUMENTS.get(driver.split("[")[0], [])
    completed = subprocess.run([str(program), *arguments], capture_output=True, text=True,
                               env=environment, timeout=600)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert "all checks passed" in completed.stdout
