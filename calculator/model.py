"""Parameter files (JSON, versioned, self-contained): load, validate, save.

The schema is documented, with an example, in docs/parameter-file.md. In short::

    {"format": "lepot-potential", "format_version": 1,
     "units": {"energy": "eV", "length": "Angstrom"},
     "species": ["Mo", "W"],
     "cutoff": {"radius": 5.0, "function": "shifted_cosine", "width": 1.0},
     "radial": {"basis": "laplacian_eigenstate", "n_max": 6, "l_max": 4, "n_radial": [6, 5, 5, 4, 4],
                "spline": {"n_nodes": 513, "values": [[...]], "derivatives": [[...]]}},
     "embedding": null | {"n_pseudo": K, "weights": [[[u_{k n}(species)]]]},      # [species][k][n]
     "basis": {"body_order": 2, "features": [[nu, l, [[k, n], ...]] or [nu, j, [[k, n, l], ...]], ...],
               "terms": {"feature": [...], "coefficient": [...], "factor_offsets": [...], "factors": [...]}},
     "weights": {"Mo": [...n_features], "W": [...]},                              # eV per unit B
     "reference_energies": {"Mo": E0, "W": E0},                                   # eV per atom
     "core_repulsion": null | {"type": "zbl", "pairs": [{"species": ["Mo", "W"], "r_inner": 1.0, "r_outer": 2.0}, ...]},
     "metadata": {"code_version": ..., "created": ..., ...}}

Readers refuse an unknown format or version, missing or unknown keys, wrong shapes, NaN/inf and
inconsistent tables, with a :class:`ModelFileError` that names the file and the problem. Writers
write to a temporary file in the target folder and rename it into place, so a failure never leaves
a half-written file. Floats are written with Python's shortest round-trip repr, so save -> load
reproduces every number exactly.
"""

import datetime
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from .basis import Basis
from .couplings import Couplings
from .radial_basis import SplineTable, make_radial_basis

FORMAT = "lepot-potential"
FORMAT_VERSION = 1
UNITS = {"energy": "eV", "length": "Angstrom"}
TOP_LEVEL_KEYS = (
    "format",
    "format_version",
    "units",
    "species",
    "cutoff",
    "radial",
    "embedding",
    "basis",
    "weights",
    "reference_energies",
    "core_repulsion",
    "metadata",
)
#: Largest allowed mismatch between stored spline nodes and the LE functions they declare,
#: relative to max |S_nl| (the stored nodes are exact function values, so this only catches damage).
SPLINE_CONSISTENCY = 1e-9


class ModelFileError(ValueError):
    """A parameter file (or dictionary) that cannot be used; the message names the source and the problem."""


@dataclass(frozen=True)
class CoreRepulsion:
    """ZBL core repulsion switched off between r_inner and r_outer (Å), per unordered species pair.

    pairs: {(symbol_a, symbol_b): (r_inner, r_outer)}; a pair missing from the dict has no repulsion.
    """

    pairs: dict

    def radii(self, symbols):
        """Symmetric r_inner, r_outer matrices [n_species][n_species] in the order of ``symbols`` (0 = off)."""
        index = {s: i for i, s in enumerate(symbols)}
        r_inner = np.zeros((len(symbols), len(symbols)))
        r_outer = np.zeros((len(symbols), len(symbols)))
        for (a, b), (inner, outer) in self.pairs.items():
            for i, j in ((index[a], index[b]), (index[b], index[a])):
                r_inner[i, j], r_outer[i, j] = inner, outer
        return r_inner, r_outer


