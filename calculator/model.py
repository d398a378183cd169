"""Parameter files (JSON, versioned, self-contained): load, validate, save.

The schema is documented, with an example, in docs/parameter-file.md. In short::

    {"format": "lepot-potential", "format_version": 6,
     "units": {"energy": "eV", "length": "Angstrom"},
     "species": ["Mo", "W"],
     "cutoff": {"radius": 5.0, "function": "shifted_cosine", "width": 1.0},
     "radial": {"basis": "laplacian_eigenstate", "n_max": 6, "l_max": 4, "n_radial": [6, 5, 5, 4, 4],
                "spline": {"n_nodes": 513, "values": [[...]], "derivatives": [[...]]}},
     "embedding": null | {"n_pseudo": K, "weights": [[[u_{k n}(species)]]]},      # [species][k][n]
     "contraction": null | {"channels": [K_l], "weights": [W_l, ...]},          # W_l: [K_l][n_pseudo][n_l]
     "basis": {"body_order": 2, "features": [[nu, l, [[k, n], ...]] or [nu, j, [[k, n, l], ...]], ...],
               "terms": {"feature": [...], "coefficient": [...], "factor_offsets": [...], "factors": [...]}},
     "weights": {"Mo": [...n_features], "W": [...]},                              # eV per unit B
     "reference_energies": {"Mo": E0, "W": E0},                                   # eV per atom
     "core_repulsion": null | {"type": "zbl", "pairs": [{"species": ["Mo", "W"], "r_inner": 1.0, "r_outer": 2.0}, ...]},
     "uncertainty": null | {"centre_channels": [...], "reference_energy_columns": true, "factor": [...packed C],
                     "posterior_scale": α², "local_variance_scale": β², "energy_noise": τ,
                     "atom_energy_noise": η, "force_posterior_scale": α_F², "reference_variance": v_ref},
                                                                                  # docs/uncertainty.md
     "metadata": {"code_version": ..., "created": ..., ...}}

Every rule about the file lives in the compiled core's reader (core/parameter_file.hpp), which the
LAMMPS plugin calls too: this module only converts between its result and Python objects. A file the
reader refuses raises :class:`ModelFileError` with the reader's message ("<file>: <key> <problem>"),
the same text LAMMPS prints. Writers pass the text they are about to write through the same reader,
then write it to a temporary file in the target folder and rename it into place, so a failure never
leaves a half-written or invalid file. Floats are written with Python's shortest round-trip repr, so
save -> load reproduces every number exactly.
"""

import datetime
import json
import os
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from . import _evaluator
from .basis import Basis, Contraction, CoreRepulsion
from .couplings import Couplings
from .radial_basis import SplineTable, make_radial_basis
from .uncertainty import Posterior, posterior_from_content

FORMAT = _evaluator.PARAMETER_FILE_FORMAT
FORMAT_VERSION = _evaluator.PARAMETER_FILE_VERSION
UNITS = {"energy": "eV", "length": "Angstrom"}


class ModelFileError(ValueError):
    """A parameter file (or dictionary) that cannot be used; the message names the source and the problem."""


@dataclass
class Model:
    """A complete potential: descriptor basis (with its core repulsion), per-species coefficients and
    reference energies.

    coefficients : float64 [n_species][n_features], w_q(a) in eV per unit of B_q, for centres of each
        species (the parameter file's "weights")
    reference_energies : float64 [n_species], E0 in eV per atom
    uncertainty : the coefficients' posterior (lepot.calculator.uncertainty.Posterior), or None
    """

    basis: Basis
    coefficients: np.ndarray
    reference_energies: np.ndarray
    metadata: dict = field(default_factory=dict)
    uncertainty: Posterior = None

    def __post_init__(self):
        self.coefficients = np.ascontiguousarray(self.coefficients, dtype=np.float64)
        self.reference_energies = np.ascontiguousarray(self.reference_energies, dtype=np.float64)
        expected = (self.basis.n_species, self.basis.n_features)
        if self.coefficients.shape != expected:
            raise ValueError(f"coefficients must have shape {expected} (species, features), got {self.coefficients.shape}")
        if self.reference_energies.shape != (self.basis.n_species,):
            raise ValueError(f"reference_energies must have {self.basis.n_species} entries")
        if not np.all(np.isfinite(self.coefficients)) or not np.all(np.isfinite(self.reference_energies)):
            raise ValueError("coefficients and reference energies must be finite")
        # stamped once, when the model is made: every later save of it writes the same "created"
        self.metadata = {"code_version": _code_version(), "created": _now(), **self.metadata}

    @property
    def species(self):
        return self.basis.species

    @property
    def core_repulsion(self):
        """The basis' CoreRepulsion (or None): ZBL pairs, handed over from the model below r_outer."""
        return self.basis.core_repulsion

    @classmethod
    def core_repulsion_only(cls, basis):
        """The model of ``basis`` with zero coefficients and zero E0: only its core repulsion (None without one).
        The fit subtracts its energies, forces and stresses from the targets."""
        if basis.core_repulsion is None:
            return None
        return cls(basis, np.zeros((basis.n_species, basis.n_features)), np.zeros(basis.n_species))

    def to_dict(self):
        """The parameter-file content (format_version FORMAT_VERSION) as plain JSON types."""
        basis = self.basis
        couplings = basis.couplings
        is_one_hot = basis.n_pseudo == basis.n_species and np.array_equal(
            basis.embedding, np.repeat(np.eye(basis.n_species)[:, :, None], basis.radial.n_radial[0], axis=2)
        )
        metadata = dict(self.metadata)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "units": dict(UNITS),
            "species": list(basis.species),
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
            "contraction": None
            if basis.contraction is None
            else {
                "channels": [int(k) for k in basis.contraction.channels],
                "weights": [np.asarray(w, dtype=np.float64).tolist() for w in basis.contraction.weights],
            },
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
            "weights": {s: self.coefficients[i].tolist() for i, s in enumerate(basis.species)},
            "reference_energies": {s: float(self.reference_energies[i]) for i, s in enumerate(basis.species)},
            "core_repulsion": None
            if self.core_repulsion is None
            else {
                "type": "zbl",
                "pairs": [
                    {"species": [a, b], "r_inner": inner, "r_outer": outer}
                    for (a, b), (inner, outer) in self.core_repulsion.pairs.items()
                ],
            },
            "uncertainty": None if self.uncertainty is None else self.uncertainty.to_dict(),
            "metadata": metadata,
        }

    def to_text(self, source="model"):
        """The parameter file's text, checked by the core reader (ModelFileError naming ``source`` if it
        would be refused)."""
        text = json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":")) + "\n"
        _parse(text, source)
        return text

    def save(self, path):
        """Write the parameter file atomically (temporary file + rename), after the core reader accepted it."""
        write_file_atomically(self.to_text(str(path)), path)

    @classmethod
    def from_dict(cls, data, source="<dict>"):
        """Validate parameter-file content with the core reader and build the model (ModelFileError if refused)."""
        return _model(_parse(json.dumps(data, allow_nan=False), source))


