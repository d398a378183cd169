"""The peak memory of a fit, estimated before anything large is allocated, and a clear refusal when the
machine does not have it.

The design is reduced to the triangular factor R_aug of [X | y], (n+1)² doubles for n columns, by folding
in the rows of chunk_size structures at a time (lepot.fitting.design); the ridge solve takes an SVD of R
(lepot.fitting.solver). Measured with this project's solver (benchmarks/fit_memory.py, numbers in
benchmarks/RESULTS.md), the peak is at most about

    8 bytes × [ FACTOR_COPIES (n+1)² + ROW_COPIES m (n+1) ]      (+ one more (n+1)² with validation data)

for m rows in the largest chunk: the factor, its copy for the QR of the stacked block, the SVD's R/scale,
U, Vᵀ and LAPACK workspace; and the chunk rows, their stacked copy and the QR's copy. To that the largest
structure's descriptor gradients are added ([n_samples][3][n_features] and its [n_atoms][3][n_columns]
force rows). The estimate is compared with the memory the machine has available now (MemAvailable, and the
cgroup limit when one is set) or with solver.memory_limit, divided among the MPI ranks (each rank holds its
own factor; the ranks are assumed to share one node).
"""

from pathlib import Path

import numpy as np

from lepot.calculator.couplings import count_features
from lepot.calculator.neighbours import neighbour_pairs

from .config import ConfigError

FACTOR_COPIES = 10.0
ROW_COPIES = 4.0
GIB = 2.0**30


def readable(size):
    """Bytes as GiB (>= 1 GiB) or MiB."""
    return f"{size / GIB:.1f} GiB" if size >= GIB else f"{size / 2**20:.0f} MiB"


class FitMemoryError(ConfigError):
    """The fit would need more memory than there is; the message gives the estimate and settings that fit."""


def peak_bytes(n_columns, chunk_rows, extra_factors=0, gradient_bytes=0):
    """Estimated peak bytes of the design and solve (see the module docstring); extra_factors: triangular
    factors held besides the training one (1 for a validation split, folds + 1 for cross-validation)."""
    size = n_columns + 1.0
    copies = FACTOR_COPIES + float(extra_factors)
    return 8.0 * (copies * size * size + ROW_COPIES * chunk_rows * size) + gradient_bytes


