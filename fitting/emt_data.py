"""Labelled alloy data from ASE's EMT calculator, for many-element tests and scaling studies.

EMT (effective-medium theory, ase.calculators.emt) knows Al, Ni, Cu, Pd, Ag, Pt and Au. The structures
are random fcc solid solutions: a 2 × 2 × 2 conventional cell (32 atoms) with a random lattice parameter
(±3 % around the composition-weighted mean), a random small strain and rattled positions, labelled with
EMT energy (eV), forces (eV/Å) and stress (eV/Å³, ASE sign). Deterministic for a given seed.
"""

import numpy as np

from .data import Structure

EMT_ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")
FCC_LATTICE = {"Al": 4.05, "Ni": 3.52, "Cu": 3.61, "Pd": 3.89, "Ag": 4.09, "Pt": 3.92, "Au": 4.08}  # Å


def emt_alloy_structures(symbols, n_structures, seed, repeat=2, rattle=0.08):
    """``n_structures`` random fcc solid solutions of ``symbols`` (any of EMT_ELEMENTS), as Structures."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    unknown = [s for s in symbols if s not in EMT_ELEMENTS]
    if unknown:
        raise ValueError(f"EMT has no parameters for {', '.join(unknown)} (it knows {', '.join(EMT_ELEMENTS)})")
    rng = np.random.default_rng(seed)
    structures = []
    for index in range(n_structures):
        chosen = rng.choice(len(symbols), size=4 * repeat**3)
        a = np.mean([FCC_LATTICE[symbols[c]] for c in chosen]) * (1 + 0.03 * rng.uniform(-1, 1))
        atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat(repeat)
        atoms.set_chemical_symbols([symbols[c] for c in chosen])
        strain = np.eye(3) + 0.01 * rng.normal(size=(3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
        atoms.calc = EMT()
        structures.append(
            Structure(
                atoms=atoms.copy(),
                energy=float(atoms.get_potential_energy()),
                forces=atoms.get_forces(),
                stress=atoms.get_stress(voigt=False),
                config_type="-".join(sorted(set(atoms.get_chemical_symbols()))),
                source=f"emt:{index}",
            )
        )
    return structures
