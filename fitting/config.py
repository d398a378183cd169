"""Fit configuration: a YAML file or the same nested dict from Python, validated strictly.

Unknown keys anywhere are errors. Relative paths are relative to the config file's folder (for a dict,
to ``base_directory``). Annotated examples: examples/fit_Mo_fast.yaml (the defaults below) and
examples/fit_Si.yaml (the recommended accurate settings). Every key and default:

    species: [Mo]                       # required: the elements of the model
    data:
      train: path or glob or list       # required
      test: path/glob/list or null      # reported, never fitted
      validation: path/glob/list/null   # if null: validation_fraction of train, chosen by seed
      validation_fraction: 0.1
      energy_key / forces_key / stress_key: null   # null: the calculator results in the files
      config_type_key: config_type
    model:
      cutoff: 5.0                       # Å
      cutoff_width: 1.0                 # Å, shifted-cosine switching width
      n_max: 8                          # LE size (see docs/descriptors.md)
      l_max: 6
      body_order: 2
      budgets: null                     # {3: Σε, 4: Σε, 5: Σε}, truncation of body orders 3-5 (see couplings)
      l_max_by_order: null              # {3: l, 4: l, 5: l}: highest l of the factors of body orders 3-5
      compression: null                 # pseudo-elements K (alchemical compression); null: one per element
      compression_per_channel: false    # a separate embedding for each radial index n (tensor-reduced)
      learn_embedding: null             # or {structures: 200, iterations: 30}: optimise the embedding
                                        #   jointly with the weights (fitting/embedding_learning.py)
      centre_weights: species           # species: weights per centre species; compressed: through the
                                        #   embedding (weight columns independent of the species count)
      minimal_basis: null               # or {neighbours: 30, environments: 2, seed: 0}: keep only the
                                        #   functionally independent invariants (calculator/minimal_basis.py)
      prune: null                       # or {max_terms: 60000, step: 0.12}: after the fit, drop body-order >= 3
                                        #   invariants by importance per cost and refit (fitting/pruning.py)
      reference_energies: fit           # "fit" (one E0 per species), or {El: E0 in eV}
      core_repulsion: auto              # auto: every species pair handed over to ZBL below its shortest
                                        #   training distance (fitting/core_radii.py); null: none; or
                                        #   {r_inner: Å, r_outer: Å} for all pairs, optionally
                                        #   pairs: {"Mo-W": {r_inner: .., r_outer: ..}} overriding it
    weights:                            # multiply rows; an absent target needs weight 0
      energy: 100.0                     # per (eV/atom)
      forces: 1.0                       # per (eV/Å)
      stress: 1.0                       # per (eV/atom of virial)
      config_types: {}                  # {type: {energy: factor, forces: factor, stress: factor}}
    solver:
      regularisation: gcv               # gcv | validation | a fixed number (relative ridge strength)
      tolerance: 0.01                   # take the largest λ whose criterion is within this of its minimum
      chunk_size: 32                    # structures per design-matrix block (bounds memory)
      memory_limit: null                # GiB the fit may use on this node, shared by its MPI ranks; null: what
                                        #   the machine has available. The peak is estimated first (fitting/memory.py)
      seed: 0
    output:
      model: model.json                 # required
      report: null                      # markdown report; default <model>.md
      parity_plot: null                 # PNG; default <model>_parity.png
"""

import copy
import os
from dataclasses import dataclass

PRUNE_STEP = 0.12  # fraction of the remaining body-order >= 3 invariants dropped per pruning round

DEFAULTS = {
    "species": None,
    "data": {
        "train": None,
        "test": None,
        "validation": None,
        "validation_fraction": 0.1,
        "energy_key": None,
        "forces_key": None,
        "stress_key": None,
        "config_type_key": "config_type",
    },
    "model": {
        "cutoff": 5.0,
        "cutoff_width": 1.0,
        "n_max": 8,
        "l_max": 6,
        "body_order": 2,
        "budgets": None,
        "l_max_by_order": None,
        "compression": None,
        "compression_per_channel": False,
        "learn_embedding": None,
        "centre_weights": "species",
        "minimal_basis": None,
        "prune": None,
        "reference_energies": "fit",
        "core_repulsion": "auto",
    },
    "weights": {"energy": 100.0, "forces": 1.0, "stress": 1.0, "config_types": {}},
    "solver": {"regularisation": "gcv", "tolerance": 0.01, "chunk_size": 32, "memory_limit": None, "seed": 0},
    "output": {"model": None, "report": None, "parity_plot": None},
}
REQUIRED = (("species",), ("data", "train"), ("output", "model"))