def available_bytes():
    """Memory available to this process now: MemAvailable, lowered to the cgroup (v2) limit if one is set."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = float(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            headroom = float(limit) - used
            available = headroom if available is None else min(available, headroom)
    except (OSError, ValueError):
        pass
    return available


def rows_per_structure(structure, need):
    """Rows one structure adds (energy 1, forces 3N, stress 6, for the targets with non-zero weight)."""
    n_atoms = len(structure.atoms)
    return int(need["energy"]) + 3 * n_atoms * int(need["forces"]) + 6 * int(need["stress"])


AUTO_CHUNK_MINIMUM = 32  # structures
AUTO_CHUNK_ROWS_PER_COLUMN = 0.5


def automatic_chunk_size(structures, n_columns, need):
    """Structures per chunk for solver.chunk_size 'auto': at least AUTO_CHUNK_MINIMUM, and enough that a chunk
    holds about AUTO_CHUNK_ROWS_PER_COLUMN × n_columns rows. Each chunk re-factorises the (n+1)² triangle
    (2 n² (n + rows) flops), so chunks much shorter than n rows make the reduction cost grow with their
    number: rMD17 ethanol (28 rows per molecule) with 7 188 columns took 29 chunks of 32 molecules. Half
    as many rows as columns keeps the rows' memory (ROW_COPIES m n) below half the factor's."""
    if not structures:
        return AUTO_CHUNK_MINIMUM
    mean_rows = max(float(np.mean([rows_per_structure(s, need) for s in structures])), 1.0)
    return max(AUTO_CHUNK_MINIMUM, int(np.ceil(AUTO_CHUNK_ROWS_PER_COLUMN * n_columns / mean_rows)))


def largest_chunk_rows(structures, chunk_size, need):
    """Rows of the chunk_size largest structures: an upper bound on the rows of any chunk."""
    rows = sorted((rows_per_structure(s, need) for s in structures), reverse=True)
    return int(sum(rows[:chunk_size]))


def gradient_bytes(structures, cutoff, n_features, n_columns, need):
    """Descriptor gradients and force rows of the largest structure (bytes); 0 without force or stress rows."""
    if not structures or not (need["forces"] or need["stress"]):
        return 0.0
    largest = max(structures, key=lambda s: len(s.atoms)).atoms
    pairs = neighbour_pairs(largest.positions, largest.cell.array, largest.pbc, cutoff)
    n_samples = len(largest) + pairs.n_pairs
    return 8.0 * 3 * (n_samples * n_features + len(largest) * n_columns)


def check_fit_memory(n_columns, chunk_rows, extra_factors, gradient, limit_gib=None, ranks=1, alternatives=None):
    """Refuse (FitMemoryError) a fit whose estimated peak exceeds the memory available per rank.

    alternatives: a callable returning groups of [(setting, n_columns)], each group ordered from the
    smallest change to the largest; called only when refusing, it suggests the first entry of each group
    that fits. Returns the estimate in bytes."""
    estimate = peak_bytes(n_columns, chunk_rows, extra_factors, gradient)
    if limit_gib is not None:
        available, source = float(limit_gib) * GIB, f"solver.memory_limit ({limit_gib} GiB)"
    else:
        available, source = available_bytes(), "this machine's available memory"
    if available is None:
        return estimate
    per_rank = available / ranks
    if estimate <= per_rank:
        return estimate
    suggestions = []
    for group in alternatives() if alternatives else []:
        for setting, columns in group:
            needed = peak_bytes(columns, chunk_rows, extra_factors, gradient * columns / max(n_columns, 1))
            if needed <= per_rank:
                suggestions.append(f"{setting} ({columns:,} columns, about {readable(needed)})")
                break
    ranks_note = f" per MPI rank ({ranks} ranks)" if ranks > 1 else ""
    largest = int(np.floor(np.sqrt(max(per_rank / 8.0 - ROW_COPIES * chunk_rows * (n_columns + 1), 0.0) /
                                   (FACTOR_COPIES + extra_factors)))) - 1
    message = (
        f"the fit needs an estimated {readable(estimate)}{ranks_note} for {n_columns:,} columns "
        f"(the triangular factor and its solve grow as columns²; largest chunk {chunk_rows:,} rows), but "
        f"{source} gives {readable(per_rank)}{ranks_note}; at most about {max(largest, 0):,} columns fit. "
    )
    if suggestions:
        message += "Settings that fit, each on its own: " + "; ".join(suggestions) + ". "
    else:
        message += "None of the usual reductions (compression, smaller budgets, body order 2) fits: lower n_max or l_max. "
    message += ("model.prune does not lower this peak (it prunes after the full design is built); a smaller "
                "solver.chunk_size lowers only the rows' share.")
    raise FitMemoryError(message)


def smaller_settings(config, basis, fit_reference_energies):
    """Groups of (setting, n_columns) that shrink the design of ``basis`` under ``config``, each from the
    smallest change to the largest: fewer pseudo-elements, smaller budgets for body orders >= 3, body
    order 2 (the suggestions of check_fit_memory's refusal)."""
    model = config["model"]
    species = config["species"]
    radial = basis.radial
    eigenvalues = radial.eigenvalues()
    budgets = {int(k): float(v) for k, v in model["budgets"].items()}  # complete: resolved by the config
    limits = None if model["l_max_by_order"] is None else {int(k): v for k, v in model["l_max_by_order"].items()}
    extra = len(species) if fit_reference_energies else 0

    def columns(n_pseudo, body_order, order_budgets):
        n_centre = n_pseudo if model["centre_weights"] == "compressed" else len(species)
        return n_centre * count_features(radial.n_radial, n_pseudo, body_order, eigenvalues, order_budgets, limits) + extra

    groups = []
    n_pseudo = basis.n_pseudo
    if n_pseudo > 1:
        groups.append([(f"model.compression: {k}", columns(k, model["body_order"], budgets)) for k in range(n_pseudo - 1, 0, -1)])
    if model["body_order"] >= 3:
        scaled = []
        for factor in (0.9, 0.8, 0.7, 0.6, 0.5):
            smaller = {order: round(factor * value, 1) for order, value in budgets.items() if order <= model["body_order"]}
            scaled.append((f"model.budgets: {smaller}", columns(n_pseudo, model["body_order"], smaller)))
        groups.append(scaled)
        groups.append([("model.body_order: 2", columns(n_pseudo, 2, budgets))])
    return groups
