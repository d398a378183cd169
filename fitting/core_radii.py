"""Core-repulsion radii for `lepot fit`: from the training data (the default, `model.core_repulsion: auto`)
or from the config.

A fitted model knows nothing about distances shorter than any in its training data, and a polynomial in
the density can fall there without bound (the shipped potentials of the first release lost tens to
hundreds of eV below ~1 Å). So by default every species pair is handed over to ZBL
(lepot.calculator.CoreRepulsion) below the shortest distance of that pair in the fit's data:

    r_outer(a, b) = shortest a-b distance among the training and validation structures
    r_inner(a, b) = INNER_FRACTION · r_outer(a, b)

Nothing changes where there is data (no training or validation pair is closer than r_outer, so the
design matrix and every training and validation prediction are the same as without repulsion); below
r_inner only ZBL acts on the pair. Validation structures count because they are data too: with the
training structures alone, an Nb-Mo-Ta-W validation cell with a Ta-Ta contact 0.04 Å shorter than any
training one had its forces changed by the switch (Ta validation force RMSE +10 %). A pair that never
occurs in the data within the cutoff gets the smallest r_outer of the pairs that do.

With `{shortest_fraction: f}` the handover starts at f · r_outer instead (r_inner = INNER_FRACTION of
that). Molecules need it: the shortest distance of a bonded pair in an MD data set is a bond only slightly
compressed, and new MD samples fall just below it — into the switch, where the bond fades out of the
density and forces reach 10⁴ eV/Å (rMD17 ethanol, docs/core-repulsion.md). So `auto` uses
f = MOLECULE_SHORTEST_FRACTION (0.9) when no structure of the data is periodic (molecules and clusters), and
f = 1 otherwise (the shipped periodic potentials, unchanged). Why no validation split can choose f: its pairs
set the shortest distances too, and of n structures sampled from one MD each is the shortest with
probability 1/n, so a simulation longer than the data set crosses below the data's shortest bond whatever n
is. On rMD17 ethanol's training data 0.9 puts r_outer 0.14 Å below the shortest C–C bond, 2.9 standard
deviations (σ = 0.049 Å) below it and 5.5 σ below the mean bond (C–O, C–H, O–H: 2.5–3.7 σ below the shortest),
and it changes no training or validation prediction.

INNER_FRACTION = 0.8 was chosen on the training and validation data of the shipped potentials (mlearn
Mo and Si, the Nb-Mo-Ta-W elements and binaries), never on test data: it is the widest switching window
(smallest fraction, on a 0.1 grid) for which every dimer and trimer (equilateral and linear, every
species combination) of every shipped potential rises monotonically from the data's shortest distance
down to 0.5 Å; 0.7 leaves one Mo-Mo-W trimer of the Nb-Mo-Ta-W model non-monotonic (docs/core-repulsion.md).
tests/test_core_repulsion.py checks the shipped files.
"""

import itertools

import numpy as np

from lepot.calculator import CoreRepulsion
from lepot.calculator.neighbours import neighbour_pairs

from .config import ConfigError

INNER_FRACTION = 0.8
MOLECULE_SHORTEST_FRACTION = 0.9  # auto's shortest_fraction when no structure is periodic (module docstring)


def shortest_distances(structures, symbols, cutoff):
    """{(a, b): shortest distance (Å)} of each unordered species pair (in ``symbols`` order) within the cutoff."""
    index = {s: i for i, s in enumerate(symbols)}
    shortest = np.full((len(symbols), len(symbols)), np.inf)
    for structure in structures:
        atoms = structure.atoms
        pairs = neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, cutoff)
        if not pairs.n_pairs:
            continue
        species = np.array([index[s] for s in atoms.get_chemical_symbols()])
        a, b = species[pairs.centres], species[pairs.neighbours]
        np.minimum.at(shortest, (np.minimum(a, b), np.maximum(a, b)), np.linalg.norm(pairs.vectors, axis=1))
    return {
        (symbols[i], symbols[j]): float(shortest[i, j])
        for i, j in itertools.combinations_with_replacement(range(len(symbols)), 2)
        if np.isfinite(shortest[i, j])
    }


def automatic_core_repulsion(structures, symbols, cutoff, shortest_fraction=1.0):
    """CoreRepulsion of every species pair from the fit's (training and validation) structures (module
    docstring), and the measured shortest distances; r_outer = shortest_fraction × the shortest distance."""
    measured = shortest_distances(structures, symbols, cutoff)
    if not measured:
        raise ConfigError(
            "model.core_repulsion is 'auto', but no two atoms of the data are within the cutoff; "
            "give r_inner/r_outer or null"
        )
    fallback = min(measured.values())
    pairs = {}
    for a, b in itertools.combinations_with_replacement(symbols, 2):
        outer = shortest_fraction * measured.get((a, b), fallback)
        pairs[(a, b)] = (INNER_FRACTION * outer, outer)
    return CoreRepulsion(pairs), measured


def configured_core_repulsion(settings, symbols):
    """CoreRepulsion from explicit settings {r_inner, r_outer[, pairs: {"A-B": {r_inner, r_outer}}]}."""
    default = {k: settings[k] for k in ("r_inner", "r_outer") if k in settings}
    pairs = {}
    for i, a in enumerate(symbols):
        for b in symbols[i:]:
            pair = dict(default)
            for name in (f"{a}-{b}", f"{b}-{a}"):
                pair.update((settings.get("pairs") or {}).get(name, {}))
            if set(pair) != {"r_inner", "r_outer"}:
                raise ConfigError(f"'model.core_repulsion' gives no r_inner/r_outer for the pair {a}-{b}")
            pairs[(a, b)] = (float(pair["r_inner"]), float(pair["r_outer"]))
    return CoreRepulsion(pairs)


def automatic_shortest_fraction(structures):
    """The shortest_fraction of `core_repulsion: auto`: MOLECULE_SHORTEST_FRACTION when none of ``structures`` is
    periodic in any direction, else 1."""
    return 1.0 if any(structure.atoms.pbc.any() for structure in structures) else MOLECULE_SHORTEST_FRACTION


def summary_line(core_repulsion, measured, settings, shortest_fraction=None):
    """Report line: the radii used, and where they came from (``shortest_fraction``: the one auto used)."""
    if core_repulsion is None:
        return "core repulsion: none (model.core_repulsion: null)"
    if settings == "auto":
        which = "no structure periodic" if shortest_fraction < 1 else "periodic data"
        source = (f"auto ({which}): r_outer = {shortest_fraction:g} × the shortest distance of the pair in the "
                  f"training and validation data, r_inner = {INNER_FRACTION} r_outer")
    elif isinstance(settings, dict) and "shortest_fraction" in settings:
        source = (f"r_outer = {settings['shortest_fraction']:g} × the shortest distance of the pair in the training "
                  f"and validation data, r_inner = {INNER_FRACTION} r_outer")
    else:
        source = "from the config"
    pairs = "; ".join(
        f"{a}-{b} {inner:.3f}-{outer:.3f} Å" + ("" if measured is None or (a, b) in measured else " (pair not in the data)")
        for (a, b), (inner, outer) in core_repulsion.pairs.items()
    )
    return f"core repulsion (ZBL, model handed over between r_inner and r_outer; {source}): {pairs}"