class ConfigError(ValueError):
    """An invalid fit configuration; the message names the key."""


@dataclass
class FitConfig:
    """A validated configuration (nested dict ``values``) and the folder relative paths refer to."""

    values: dict
    base_directory: str

    def __getitem__(self, key):
        return self.values[key]

    def path(self, value):
        """Absolute path of a config path value."""
        return os.path.normpath(os.path.join(self.base_directory, os.path.expanduser(str(value))))

    def to_dict(self):
        return copy.deepcopy(self.values)


def load_config(path):
    """Read and validate a YAML config file."""
    import yaml

    try:
        with open(path) as handle:
            values = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    return make_config(values, os.path.dirname(os.path.abspath(path)), source=str(path))


def make_config(values, base_directory=".", source="config"):
    """Validate a nested dict against DEFAULTS and fill in defaults."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections")
    merged = _merge(DEFAULTS, values, source, ())
    for key_path in REQUIRED:
        value = merged
        for key in key_path:
            value = value[key]
        if value is None:
            raise ConfigError(f"{source}: '{'.'.join(key_path)}' is required")
    _check_values(merged, source)
    return FitConfig(merged, os.path.abspath(base_directory))


def _merge(defaults, values, source, where):
    result = copy.deepcopy(defaults)
    for key, value in values.items():
        if key not in defaults:
            dotted = ".".join(where + (str(key),))
            known = ", ".join(sorted(defaults))
            raise ConfigError(f"{source}: unknown key '{dotted}' (known here: {known})")
        if isinstance(defaults[key], dict) and defaults[key] and key != "config_types":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{'.'.join(where + (key,))}' must be a mapping")
            result[key] = _merge(defaults[key], value, source, where + (key,))
        else:
            result[key] = value
    return result


def _check_values(config, source):
    def fail(key, message):
        raise ConfigError(f"{source}: '{key}' {message}")

    species = config["species"]
    if isinstance(species, str):
        species = config["species"] = [species]
    if not isinstance(species, list) or not all(isinstance(s, str) for s in species) or not species:
        fail("species", "must be a list of element symbols")
    model = config["model"]
    for key in ("cutoff", "cutoff_width"):
        if not isinstance(model[key], (int, float)) or model[key] <= 0:
            fail(f"model.{key}", f"must be a positive number of Å, got {model[key]!r}")
    for key, minimum in (("n_max", 1), ("l_max", 0), ("body_order", 1)):
        if not isinstance(model[key], int) or model[key] < minimum:
            fail(f"model.{key}", f"must be an integer >= {minimum}, got {model[key]!r}")
    budgets = model["budgets"]
    if budgets is not None and (
        not isinstance(budgets, dict)
        or not all(int(k) in (3, 4, 5) and isinstance(v, (int, float)) and v > 0 for k, v in budgets.items())
    ):
        fail("model.budgets", "must be null or a mapping {3|4|5: positive number}")
    l_max_by_order = model["l_max_by_order"]
    if l_max_by_order is not None and (
        not isinstance(l_max_by_order, dict)
        or not all(
            str(k) in ("3", "4", "5") and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= model["l_max"]
            for k, v in l_max_by_order.items()
        )
    ):
        fail("model.l_max_by_order", f"must be null or a mapping {{3|4|5: integer from 0 to l_max ({model['l_max']})}}")
    if model["body_order"] > 5:
        fail("model.body_order", f"must be at most 5, got {model['body_order']}")
    if model["compression"] is not None and (
        not isinstance(model["compression"], int) or not 1 <= model["compression"] <= len(species)
    ):
        fail("model.compression", f"must be null or an integer from 1 to {len(species)} (the species), got {model['compression']!r}")
    minimal = model["minimal_basis"]
    if minimal is not None and (not isinstance(minimal, dict) or not set(minimal) <= {"neighbours", "environments", "seed"}):
        fail("model.minimal_basis", "must be null or a mapping with keys among neighbours, environments, seed")
    prune = model["prune"]
    if prune is not None:
        if not isinstance(prune, dict) or "max_terms" not in prune or not set(prune) <= {"max_terms", "step"}:
            fail("model.prune", "must be null or a mapping {max_terms: integer, step: fraction (default 0.12)}")
        if not isinstance(prune["max_terms"], int) or isinstance(prune["max_terms"], bool) or prune["max_terms"] < 0:
            fail("model.prune.max_terms", f"must be a non-negative integer, got {prune['max_terms']!r}")
        step = prune.setdefault("step", PRUNE_STEP)
        if not isinstance(step, (int, float)) or isinstance(step, bool) or not 0 < step < 1:
            fail("model.prune.step", f"must be a fraction between 0 and 1, got {step!r}")
        if model["body_order"] < 3:
            fail("model.prune", "prunes body order >= 3 invariants; needs model.body_order >= 3")
    if not isinstance(model["compression_per_channel"], bool):
        fail("model.compression_per_channel", "must be true or false")
    learn = model["learn_embedding"]
    if learn is not None:
        if not isinstance(learn, dict) or not set(learn) <= {"structures", "iterations"}:
            fail("model.learn_embedding", "must be null or a mapping with keys among structures, iterations")
        for key, value in learn.items():
            if not isinstance(value, int) or value < 1:
                fail(f"model.learn_embedding.{key}", f"must be a positive integer, got {value!r}")
        if model["compression"] is None:
            fail("model.learn_embedding", "needs model.compression (the number of pseudo-elements K)")
    if model["centre_weights"] not in ("species", "compressed"):
        fail("model.centre_weights", f"must be 'species' or 'compressed', got {model['centre_weights']!r}")
    if model["centre_weights"] == "compressed" and model["compression"] is None:
        fail("model.centre_weights", "'compressed' needs model.compression (the number of pseudo-elements K)")
    reference = model["reference_energies"]
    if reference != "fit":
        if not isinstance(reference, dict) or set(reference) != set(species):
            fail("model.reference_energies", f"must be 'fit' or a mapping with one energy (eV) per species {species}")
        if not all(isinstance(v, (int, float)) for v in reference.values()):
            fail("model.reference_energies", "must map each species to a number (eV)")
    core = model["core_repulsion"]
    if core is not None and core != "auto":
        if not isinstance(core, dict) or not set(core) <= {"r_inner", "r_outer", "pairs"}:
            fail("model.core_repulsion", "must be 'auto', null or {r_inner, r_outer[, pairs]}")
    weights = config["weights"]
    for key in ("energy", "forces", "stress"):
        if not isinstance(weights[key], (int, float)) or weights[key] < 0:
            fail(f"weights.{key}", f"must be a number >= 0, got {weights[key]!r}")
    if not isinstance(weights["config_types"], dict):
        fail("weights.config_types", "must be a mapping {config_type: {energy, forces, stress}}")
    for name, factors in weights["config_types"].items():
        if not isinstance(factors, dict) or not set(factors) <= {"energy", "forces", "stress"}:
            fail(f"weights.config_types.{name}", "must be a mapping with keys among energy, forces, stress")
        for key, value in factors.items():
            if not isinstance(value, (int, float)) or value < 0:
                fail(f"weights.config_types.{name}.{key}", f"must be a number >= 0, got {value!r}")
    solver = config["solver"]
    regularisation = solver["regularisation"]
    if regularisation not in ("gcv", "validation") and not (isinstance(regularisation, (int, float)) and regularisation >= 0):
        fail("solver.regularisation", f"must be 'gcv', 'validation' or a number >= 0, got {regularisation!r}")
    if not isinstance(solver["tolerance"], (int, float)) or solver["tolerance"] < 0:
        fail("solver.tolerance", f"must be a number >= 0, got {solver['tolerance']!r}")
    if not isinstance(solver["chunk_size"], int) or solver["chunk_size"] < 1:
        fail("solver.chunk_size", f"must be a positive integer, got {solver['chunk_size']!r}")
    limit = solver["memory_limit"]
    if limit is not None and (not isinstance(limit, (int, float)) or isinstance(limit, bool) or not limit > 0):
        fail("solver.memory_limit", f"must be null or a positive number of GiB, got {limit!r}")
    if not isinstance(solver["seed"], int):
        fail("solver.seed", f"must be an integer, got {solver['seed']!r}")
    fraction = config["data"]["validation_fraction"]
    if not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        fail("data.validation_fraction", f"must be in [0, 1), got {fraction!r}")
    if regularisation == "validation" and config["data"]["validation"] is None and fraction == 0:
        fail("solver.regularisation", "is 'validation' but there is no validation data")
