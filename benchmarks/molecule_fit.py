"""A three-element molecule, fitted as a new user would: rMD17 ethanol (examples/data/ethanol), wall time,
peak memory and errors of `lepot fit` for a few configs, on 2 cores.

    .venv/bin/python benchmarks/molecule_fit.py

Configs (each `lepot fit --quiet` in its own process, OMP_NUM_THREADS=2; peak memory = that process's maximum
resident set size, from wait4):
- minimal: species and data only (the library defaults: body order, tensor reduction, compression and core
  repulsion auto — the handover 10 % below the data, since no structure is periodic);
- minimal + {shortest_fraction: 1}: the handover at the data's shortest distance, as auto does for periodic
  data (docs/core-repulsion.md);
- examples/fit_ethanol.yaml: the recommended molecule setting.
Errors: MAE on the validation split (10 % of train, seed 0) and on the 1000 test structures, energy per
atom and per molecule (9 atoms), forces per component.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "ethanol"
MINIMAL = {"species": ["C", "H", "O"], "data": {"train": str(DATA / "train.extxyz"), "test": str(DATA / "test.extxyz")}}


def configs():
    at_the_data = json.loads(json.dumps(MINIMAL))
    at_the_data["model"] = {"core_repulsion": {"shortest_fraction": 1.0}}
    recommended = yaml.safe_load((ROOT / "examples" / "fit_ethanol.yaml").read_text())
    for split in ("train", "test"):
        recommended["data"][split] = str((ROOT / "examples" / recommended["data"][split]).resolve())
    return {"minimal (library defaults)": MINIMAL, "minimal + shortest_fraction 1": at_the_data,
            "examples/fit_ethanol.yaml": recommended}


def run(config, folder):
    config = dict(config, output={"model": str(Path(folder) / "model.json")})
    path = Path(folder) / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    child = subprocess.Popen([str(Path(sys.executable).parent / "lepot"), "fit", "--quiet", str(path)],
                             env=dict(os.environ, OMP_NUM_THREADS="2"))
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak resident memory
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"lepot fit failed ({child.returncode}) on {path}")
    seconds = time.perf_counter() - start
    peak_gib = usage.ru_maxrss / 2**20
    errors = json.loads((Path(folder) / "model.json").read_text())["metadata"]["fit"]["errors"]
    return seconds, peak_gib, errors


def main():
    print(machine_line())
    print("| config | fit s | peak GiB | validation E MAE meV/atom (meV/molecule) | validation F MAE eV/Å "
          "| test E MAE meV/atom (meV/molecule) | test F MAE eV/Å | test F RMSE eV/Å |")
    print("|---|---|---|---|---|---|---|---|")
    for name, config in configs().items():
        with tempfile.TemporaryDirectory() as folder:
            seconds, peak, errors = run(config, folder)
        v, t = errors["validation"]["all"], errors["test"]["all"]
        ve, te = v["energy_meV_per_atom"]["mae"], t["energy_meV_per_atom"]["mae"]
        print(f"| {name} | {seconds:.0f} | {peak:.2f} | {ve:.2f} ({9 * ve:.1f}) | {v['forces_eV_per_A']['mae']:.4f} "
              f"| {te:.2f} ({9 * te:.1f}) | {t['forces_eV_per_A']['mae']:.4f} | {t['forces_eV_per_A']['rmse']:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
