"""Fit configuration: a YAML file or the same nested dict from Python, validated strictly.

The top-level ``species`` (required: the elements of the model) and five sections, each a dataclass
below whose fields are its keys — with each default and its meaning written once, there:

    data:     DataSettings       the structure files and where the targets are
    model:    ModelSettings      the basis, compression, pruning, reference energies, core repulsion
    weights:  RowWeights         the weights of energy, force and stress rows
    solver:   SolverSettings     the ridge strength, chunk size, memory limit, seed
    output:   OutputSettings     where the parameter file, report and parity plot go

Unknown keys anywhere are errors, and every section checks its own values (``check``), naming the key.
Relative paths are relative to the config file's folder (for a dict, to ``base_directory``). Sections
read both as attributes and as items (``config.model.n_max`` or ``config["model"]["n_max"]``), and
``to_dict()`` gives the plain nested dict (recorded in the parameter file's metadata). Annotated
examples: examples/fit_Si.yaml (every default written out) and examples/fit_Mo_fast.yaml (body order 2).
"""

import copy
import os
from dataclasses import dataclass, field, fields

from lepot.calculator.couplings import DEFAULT_BUDGETS

PRUNE_STEP = 0.12  # fraction of the remaining body-order >= 3 invariants dropped per pruning round
DEFAULT_MAX_TERMS = 35000  # prune: auto — the coupling terms of the shipped Mo.json, which sets its MD cost
# The defaults of body order, ν = 3 budget (calculator.couplings.DEFAULT_BUDGETS) and energy weight were chosen on the validation splits of mlearn Mo
# and Si (benchmarks/default_settings.py, docs/fitting.md "How the defaults were chosen").
DEFAULT_BODY_ORDER = 3  # body_order: auto — this, unless several elements would need a slow compression at it
DEFAULT_ENERGY_WEIGHT = 60.0


class ConfigError(ValueError):
    """An invalid fit configuration; the message names the key."""


