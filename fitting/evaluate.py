"""`lepot eval MODEL DATA...`: the error table of any model on any data, as in fit reports; with
``--uncertainty`` also how well its uncertainties are calibrated there, and with ``--output`` the
structures written with their per-structure and per-atom uncertainties (docs/uncertainty.md)."""

import io

from lepot.calculator.ase import resolve_model
from lepot.calculator.model import write_file_atomically

from .data import TargetKeys, check_species, read_structures_by_file
from .metrics import error_table, format_tables, predict
from .uncertainty_eval import calibration_summary, format_summaries, structure_uncertainties


def evaluate(model, patterns, keys=None):
    """{file: error table} for each file matching ``patterns`` (optionally with an @slice, as in fit configs;
    targets read as ``keys`` say, default the files' calculator results)."""
    keys = TargetKeys() if keys is None else keys
    model = resolve_model(model)
    tables = {}
    for path, structures in read_structures_by_file(patterns, keys).items():
        check_species(structures, model.species)
        tables[path] = error_table(predict(model, structures))
    return tables


def evaluate_uncertainty(model, patterns, keys=None, forces=False):
    """({file: calibration_summary}, [ase.Atoms with the results]) for each file matching ``patterns``:
    every structure carries info "lepot_energy", "energy_uncertainty" (eV) and arrays "energies_uncertainty"
    (eV), "local_prediction_rigidity" (eV⁻²), "extrapolation_grade" (with ``forces`` also "lepot_forces" and
    "forces_uncertainty", eV/Å); info "source" names its file and index."""
    keys = TargetKeys() if keys is None else keys
    model = resolve_model(model)
    summaries, annotated = {}, []
    for path, structures in read_structures_by_file(patterns, keys).items():
        check_species(structures, model.species)
        records = structure_uncertainties(model, structures, forces=forces)
        summaries[path] = calibration_summary(records)
        for structure, record in zip(structures, records):
            atoms = structure.atoms.copy()
            atoms.info.update(source=structure.source, lepot_energy=record.energy,
                              energy_uncertainty=record.energy_uncertainty)
            atoms.arrays.update(energies_uncertainty=record.energies_uncertainty,
                                local_prediction_rigidity=record.local_prediction_rigidity,
                                extrapolation_grade=record.extrapolation_grade)
            if forces:
                atoms.arrays.update(lepot_forces=record.forces, forces_uncertainty=record.forces_uncertainty)
            annotated.append(atoms)
    return summaries, annotated


def write_extxyz_atomically(images, path):
    """ase.io.write of ``images`` as extxyz to ``path`` through a temporary file and a rename."""
    import ase.io

    text = io.StringIO()
    ase.io.write(text, images, format="extxyz")
    write_file_atomically(text.getvalue(), path)


def run_eval(model, patterns, energy_key=None, forces_key=None, stress_key=None, uncertainty=False, output=None,
             forces_uncertainty=False):
    keys = TargetKeys(energy_key, forces_key, stress_key)
    text = format_tables(evaluate(model, patterns, keys))
    if uncertainty or output or forces_uncertainty:
        summaries, annotated = evaluate_uncertainty(model, patterns, keys, forces=forces_uncertainty)
        text += "\n\nUncertainty (docs/uncertainty.md)\n\n" + format_summaries(summaries)
        if output:
            write_extxyz_atomically(annotated, output)
            text += f"\n\nwrote {len(annotated)} structures with their uncertainties to {output}"
    return text
