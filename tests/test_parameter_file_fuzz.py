"""Fuzzing the parameter-file contract (about a minute): 2000 mutated copies of the shipped potentials,
the same cases for the ASE calculator and for the real LAMMPS with the plugin, run side by side.

Every case must end, in both front ends, in a clear refusal or in a valid load whose energy LAMMPS and
ASE agree on; the two front ends must take the same decision with the same message; neither may crash,
hang (a time limit) or keep growing in memory. The cases, and how each front end loads them, are in
tests/parameter_file_fuzz.py; byte-level mutations under the sanitizers are in tests/native.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

SEED = 2026
CASES = 2000
WORKER = Path(__file__).resolve().parent / "parameter_file_fuzz.py"
MEMORY_GROWTH_MB = 50  # resident memory may grow this much between case 100 and the last case


def run_workers(folder):
    """Both workers at once (two cores); returns {front end: (return code, output lines)}."""
    processes = {}
    for front_end in ("ase", "lammps"):
        output = folder / f"{front_end}.jsonl"
        log = open(folder / f"{front_end}.log", "w")
        processes[front_end] = (subprocess.Popen([sys.executable, str(WORKER), front_end, str(SEED), str(CASES), str(output)],
                                                 stdout=log, stderr=subprocess.STDOUT), output, log)
    results = {}
    for front_end, (process, output, log) in processes.items():
        try:
            code = process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "hang (no end within 600 s)"
        log.close()
        lines = [json.loads(line) for line in output.read_text().splitlines()] if output.exists() else []
        results[front_end] = (code, lines)
    return results


def test_mutated_files_are_refused_or_loaded_alike_by_both_front_ends(tmp_path):
    results = run_workers(tmp_path)
    for front_end, (code, lines) in results.items():
        last = lines[-1] if lines else None
        log = (tmp_path / f"{front_end}.log").read_text()[-3000:]
        assert code == 0, f"{front_end} worker failed ({code}) after case {last}:\n{log}"
        assert last and last.get("summary") and last["cases"] == CASES
        growth = last["rss_end_mb"] - last["rss_after_100_mb"]
        assert growth < MEMORY_GROWTH_MB, f"{front_end}: resident memory grew {growth:.0f} MB over the cases"
    ase, lammps = results["ase"][1][:-1], results["lammps"][1][:-1]
    assert len(ase) == len(lammps) == CASES
    disagreements = []
    accepted = 0
    for a, b in zip(ase, lammps):
        if a["outcome"] != b["outcome"] or a.get("category") != b.get("category"):
            disagreements.append((a, b))
        elif a["outcome"] == "refused":
            assert a["category"] in ("file", "species"), f"refused by something other than the reader: {a}, {b}"
            if a["category"] == "file" and a["message"] != b["message"]:
                disagreements.append((a, b))
        else:
            accepted += 1
            both_finite = math.isfinite(a["energy"]) and math.isfinite(b["energy"])
            if both_finite and abs(a["energy"] - b["energy"]) > 1e-9 * max(1.0, abs(a["energy"])):
                disagreements.append((a, b))
            if not both_finite and (math.isfinite(a["energy"]) or math.isfinite(b["energy"])):
                disagreements.append((a, b))
    assert not disagreements, "front ends disagree:\n" + "\n".join(f"ASE {a}\nLAMMPS {b}" for a, b in disagreements[:10])
    # the mix is meaningful: many refusals and many valid loads
    assert 0.1 * CASES < accepted < 0.9 * CASES