class Section:
    """A config section: item access by key, the plain-dict form, and construction from a user mapping."""

    def __getitem__(self, key):
        return getattr(self, key)

    def to_dict(self):
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_mapping(cls, values, name, source):
        """The section with ``values`` (a mapping) over its defaults."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: '{name}' must be a mapping")
        known = [f.name for f in fields(cls)]
        for key in values:
            if key not in known:
                raise ConfigError(f"{source}: unknown key '{name}.{key}' (known here: {', '.join(sorted(known))})")
        return cls(**copy.deepcopy(values))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def automatic_prune(body_order):
    """What `model.prune: auto` is at ``body_order``: DEFAULT_MAX_TERMS coupling terms from body order 3, else none."""
    return {"max_terms": DEFAULT_MAX_TERMS, "step": PRUNE_STEP} if body_order >= 3 else None


@dataclass
class DataSettings(Section):
    train: object = None  # required: a path, a glob, or a list of them (anything ase.io reads)
    test: object = None  # path/glob/list or null: reported, never fitted
    validation: object = None  # path/glob/list or null: then validation_fraction of train, chosen with solver.seed
    validation_fraction: float = 0.1
    validation_by_config_type: bool = False  # true: the fraction of every config_type (at least one of a group of 2+)
    energy_key: str = None  # null: energies from the files' calculator results; else atoms.info[key]
    forces_key: str = None  # null: the calculator's forces; else atoms.arrays[key]
    stress_key: str = None  # null: the calculator's stress; else atoms.info[key]
    config_type_key: str = "config_type"  # atoms.info key grouping structures in reports and weights

    def check(self, fail, config):
        for name in ("train", "test", "validation"):
            paths = getattr(self, name)
            if paths is None and name != "train":
                continue
            one_path = (str, os.PathLike)
            if not (isinstance(paths, one_path) or (isinstance(paths, list) and paths and all(isinstance(p, one_path) for p in paths))):
                fail(f"data.{name}", f"must be a path or glob, or a list of them, got {paths!r} (quote a name "
                     "that ends in ':', such as file.extxyz@100:, or YAML reads it as a key)")
        fraction = self.validation_fraction
        if not _number(fraction) or not 0 <= fraction < 1:
            fail("data.validation_fraction", f"must be in [0, 1), got {fraction!r}")
        if not isinstance(self.validation_by_config_type, bool):
            fail("data.validation_by_config_type", f"must be true or false, got {self.validation_by_config_type!r}")


@dataclass
class ModelSettings(Section):
    cutoff: float = 5.0  # Å
    cutoff_width: float = 1.0  # Å, shifted-cosine switching width below the cutoff
    n_max: int = 8  # LE size: every (n, l) with z_nl² <= (n_max π)² and l <= l_max (docs/descriptors.md)
    l_max: int = 6
    body_order: object = "auto"  # highest ν of the invariants, 1..5; auto: 3, or 2 when several elements would
    #                              need a compression at 3 that is slow to learn (automatic_compression)
    budgets: dict = None  # {3: Σε, 4: Σε, 5: Σε}: truncation of body orders 3-5; the orders not given take
    #                       lepot.calculator.couplings.DEFAULT_BUDGETS (ν = 3 70, ν = 4 30, ν = 5 20)
    l_max_by_order: dict = None  # {3: l, 4: l, 5: l}: highest l of the factors of body orders 3-5
    compression: object = "auto"  # pseudo-elements K (alchemical compression); null: one per element; auto:
    #                               one per element while the fit stays within its cost, else the largest K that
    #                               does (fitting/automatic_compression.py: learned, per channel, compressed centres)
    compression_per_channel: bool = None  # a separate embedding for each radial index n (tensor-reduced); null:
    #                                       false, or true when auto compresses
    learn_embedding: dict = None  # or {structures: 200, iterations: 30}: optimise the embedding jointly
    tensor_reduction: object = "auto"  # or {channels: K, from_body_order: 3, diagonal: false, learn: null}:
    #                                products of ν >= from_body_order of K_l = min(K, n_pseudo n_l) principal-
    #                                component channels per l (diagonal: all factors of one product share k; learn:
    #                                {structures: 60, iterations: 20} refines them by variable projection); null:
    #                                none; auto: {channels: 6 or 4, from_body_order: 2} when several elements'
    #                                element-resolved body order >= 3 is over its cost, else null (automatic_compression)
    centre_weights: str = None  # species: weights per centre species; compressed: through the embedding; null:
    #                             species, or compressed when auto compresses
    minimal_basis: dict = None  # or {neighbours: 30, environments: 2, seed: 0}: functionally independent only
    prune: object = "auto"  # or {max_terms: 60000, step: 0.12}: drop body-order >= 3 invariants after the fit;
    #                         auto: {max_terms: 35000} with body order >= 3, else nothing; null: never
    reference_energies: object = "fit"  # "fit" (one E0 per species), or {El: E0 in eV}
    core_repulsion: object = "auto"  # auto: ZBL below each pair's shortest distance in the data (below 0.9 times it
    #                                  when no structure is periodic); {shortest_fraction: f}: below f times it
    #                                  (fitting/core_radii.py, docs/core-repulsion.md); null: none; or {r_inner, r_outer[, pairs]}

    def check(self, fail, config):
        self._check_sizes(fail)
        self._check_compression(fail, config.species)
        self._check_tensor_reduction(fail)
        self._check_pruning(fail)
        reference = self.reference_energies
        if reference != "fit":
            if not isinstance(reference, dict) or set(reference) != set(config.species):
                fail("model.reference_energies",
                     f"must be 'fit' or a mapping with one energy (eV) per species {config.species}")
            if not all(_number(v) for v in reference.values()):
                fail("model.reference_energies", "must map each species to a number (eV)")
        core = self.core_repulsion
        if isinstance(core, dict) and "shortest_fraction" in core:
            fraction = core["shortest_fraction"]
            if set(core) != {"shortest_fraction"} or not _number(fraction) or not 0 < fraction <= 1:
                fail("model.core_repulsion", "{shortest_fraction: f} needs one number 0 < f <= 1 and nothing else")
        elif core is not None and core != "auto":
            if not isinstance(core, dict) or not set(core) <= {"r_inner", "r_outer", "pairs"}:
                fail("model.core_repulsion",
                     "must be 'auto', {shortest_fraction: f}, null or {r_inner, r_outer[, pairs]}")

    def _check_sizes(self, fail):
        for key in ("cutoff", "cutoff_width"):
            if not _number(self[key]) or self[key] <= 0:
                fail(f"model.{key}", f"must be a positive number of Å, got {self[key]!r}")
        for key, minimum in (("n_max", 1), ("l_max", 0)):
            if not isinstance(self[key], int) or self[key] < minimum:
                fail(f"model.{key}", f"must be an integer >= {minimum}, got {self[key]!r}")
        order = self.body_order
        if order != "auto" and (not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= 5):
            fail("model.body_order", f"must be auto or an integer from 1 to 5, got {order!r}")
        budgets = self.budgets
        if budgets is not None and (
            not isinstance(budgets, dict)
            or not all(int(k) in (3, 4, 5) and _number(v) and v > 0 for k, v in budgets.items())
        ):
            fail("model.budgets", "must be null or a mapping {3|4|5: positive number}")
        self.budgets = {**DEFAULT_BUDGETS, **{int(k): float(v) for k, v in (budgets or {}).items()}}  # recorded in full
        limits = self.l_max_by_order
        if limits is not None and (
            not isinstance(limits, dict)
            or not all(str(k) in ("3", "4", "5") and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= self.l_max
                       for k, v in limits.items())
        ):
            fail("model.l_max_by_order", f"must be null or a mapping {{3|4|5: integer from 0 to l_max ({self.l_max})}}")
        minimal = self.minimal_basis
        if minimal is not None and (not isinstance(minimal, dict) or not set(minimal) <= {"neighbours", "environments", "seed"}):
            fail("model.minimal_basis", "must be null or a mapping with keys among neighbours, environments, seed")

    def _check_compression(self, fail, species):
        automatic = self.compression == "auto"
        if not (self.compression is None or automatic or (
                isinstance(self.compression, int) and not isinstance(self.compression, bool)
                and 1 <= self.compression <= len(species))):
            fail("model.compression",
                 f"must be null, auto or an integer from 1 to {len(species)} (the species), got {self.compression!r}")
        if self.compression_per_channel is not None and not isinstance(self.compression_per_channel, bool):
            fail("model.compression_per_channel", "must be true, false or null")
        learn = self.learn_embedding
        if learn is not None:
            if not isinstance(learn, dict) or not set(learn) <= {"structures", "iterations"}:
                fail("model.learn_embedding", "must be null or a mapping with keys among structures, iterations")
            for key, value in learn.items():
                if not isinstance(value, int) or value < 1:
                    fail(f"model.learn_embedding.{key}", f"must be a positive integer, got {value!r}")
            if self.compression is None:
                fail("model.learn_embedding", "needs model.compression (the number of pseudo-elements K)")
        if self.centre_weights not in (None, "species", "compressed"):
            fail("model.centre_weights", f"must be 'species', 'compressed' or null, got {self.centre_weights!r}")
        if self.centre_weights == "compressed" and self.compression is None:
            fail("model.centre_weights", "'compressed' needs model.compression (the number of pseudo-elements K)")
        if not automatic:  # auto leaves these to the choice (lepot.fitting.automatic_compression)
            self.compression_per_channel = bool(self.compression_per_channel)
            self.centre_weights = self.centre_weights or "species"

    def _check_tensor_reduction(self, fail):
        reduction = self.tensor_reduction
        if reduction is None or reduction == "auto":
            return
        if not isinstance(reduction, dict) or "channels" not in reduction or not set(reduction) <= {
                "channels", "from_body_order", "diagonal", "learn"}:
            fail("model.tensor_reduction", "must be null, auto or a mapping {channels: K or [K_l per l], from_body_order: "
                 "2|3, diagonal: true|false, learn: null|{structures, iterations}}")
        learn = reduction.get("learn")
        if learn is not None:
            if not isinstance(learn, dict) or not set(learn) <= {"structures", "iterations"}:
                fail("model.tensor_reduction.learn", "must be null or a mapping with keys among structures, iterations")
            for key, value in learn.items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    fail(f"model.tensor_reduction.learn.{key}", f"must be a positive integer, got {value!r}")
        if not isinstance(reduction.get("diagonal", False), bool):
            fail("model.tensor_reduction.diagonal", f"must be true or false, got {reduction['diagonal']!r}")
        channels = reduction["channels"]
        valid = (isinstance(channels, int) and not isinstance(channels, bool) and channels >= 1) or (
            isinstance(channels, list) and len(channels) == self.l_max + 1
            and all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in channels) and any(channels))
        if not valid:
            fail("model.tensor_reduction.channels",
                 f"must be a positive integer K or a list of l_max + 1 = {self.l_max + 1} counts K_l >= 0, got {channels!r}")
        start = reduction.get("from_body_order", 3)
        highest = DEFAULT_BODY_ORDER if self.body_order == "auto" else self.body_order  # auto is 3 with a reduction
        if not isinstance(start, int) or isinstance(start, bool) or not 2 <= start <= max(2, highest):
            fail("model.tensor_reduction.from_body_order",
                 f"must be an integer from 2 to body_order ({highest}), got {start!r}")

    def _check_pruning(self, fail):
        prune = self.prune
        if prune is None:
            return
        if prune == "auto" and self.body_order == "auto":
            return  # resolved with the body order (lepot.fitting.automatic_compression)
        if prune == "auto":
            self.prune = automatic_prune(self.body_order)
            return
        if not isinstance(prune, dict) or "max_terms" not in prune or not set(prune) <= {"max_terms", "step"}:
            fail("model.prune", "must be auto, null or a mapping {max_terms: integer, step: fraction (default 0.12)}")
        if not isinstance(prune["max_terms"], int) or isinstance(prune["max_terms"], bool) or prune["max_terms"] < 0:
            fail("model.prune.max_terms", f"must be a non-negative integer, got {prune['max_terms']!r}")
        step = prune.setdefault("step", PRUNE_STEP)
        if not _number(step) or not 0 < step < 1:
            fail("model.prune.step", f"must be a fraction between 0 and 1, got {step!r}")
        if self.body_order != "auto" and self.body_order < 3:
            fail("model.prune", "prunes body order >= 3 invariants; needs model.body_order >= 3")


@dataclass
class RowWeights(Section):
    """Multipliers of the rows (1 / the error you accept); a target absent from the data needs weight 0."""

    energy: float = DEFAULT_ENERGY_WEIGHT  # per eV/atom
    forces: float = 1.0  # per eV/Å
    stress: float = 1.0  # per eV/atom of virial (σV/N)
    config_types: dict = field(default_factory=dict)  # {type: {energy: factor, forces: factor, stress: factor}}
    choose: str = None  # null: use these weights; evidence: scale them per target by the Bayesian evidence of
    #                     the training data (lepot.fitting.weights; these are then the starting scales)

    def check(self, fail, config):
        if self.choose not in (None, "evidence"):
            fail("weights.choose", f"must be null or 'evidence', got {self.choose!r}")
        if self.choose is not None and config.solver.regularisation == "cv":
            fail("weights.choose", "cannot be combined with solver.regularisation 'cv' (the folds are not re-weighted)")
        for key in ("energy", "forces", "stress"):
            if not _number(self[key]) or self[key] < 0:
                fail(f"weights.{key}", f"must be a number >= 0, got {self[key]!r}")
        if not isinstance(self.config_types, dict):
            fail("weights.config_types", "must be a mapping {config_type: {energy, forces, stress}}")
        for name, factors in self.config_types.items():
            if not isinstance(factors, dict) or not set(factors) <= {"energy", "forces", "stress"}:
                fail(f"weights.config_types.{name}", "must be a mapping with keys among energy, forces, stress")
            for key, value in factors.items():
                if not _number(value) or value < 0:
                    fail(f"weights.config_types.{name}.{key}", f"must be a number >= 0, got {value!r}")


@dataclass
class SolverSettings(Section):
    regularisation: object = "gcv"  # gcv | validation | evidence | cv (k-fold over structures) | a fixed number
    tolerance: float = 0.01  # take the largest λ whose criterion is within this of its minimum
    chunk_size: object = "auto"  # structures per design-matrix block (bounds the rows' memory); auto: at least
    #                              32 and enough for half as many rows as columns (fitting/memory.py)
    memory_limit: float = None  # GiB the fit may use on this node, shared by its MPI ranks; null: what the
    #                             machine has available. The peak is estimated first (fitting/memory.py)
    seed: int = 0  # validation split and embedding-learning sample
    folds: int = 5  # structures dealt into this many folds for regularisation "cv" (seeded with seed)
    smoothness_power: object = None  # smoothness prior ε^p on each column's ridge penalty: null (none, the
    #                                  default: docs/fitting.md says why), a number p >= 0, or "auto" (p chosen
    #                                  by the regularisation criterion)

    def check(self, fail, config):
        regularisation = self.regularisation
        power = self.smoothness_power
        if power is not None and power != "auto" and not (_number(power) and power >= 0):
            fail("solver.smoothness_power", f"must be null, 'auto' or a number >= 0, got {power!r}")
        if regularisation not in ("gcv", "validation", "evidence", "cv") and not (
                _number(regularisation) and regularisation >= 0):
            fail("solver.regularisation",
                 f"must be 'gcv', 'validation', 'evidence', 'cv' or a number >= 0, got {regularisation!r}")
        if not isinstance(self.folds, int) or isinstance(self.folds, bool) or self.folds < 2:
            fail("solver.folds", f"must be an integer >= 2, got {self.folds!r}")
        if not _number(self.tolerance) or self.tolerance < 0:
            fail("solver.tolerance", f"must be a number >= 0, got {self.tolerance!r}")
        if self.chunk_size != "auto" and (not isinstance(self.chunk_size, int) or isinstance(self.chunk_size, bool)
                                          or self.chunk_size < 1):
            fail("solver.chunk_size", f"must be 'auto' or a positive integer, got {self.chunk_size!r}")
        if self.memory_limit is not None and (not _number(self.memory_limit) or not self.memory_limit > 0):
            fail("solver.memory_limit", f"must be null or a positive number of GiB, got {self.memory_limit!r}")
        if not isinstance(self.seed, int):
            fail("solver.seed", f"must be an integer, got {self.seed!r}")
        data = config.data
        if regularisation == "validation" and data.validation is None and data.validation_fraction == 0:
            fail("solver.regularisation", "is 'validation' but there is no validation data")


@dataclass
class OutputSettings(Section):
    model: str = None  # required: the parameter file
    report: str = None  # markdown report; default <model>.md
    parity_plot: str = None  # PNG; default <model>_parity.png
    uncertainty: bool = True  # store the coefficients' posterior, calibrated on held-out errors (docs/uncertainty.md)

    def check(self, fail, config):
        if not isinstance(self.uncertainty, bool):
            fail("output.uncertainty", f"must be true or false, got {self.uncertainty!r}")


SECTIONS = {"data": DataSettings, "model": ModelSettings, "weights": RowWeights, "solver": SolverSettings,
            "output": OutputSettings}


@dataclass
class FitConfig:
    """A validated configuration and the folder relative paths refer to."""

    species: list
    data: DataSettings
    model: ModelSettings
    weights: RowWeights
    solver: SolverSettings
    output: OutputSettings
    base_directory: str

    def __getitem__(self, key):
        return getattr(self, key)

    def path(self, value):
        """Absolute path of a config path value."""
        return os.path.normpath(os.path.join(self.base_directory, os.path.expanduser(str(value))))

    def to_dict(self):
        """The plain nested dict: species, then every section's keys in order."""
        return {"species": copy.deepcopy(self.species), **{name: self[name].to_dict() for name in SECTIONS}}


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
    """Validate a nested dict (the YAML's content) and fill in the defaults of every section."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections")
    for key in values:
        if key != "species" and key not in SECTIONS:
            raise ConfigError(f"{source}: unknown key '{key}' (known here: {', '.join(sorted(['species', *SECTIONS]))})")
    sections = {name: cls.from_mapping(values[name], name, source) if name in values else cls()
                for name, cls in SECTIONS.items()}
    config = FitConfig(species=copy.deepcopy(values.get("species")), base_directory=os.path.abspath(base_directory),
                       **sections)
    for required in ("species", "data.train", "output.model"):
        value = config
        for key in required.split("."):
            value = value[key]
        if value is None:
            raise ConfigError(f"{source}: '{required}' is required")

    def fail(key, message):
        raise ConfigError(f"{source}: '{key}' {message}")

    if isinstance(config.species, str):
        config.species = [config.species]
    if not isinstance(config.species, list) or not config.species or not all(isinstance(s, str) for s in config.species):
        fail("species", "must be a list of element symbols")
    for name in ("model", "weights", "solver", "data", "output"):
        config[name].check(fail, config)
    return config