@dataclass
class Model:
    """A complete potential: descriptor basis, per-species weights and reference energies, core repulsion.

    weights : float64 [n_species][n_features], eV per unit of B_q, for centres of each species
    reference_energies : float64 [n_species], E0 in eV per atom
    """

    basis: Basis
    weights: np.ndarray
    reference_energies: np.ndarray
    core_repulsion: CoreRepulsion = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.weights = np.ascontiguousarray(self.weights, dtype=np.float64)
        self.reference_energies = np.ascontiguousarray(self.reference_energies, dtype=np.float64)
        expected = (self.basis.n_species, self.basis.n_features)
        if self.weights.shape != expected:
            raise ValueError(f"weights must have shape {expected} (species, features), got {self.weights.shape}")
        if self.reference_energies.shape != (self.basis.n_species,):
            raise ValueError(f"reference_energies must have {self.basis.n_species} entries")
        if not np.all(np.isfinite(self.weights)) or not np.all(np.isfinite(self.reference_energies)):
            raise ValueError("weights and reference energies must be finite")
        if self.core_repulsion is not None:
            _check_core_repulsion(self.core_repulsion, self.basis.symbols, self.basis.cutoff, "model")

    @property
    def species(self):
        return self.basis.symbols

    def to_dict(self):
        """The parameter-file content (format_version 1) as plain JSON types."""
        basis = self.basis
        couplings = basis.couplings
        is_one_hot = basis.n_pseudo == basis.n_species and np.array_equal(
            basis.embedding, np.repeat(np.eye(basis.n_species)[:, :, None], basis.radial.n_radial[0], axis=2)
        )
        metadata = {"code_version": _code_version(), "created": _now()}
        metadata.update(self.metadata)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "units": dict(UNITS),
            "species": list(basis.symbols),
            "cutoff": {"radius": basis.cutoff, "function": "shifted_cosine", "width": basis.radial.cutoff_width},
            "radial": {
                "basis": "laplacian_eigenstate",
                "n_max": basis.radial.n_radial[0],
                "l_max": basis.radial.l_max,
                "n_radial": list(basis.radial.n_radial),
                "spline": {
                    "n_nodes": basis.spline.n_nodes,
                    "values": basis.spline.node_values.tolist(),
                    "derivatives": basis.spline.node_derivatives.tolist(),
                },
            },
            "embedding": None if is_one_hot else {"n_pseudo": basis.n_pseudo, "weights": basis.embedding.tolist()},
            "basis": {
                "body_order": basis.body_order,
                "features": [_label_to_json(label) for label in couplings.labels],
                "terms": {
                    "feature": couplings.term_feature.tolist(),
                    "coefficient": couplings.term_coefficient.tolist(),
                    "factor_offsets": couplings.term_factor_offsets.tolist(),
                    "factors": couplings.factors.tolist(),
                },
            },
            "weights": {s: self.weights[i].tolist() for i, s in enumerate(basis.symbols)},
            "reference_energies": {s: float(self.reference_energies[i]) for i, s in enumerate(basis.symbols)},
            "core_repulsion": None
            if self.core_repulsion is None
            else {
                "type": "zbl",
                "pairs": [
                    {"species": [a, b], "r_inner": inner, "r_outer": outer}
                    for (a, b), (inner, outer) in self.core_repulsion.pairs.items()
                ],
            },
            "metadata": metadata,
        }

    def save(self, path):
        """Write the parameter file atomically (temporary file + rename)."""
        write_json_atomically(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data, source="<dict>"):
        """Validate parameter-file content and build the model; raises ModelFileError naming the problem."""
        return _parse(data, source)


