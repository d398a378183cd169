"""Density-kernel throughput: sustained GFLOP/s of lepot's density kernel against one core's FMA peak.

    .venv/bin/python benchmarks/density_kernel.py [FILE ...]     (default: the shipped Mo and Si files)

Compiles benchmarks/density_kernel.cpp against the core headers with the flags of the Python extension
(-O3 -march=native) and runs it on 64 rattled crystal environments (σ = 0.05 Å; bcc Mo a = 3.16 Å,
diamond Si a = 5.43 Å) with every pair inside the cutoff, one thread. It times

- the density kernel: everything the MD kernel does besides the polynomial — per pair the cutoff, the
  radial splines R and R', Y_lm and ∇Y_lm, the accumulation of A, and the force back-projection of a
  fixed adjoint h into ∂E/∂r_ij;
- the whole per-atom kernel (PotentialKernel::compute_atoms on all 64 environments at once: density,
  polynomial in blocks of 16 centres, back-projection), per atom;
- the energy polynomial alone (energy and adjoint) with 1, 4, 8, 16 and 32 centres evaluated at once.

Flops are counted, not measured, as the kernel is written (calculator/core/density_expansion.hpp,
spherical_harmonics.hpp, radial_spline.hpp and cutoff_function.hpp), per pair inside the cutoff, with
F radial functions (Σ_l n_l), L = l_max, Y = (L+1)² harmonics, P = (L+1)(L+2)/2 Legendre factors and
N = Σ_l n_l (2l+1) density channels of one pseudo-element:
    cutoff          54     (z and z² 4; sin z and cos z by their Taylor series 21 and 22; f_c and f_c' 3; the
                    handover product rule 4)
    spline          16 F + 1   (value by Horner 6 and the weight 1, derivative 6 and the product rule 3)
    unit vector     3
    harmonics       9 E + L + 6 L + 2 P + Y   (Q_l^m recursion and its u_z-derivative for the E entries with
                    l >= m+2, the first step l = m+1, the powers (x + iy)^m, the normalised factors q and q'
                    per (l, m >= 0), and Y = q φ per harmonic)
    accumulation    2 N    (A += R Y)
    back-projection 4 N + 6 Y + 18 L + 8 + 20   (H, H' per channel; three sums over l per harmonic; their
                    products with the phases per order m; the tangential projection and r̂ term once per pair)
A multiply-add counts as two flops. Divisions, square roots, the zero padding of the pair blocks (up to 7
pairs per species) and of the radial functions (to whole blocks of 8), the m = 0 terms that the kernel adds
as exact zeros, and data movement are not counted, so the GFLOP/s figure is a lower bound of the arithmetic
done. The peak is measured on the same core in the same run: twelve independent chains of 256-bit and of
512-bit FMAs, the better of the two. Each file is measured in RUNS separate processes and the fastest run is
reported (the machines are noisy).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nlohmann_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LATTICES = {"Mo": ("bcc", 3.16), "Si": ("diamond", 5.43)}
DEFAULT_FILES = ["Mo_fast.json", "Mo.json", "Si_fast.json", "Si.json"]
LANES = (1, 4, 8, 16, 32)  # centres per evaluate_lanes call in the polynomial table
RUNS = 3


def flops_per_pair(parameters):
    """Counted flops of the density kernel per inside pair (module docstring)."""
    n_radial = parameters["radial"]["n_radial"]
    l_max = len(n_radial) - 1
    functions = sum(n_radial)
    harmonics = (l_max + 1) ** 2
    legendre = (l_max + 1) * (l_max + 2) // 2
    channels = sum(n * (2 * l + 1) for l, n in enumerate(n_radial))
    recursion_entries = sum(max(0, l_max - m - 1) for m in range(l_max + 1))
    cutoff = 54
    spline = 16 * functions + 1
    unit_vector = 3
    harmonic_work = 9 * recursion_entries + l_max + 6 * l_max + 2 * legendre + harmonics
    accumulation = 2 * channels
    back_projection = 4 * channels + 6 * harmonics + 18 * l_max + 8 + 20
    return cutoff + spline + unit_vector + harmonic_work + accumulation + back_projection


def build(folder):
    program = Path(folder) / "density_kernel"
    command = [os.environ.get("CXX", "g++"), "-O3", "-march=native", "-fopenmp-simd", "-std=c++17",
               "-I", str(ROOT / "calculator" / "core"), "-I", nlohmann_json.get_include(),
               str(ROOT / "benchmarks" / "density_kernel.cpp"), "-o", str(program)]
    subprocess.run(command, check=True)
    return program


def measure(program, path):
    element = json.loads(Path(path).read_text())["species"][0]
    lattice, a = LATTICES[element]
    output = subprocess.run([str(program), str(path), lattice, str(a)], check=True, capture_output=True, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
    values = dict(item.split("=") for item in output.split())
    return {key: float(value) for key, value in values.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="parameter files (default: the shipped Mo and Si files)")
    arguments = parser.parse_args()
    files = [Path(f) for f in arguments.files] or [ROOT / "potentials" / name for name in DEFAULT_FILES]
    print(machine_line())
    print("| file | pairs/atom | monomials | density kernel ns/atom | ns/pair | GFLOP/s | % of FMA peak "
          "| whole atom ns | density share |")
    print("|---|---|---|---|---|---|---|---|---|")
    polynomials = []
    with tempfile.TemporaryDirectory() as folder:
        program = build(folder)
        for path in files:
            runs = [measure(program, path) for _ in range(RUNS)]
            result = min(runs, key=lambda run: run["density_ns"])
            result["atom_ns"] = min(run["atom_ns"] for run in runs)
            result["peak_gflops"] = max(run["peak_gflops"] for run in runs)
            flops = flops_per_pair(json.loads(path.read_text())) * result["pairs_per_atom"]
            gflops = flops / result["density_ns"]
            print(f"| {path.name} | {result['pairs_per_atom']:.1f} | {int(result['monomials'])} "
                  f"| {result['density_ns']:.0f} | {result['density_ns'] / result['pairs_per_atom']:.0f} "
                  f"| {gflops:.2f} | {100 * gflops / result['peak_gflops']:.1f} % | {result['atom_ns']:.0f} "
                  f"| {100 * result['density_ns'] / result['atom_ns']:.0f} % |")
            polynomials.append((path.name, int(result["monomials"]),
                                [min(run[f"polynomial_ns_{w}"] for run in runs) for w in LANES]))
    print(f"FMA peak measured on this core: {result['peak_gflops']:.1f} GFLOP/s")
    print()
    print("The energy polynomial alone, ns per atom, by the number of centres evaluated at once (lanes):")
    print("| file | monomials | " + " | ".join(f"{w} lane{'s' if w > 1 else ''}" for w in LANES) + " |")
    print("|---|---|" + "---|" * len(LANES))
    for name, monomials, times in polynomials:
        cells = " | ".join("-" if t < 0 else f"{t:.0f}" for t in times)
        print(f"| {name} | {monomials} | {cells} |")


if __name__ == "__main__":
    main()