def load_model(path):
    """Read and validate a parameter file (the core reader, as in LAMMPS); raises ModelFileError."""
    try:
        content = _evaluator.load_parameter_file(str(path))
    except ValueError as error:
        raise ModelFileError(str(error)) from None
    return _model(content)


def _parse(text, source):
    try:
        return _evaluator.parse_parameter_file(text, source)
    except ValueError as error:
        raise ModelFileError(str(error)) from None


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


def _labels(content):
    """Feature labels (ν, index, channels) from the reader's feature arrays (see lepot.calculator.couplings)."""
    labels = []
    offsets, channels = content["feature_channel_offsets"], content["feature_channels"].tolist()
    for q, (nu, index) in enumerate(zip(content["feature_body_order"].tolist(), content["feature_index"].tolist())):
        own = channels[offsets[q] : offsets[q + 1]]
        labels.append((nu, index, tuple(tuple(c if nu >= 3 else c[:2]) for c in own)))
    return tuple(labels)


def _contraction(content, couplings):
    """The Contraction of the reader's content, or None; from_body_order is the lowest ν whose labels name
    a contracted channel (pseudo-element index >= n_pseudo), diagonal whether every contracted product of
    ν >= 3 takes all its factors from one channel index (with more than one channel at some l)."""
    channels = content["contraction_channels"]
    if not channels:
        return None
    n_pseudo, n_radial = content["embedding"].shape[1], content["n_radial"]
    flat, weights, start = content["contraction_weights"], [], 0
    for l, k_l in enumerate(channels):
        size = k_l * n_pseudo * n_radial[l]
        weights.append(flat[start : start + size].reshape(k_l, n_pseudo, n_radial[l]))
        start += size
    contracted = [label for label in couplings.labels if any(channel[0] >= n_pseudo for channel in label[2])]
    higher = [label for label in contracted if label[0] >= 3]
    diagonal = bool(higher) and max(channels) > 1 and all(len({channel[0] for channel in label[2]}) == 1
                                                          for label in higher)
    return Contraction(tuple(int(k) for k in channels), tuple(weights), min((label[0] for label in contracted), default=3),
                       diagonal)


def _model(content):
    """A Model from the content the core reader returned (already validated there)."""
    radial = make_radial_basis(content["cutoff_radius"], content["n_max"], content["l_max"], content["cutoff_width"])
    spline = SplineTable(radial.cutoff, content["spline_values"], content["spline_derivatives"], float("nan"))
    couplings = Couplings(
        labels=_labels(content),
        term_feature=content["term_feature"],
        term_coefficient=content["term_coefficient"],
        term_factor_offsets=content["term_factor_offsets"],
        factors=content["factors"],
    )
    numbers = tuple(int(z) for z in content["atomic_numbers"])
    species = content["species"]
    core_repulsion = None
    if content["core_pair_species"].size:
        pairs = {}
        for (a, b), (inner, outer) in zip(content["core_pair_species"].tolist(), content["core_pair_radii"].tolist()):
            pairs[(species[min(a, b)], species[max(a, b)])] = (inner, outer)
        core_repulsion = CoreRepulsion(pairs)
    basis = Basis(numbers, radial, spline, np.ascontiguousarray(content["embedding"]), couplings, content["body_order"],
                  core_repulsion, _contraction(content, couplings))
    return Model(basis, content["coefficients"], content["reference_energies"], content["metadata"],
                 posterior_from_content(content["uncertainty"]))


__all__ = ["CoreRepulsion", "Model", "ModelFileError", "load_model", "write_file_atomically", "write_json_atomically"]
