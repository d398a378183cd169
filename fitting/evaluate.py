"""`lepot eval MODEL DATA...`: the error table of any model on any data, as in fit reports."""

from lepot.calculator.ase import resolve_model

from .data import TargetKeys, check_species, expand_paths, read_structures
from .metrics import error_table, format_tables, predict


def evaluate(model, patterns, keys=None):
    """{file: error table} for each file matching ``patterns`` (targets read as ``keys`` say, default
    the files' calculator results)."""
    keys = TargetKeys() if keys is None else keys
    model = resolve_model(model)
    tables = {}
    for path in expand_paths(patterns):
        structures = read_structures(path, keys)
        check_species(structures, model.species)
        tables[path] = error_table(predict(model, structures))
    return tables


def run_eval(model, patterns, energy_key=None, forces_key=None, stress_key=None):
    tables = evaluate(model, patterns, TargetKeys(energy_key, forces_key, stress_key))
    return format_tables(tables)