def load_model(path):
    """Read and validate a parameter file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read the parameter file ({error.strerror})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        hint = " (the file looks truncated)" if error.pos >= len(text.rstrip()) else ""
        raise ModelFileError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}{hint}") from None
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return _parse(data, str(path))


def write_json_atomically(data, path):
    """json.dump ``data`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    write_file_atomically(text + "\n", path)


def write_file_atomically(content, path):
    """Write text or bytes to ``path`` through a temporary file in the same folder and os.replace:
    readers see the old file or the complete new one, never a partial write."""
    path = Path(path)
    data = content.encode() if isinstance(content, str) else content
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _reject_constant(name):
    raise ValueError(f"contains {name}, which is not a number")


def _code_version():
    try:
        return version("lepot")
    except PackageNotFoundError:
        return "unknown"


def _now():
    """UTC creation time; SOURCE_DATE_EPOCH (reproducible-builds convention) fixes it for byte-identical files."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.replace(microsecond=0).isoformat()


def _label_to_json(label):
    nu, index, factors = label
    return [int(nu), int(index), [[int(x) for x in factor] for factor in factors]]


class _Reader:
    """Validation helpers that prefix every message with the source."""

    def __init__(self, source):
        self.source = source

    def fail(self, message):
        raise ModelFileError(f"{self.source}: {message}")

    def require(self, condition, message):
        if not condition:
            self.fail(message)

    def mapping(self, value, where, keys, optional=()):
        self.require(isinstance(value, dict), f"'{where}' must be an object")
        missing = [k for k in keys if k not in value]
        self.require(not missing, f"'{where}' is missing key(s) {missing}")
        unknown = sorted(set(value) - set(keys) - set(optional))
        self.require(not unknown, f"'{where}' has unknown key(s) {unknown}")
        return value

    def number(self, value, where, positive=False):
        self.require(
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            f"'{where}' must be a finite number, got {value!r}",
        )
        if positive:
            self.require(value > 0, f"'{where}' must be positive, got {value!r}")
        return float(value)

    def integer(self, value, where, minimum=None):
        self.require(isinstance(value, int) and not isinstance(value, bool), f"'{where}' must be an integer")
        if minimum is not None:
            self.require(value >= minimum, f"'{where}' must be >= {minimum}, got {value}")
        return value

    def array(self, value, where, shape, dtype=np.float64):
        try:
            array = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            self.fail(f"'{where}' must be a {'x'.join(map(str, shape))} array of numbers")
        self.require(array.shape == tuple(shape), f"'{where}' has shape {array.shape}, expected {tuple(shape)}")
        if dtype == np.float64:
            self.require(np.all(np.isfinite(array)), f"'{where}' contains NaN or inf")
        return array


def _parse(data, source):
    read = _Reader(source)
    read.require(isinstance(data, dict), "the top level must be a JSON object")
    read.require(data.get("format") == FORMAT, f"not a lepot parameter file ('format' is {data.get('format')!r}, expected {FORMAT!r})")
    read.require(
        data.get("format_version") == FORMAT_VERSION,
        f"unsupported format_version {data.get('format_version')!r}; this lepot ({_code_version()}) reads version {FORMAT_VERSION}",
    )
    read.mapping(data, "top level", TOP_LEVEL_KEYS)
    read.require(data["units"] == UNITS, f"units must be {UNITS}, got {data['units']!r}")

    species = data["species"]
    read.require(isinstance(species, list) and species, "'species' must be a non-empty list of element symbols")
    for symbol in species:
        read.require(symbol in atomic_numbers and symbol != "X", f"'species' has unknown element {symbol!r}")
    read.require(len(set(species)) == len(species), f"'species' has duplicates: {species}")
    n_species = len(species)

    cutoff = read.mapping(data["cutoff"], "cutoff", ("radius", "function", "width"))
    radius = read.number(cutoff["radius"], "cutoff.radius", positive=True)
    read.require(cutoff["function"] == "shifted_cosine", f"unknown cutoff function {cutoff['function']!r}")
    width = read.number(cutoff["width"], "cutoff.width", positive=True)
    read.require(width <= radius, "'cutoff.width' must not exceed 'cutoff.radius'")

    radial_data = read.mapping(data["radial"], "radial", ("basis", "n_max", "l_max", "n_radial", "spline"))
    read.require(radial_data["basis"] == "laplacian_eigenstate", f"unknown radial basis {radial_data['basis']!r}")
    n_max = read.integer(radial_data["n_max"], "radial.n_max", minimum=1)
    l_max = read.integer(radial_data["l_max"], "radial.l_max", minimum=0)
    radial = make_radial_basis(radius, n_max, l_max, width)
    read.require(
        list(radial.n_radial) == radial_data["n_radial"],
        f"'radial.n_radial' {radial_data['n_radial']} does not match the LE selection for n_max={n_max}, "
        f"l_max={l_max}: {list(radial.n_radial)}",
    )
    spline_data = read.mapping(radial_data["spline"], "radial.spline", ("n_nodes", "values", "derivatives"))
    n_nodes = read.integer(spline_data["n_nodes"], "radial.spline.n_nodes", minimum=2)
    shape = (n_nodes, radial.n_functions)
    values = read.array(spline_data["values"], "radial.spline.values", shape)
    derivatives = read.array(spline_data["derivatives"], "radial.spline.derivatives", shape)
    nodes = np.linspace(0.0, radius, n_nodes)
    exact_values, exact_derivatives = radial.smooth_part(nodes)
    for stored, exact, name in ((values, exact_values, "values"), (derivatives, exact_derivatives, "derivatives")):
        deviation = np.max(np.abs(stored - exact) / np.max(np.abs(exact), axis=0))
        read.require(
            deviation <= SPLINE_CONSISTENCY,
            f"'radial.spline.{name}' do not match the LE functions they declare (relative deviation {deviation:.2e}); "
            "the file is damaged or was not written by lepot",
        )
    spline = SplineTable(radius, values, derivatives, float("nan"))

    if data["embedding"] is None:
        embedding = np.repeat(np.eye(n_species)[:, :, None], radial.n_radial[0], axis=2)
    else:
        embedding_data = read.mapping(data["embedding"], "embedding", ("n_pseudo", "weights"))
        n_pseudo = read.integer(embedding_data["n_pseudo"], "embedding.n_pseudo", minimum=1)
        embedding = read.array(embedding_data["weights"], "embedding.weights", (n_species, n_pseudo, radial.n_radial[0]))
    n_pseudo = embedding.shape[1]

    basis_data = read.mapping(data["basis"], "basis", ("body_order", "features", "terms"))
    body_order = read.integer(basis_data["body_order"], "basis.body_order", minimum=1)
    features = basis_data["features"]
    read.require(isinstance(features, list) and features, "'basis.features' must be a non-empty list")
    labels = []
    for q, label in enumerate(features):
        try:
            nu, l, channels = label
            labels.append((int(nu), int(l), tuple(tuple(int(x) for x in channel) for channel in channels)))
        except (TypeError, ValueError):
            read.fail(f"'basis.features[{q}]' must be [body_order, index, [[k, n(, l)], ...]], got {label!r}")
        read.require(1 <= labels[-1][0] <= body_order, f"'basis.features[{q}]' has body order outside 1..{body_order}")
    n_features = len(labels)
    terms = read.mapping(basis_data["terms"], "basis.terms", ("feature", "coefficient", "factor_offsets", "factors"))
    n_terms = len(terms["feature"]) if isinstance(terms["feature"], list) else -1
    read.require(n_terms >= 1, "'basis.terms.feature' must be a non-empty list")
    term_feature = read.array(terms["feature"], "basis.terms.feature", (n_terms,), np.int64)
    coefficients = read.array(terms["coefficient"], "basis.terms.coefficient", (n_terms,))
    offsets = read.array(terms["factor_offsets"], "basis.terms.factor_offsets", (n_terms + 1,), np.int64)
    read.require(offsets[0] == 0 and np.all(np.diff(offsets) >= 1), "'basis.terms.factor_offsets' must start at 0 and increase")
    factors = read.array(terms["factors"], "basis.terms.factors", (int(offsets[-1]),), np.int64)
    n_density = n_pseudo * sum(n * (2 * l + 1) for l, n in enumerate(radial.n_radial))
    read.require(np.all((term_feature >= 0) & (term_feature < n_features)), "'basis.terms.feature' has an index out of range")
    read.require(np.all(np.diff(term_feature) >= 0), "'basis.terms.feature' must be sorted (terms grouped by feature)")
    read.require(np.all((factors >= 0) & (factors < n_density)), f"'basis.terms.factors' has an index outside [0, {n_density})")
    couplings = Couplings(
        labels=tuple(labels),
        term_feature=term_feature.astype(np.int32),
        term_coefficient=coefficients,
        term_factor_offsets=offsets.astype(np.int32),
        factors=factors.astype(np.int32),
    )
    numbers = tuple(atomic_numbers[s] for s in species)
    basis = Basis(numbers, radial, spline, np.ascontiguousarray(embedding), couplings, body_order)

    weights_data = read.mapping(data["weights"], "weights", species)
    weights = np.stack([read.array(weights_data[s], f"weights.{s}", (n_features,)) for s in species])
    energies_data = read.mapping(data["reference_energies"], "reference_energies", species)
    reference_energies = np.array([read.number(energies_data[s], f"reference_energies.{s}") for s in species])

    core_repulsion = None
    if data["core_repulsion"] is not None:
        core = read.mapping(data["core_repulsion"], "core_repulsion", ("type", "pairs"))
        read.require(core["type"] == "zbl", f"unknown core repulsion type {core['type']!r}")
        read.require(isinstance(core["pairs"], list), "'core_repulsion.pairs' must be a list")
        pairs = {}
        for index, pair in enumerate(core["pairs"]):
            where = f"core_repulsion.pairs[{index}]"
            read.mapping(pair, where, ("species", "r_inner", "r_outer"))
            read.require(
                isinstance(pair["species"], list) and len(pair["species"]) == 2 and all(s in species for s in pair["species"]),
                f"'{where}.species' must name two of {species}",
            )
            key = tuple(sorted(pair["species"], key=species.index))
            read.require(key not in pairs, f"'{where}' repeats the species pair {list(key)}")
            pairs[key] = (read.number(pair["r_inner"], f"{where}.r_inner"), read.number(pair["r_outer"], f"{where}.r_outer"))
        core_repulsion = CoreRepulsion(pairs)
        try:
            _check_core_repulsion(core_repulsion, species, radius, "core_repulsion")
        except ValueError as error:
            read.fail(str(error))

    metadata = data["metadata"]
    read.require(isinstance(metadata, dict), "'metadata' must be an object")
    return Model(basis, weights, reference_energies, core_repulsion, metadata)


def _check_core_repulsion(core_repulsion, symbols, cutoff, where):
    for (a, b), (inner, outer) in core_repulsion.pairs.items():
        if a not in symbols or b not in symbols:
            raise ValueError(f"{where}: species pair {a}-{b} is not in the model's species {list(symbols)}")
        if not (0 <= inner < outer <= cutoff):
            raise ValueError(f"{where}: pair {a}-{b} needs 0 <= r_inner < r_outer <= cutoff ({cutoff} Å), got {inner}, {outer}")


__all__ = ["CoreRepulsion", "Model", "ModelFileError", "load_model", "write_file_atomically", "write_json_atomically"]
