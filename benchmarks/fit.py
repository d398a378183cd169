"""Fitting cost: wall time, peak memory and design-matrix rows/s for the mlearn Mo training set.

    .venv/bin/python benchmarks/fit.py            (or: make bench; needs ../shared/data)

Runs `lepot fit` on examples/fit_Mo_fast.yaml's data and settings (194 structures, ~10k atoms, 172
features, energies + forces + stress rows) into a temporary folder, as 1 rank x 1 thread,
1 rank x 2 threads and `mpiexec -n 2` x 1 thread. Each run is a fresh process tree; peak memory is
the largest resident set of any process of the run (getrusage of the waited children).
Rows/s = design-matrix rows ÷ the time spent building and reducing them (from the fit report).
"""

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import machine_line, run_lepot_fit

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "mlearn" / "Mo"
RUNS = (("1 rank x 1 thread", 1, 1), ("1 rank x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1))


def worker(ranks, threads, folder):
    """Run one fit in a child process tree; print 'seconds peak_kib design_seconds rows'."""
    config = yaml.safe_load((ROOT / "examples" / "fit_Mo_fast.yaml").read_text())
    config["data"]["train"] = str(DATA / "train.extxyz")
    config["data"]["test"] = None
    config["output"] = {"model": str(Path(folder) / "Mo_fast.json")}
    start = time.perf_counter()
    run_lepot_fit(config, folder, ranks, threads)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = (Path(folder) / "Mo_fast.md").read_text()
    design = float(re.search(r"design matrix ([0-9.]+) s", report).group(1))
    rows = int(re.search(r"rows ([0-9]+);", report).group(1))
    print(seconds, peak, design, rows)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), os.environ["LEPOT_BENCH_FOLDER"])
        return
    if not (DATA / "train.extxyz").exists():
        sys.exit(f"benchmarks/fit.py needs the development data at {DATA}")
    print(machine_line())
    print("mlearn Mo training set (194 structures, 10087 atoms), examples/fit_Mo_fast.yaml settings (172 features)\n")
    print("| run | wall time (s) | design matrix (s) | rows | rows/s | peak memory per process (MiB) |")
    print("|---|---|---|---|---|---|")
    for label, ranks, threads in RUNS:
        with tempfile.TemporaryDirectory() as folder:
            output = subprocess.run([sys.executable, __file__, "--worker", str(ranks), str(threads)], check=True,
                                    capture_output=True, text=True, env=dict(os.environ, LEPOT_BENCH_FOLDER=folder)).stdout
        seconds, peak, design, rows = output.split()
        print(f"| {label} | {float(seconds):.1f} | {float(design):.1f} | {rows} | {int(rows) / float(design):.0f} "
              f"| {int(peak) / 1024:.0f} |")


if __name__ == "__main__":
    main()
