"""Basis specification: species, LE radial basis and its spline table, embedding, invariant couplings.

A :class:`Basis` is everything the compiled evaluator needs to turn neighbour vectors into
descriptors. It is built by :func:`build_basis`; the parameter file (lepot.calculator.model) stores
the same content.

Embedding (alchemical compression). The density coefficients are
A_{k, nlm}(i) = Σ_j u_{k n}(a_j) R_nl(r_ij) Y_lm(r̂_ij) with k = 0..n_pseudo-1. ``embedding=None``
is the uncompressed, element-resolved density (u one-hot: k = element index). A matrix of shape
[n_pseudo][n_species] gives u_k(a), the same for every radial channel; shape
[n_pseudo][n_radial_max][n_species] gives the radial-channel-dependent u_{k n}(a) of tensor-reduced
ACE. Species are indexed in the order of ``Basis.species`` (symbols; ``Basis.atomic_numbers`` their Z).
"""

from dataclasses import dataclass

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from .couplings import SUPPORTED_BODY_ORDERS, Couplings, build_couplings, feature_roughness
from .radial_basis import RadialBasis, SplineTable, make_radial_basis


@dataclass(frozen=True)
class CoreRepulsion:
    """Species pairs handed over from the model to the ZBL core repulsion between r_inner and r_outer (Å).

    pairs: {(symbol_a, symbol_b): (r_inner, r_outer)}; a pair missing from the dict has no repulsion. For a
    listed pair, ZBL is switched on and the pair's contribution to the density switched off as the distance
    falls from r_outer to r_inner (core/core_repulsion.hpp): below r_inner only ZBL acts on it.
    """

    pairs: dict


@dataclass(frozen=True)
class Contraction:
    """Tensor-reduced density channels (core/density_contraction.hpp): for each l, K_l linear combinations
    Ã_{k,lm} = Σ_{p,n} W_l[k][p][n] A_{p,nlm} of the (pseudo-element, radial) channels of the density.

    channels : tuple of int, K_l for l = 0..l_max
    weights : tuple of float64 arrays, W_l of shape [K_l][n_pseudo][n_l] for l = 0..l_max
    from_body_order : int, the lowest body order ν whose invariants are products of the Ã (lower orders use A)
    diagonal : bool, products of body order >= 3 take all factors from one channel index k (Darby et al.'s
        tensor-reduced products; the count then grows linearly in K instead of as K^ν)
    """

    channels: tuple
    weights: tuple
    from_body_order: int = 3
    diagonal: bool = False

    def flat_weights(self):
        """W_0, W_1, ... flattened in the core's order."""
        return np.concatenate([np.asarray(w, dtype=np.float64).reshape(-1) for w in self.weights])


@dataclass(frozen=True)
class Basis:
    """A complete descriptor basis.

    atomic_numbers : tuple of int, Z of each species, in species-index order
    radial : RadialBasis
    spline : SplineTable, tables of the smooth LE functions
    embedding : float64 [n_species][n_pseudo][n_radial_max], u_{k n}(a) in the core's layout
    couplings : Couplings
    body_order : int, highest ν
    core_repulsion : CoreRepulsion or None, the pairs handed over to ZBL at short range (part of the
        descriptors' definition: their density contributions fade out below r_outer)
    contraction : Contraction or None, tensor-reduced channels used by the invariants of body order
        >= contraction.from_body_order
    """

    atomic_numbers: tuple
    radial: RadialBasis
    spline: SplineTable
    embedding: np.ndarray
    couplings: Couplings
    body_order: int
    core_repulsion: CoreRepulsion = None
    contraction: Contraction = None

    @property
    def cutoff(self):
        return self.radial.cutoff

    @property
    def n_species(self):
        return len(self.atomic_numbers)

    @property
    def n_pseudo(self):
        return self.embedding.shape[1]

    @property
    def n_features(self):
        return self.couplings.n_features

    @property
    def species(self):
        """Element symbols, in species-index order."""
        return tuple(chemical_symbols[z] for z in self.atomic_numbers)

    def feature_roughness(self):
        """Σ_i ε(n_i, l_i) of each feature's factors, float [n_features]: the LE eigenvalues z_nl²/π² (units of
        (π/r_c)²) summed over the factors, the roughness the smoothness prior penalises (docs/fitting.md)."""
        return feature_roughness(self.couplings.labels, self.radial.n_radial, self.n_pseudo, self.radial.eigenvalues(),
                                 None if self.contraction is None else self.contraction.channels)

    def species_index(self, numbers):
        """Map atomic numbers [n] to species indices [n] (int32); unknown elements raise ValueError."""
        numbers = np.asarray(numbers, dtype=np.int64)
        lookup = np.full(max(int(numbers.max(initial=0)), max(self.atomic_numbers)) + 1, -1, dtype=np.int32)
        lookup[list(self.atomic_numbers)] = np.arange(self.n_species, dtype=np.int32)
        indices = lookup[numbers] if numbers.size else np.zeros(0, dtype=np.int32)
        unknown = np.unique(numbers[indices < 0])
        if unknown.size:
            names = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else f"Z={z}" for z in unknown)
            raise ValueError(f"element(s) {names} not in this basis (species: {', '.join(self.species)})")
        return indices


def parse_species(species):
    """Atomic numbers from a list of symbols and/or numbers; duplicates and unknown names are errors."""
    numbers = []
    for entry in species:
        if isinstance(entry, str):
            if entry not in atomic_numbers:
                raise ValueError(f"unknown element symbol {entry!r}")
            numbers.append(atomic_numbers[entry])
        else:
            z = int(entry)
            if not 0 < z < len(chemical_symbols):
                raise ValueError(f"invalid atomic number {entry!r}")
            numbers.append(z)
    if not numbers:
        raise ValueError("species list is empty")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"species list has duplicates: {list(species)}")
    return tuple(numbers)


def core_layout_embedding(embedding, n_species, n_radial_max):
    """Core-layout embedding [n_species][n_pseudo][n_radial_max] from the user forms (see module docstring)."""
    if embedding is None:
        return np.repeat(np.eye(n_species)[:, :, None], n_radial_max, axis=2)
    u = np.asarray(embedding, dtype=np.float64)
    if u.ndim == 2:
        if u.shape[1] != n_species:
            raise ValueError(f"embedding of shape {u.shape} must be [n_pseudo][{n_species}] (one column per species)")
        u = np.repeat(u[:, None, :], n_radial_max, axis=1)
    elif u.ndim == 3:
        if u.shape[1:] != (n_radial_max, n_species):
            raise ValueError(
                f"embedding of shape {u.shape} must be [n_pseudo][{n_radial_max}][{n_species}] "
                "(pseudo-element, radial channel n, species)"
            )
    else:
        raise ValueError(f"embedding must be a 2- or 3-dimensional array, got shape {u.shape}")
    if u.shape[0] < 1:
        raise ValueError("embedding needs at least one pseudo-element")
    if not np.all(np.isfinite(u)):
        raise ValueError("embedding contains NaN or inf")
    return np.ascontiguousarray(np.transpose(u, (2, 0, 1)))


def build_basis(
    species,
    cutoff=5.0,
    n_max=6,
    l_max=4,
    body_order=2,
    cutoff_width=None,
    embedding=None,
    spline_tolerance=1e-8,
    budgets=None,
    l_max_by_order=None,
    core_repulsion=None,
    contraction=None,
):
    """Build a descriptor basis.

    Parameters
    ----------
    species : list of str or int
        Elements the basis knows, e.g. ``["Mo"]`` or ``["Nb", "Mo", "Ta", "W"]``.
    cutoff : float
        Cutoff radius r_c in Å.
    n_max, l_max : int
        LE size: every (n, l) with z_nl^2 <= (n_max π)^2 and l <= l_max is kept (see radial_basis).
    body_order : int
        Highest body order ν of the invariants (one of ``SUPPORTED_BODY_ORDERS``).
    cutoff_width : float or None
        Width δ (Å) of the shifted-cosine switching region; default min(1 Å, r_c / 2).
    embedding : None or array
        Alchemical compression u, see the module docstring.
    spline_tolerance : float
        Largest allowed spline error relative to max |S_nl| of each radial function.
    budgets : dict or None
        For body orders 3..5, {ν: maximum Σ_i ε(n_i, l_i)} with ε = (z_nl/π)² the LE eigenvalue in
        units of (π/r_c)²; default lepot.calculator.couplings.DEFAULT_BUDGETS.
    l_max_by_order : dict or None
        For body orders 3..5, {ν: highest l of any factor} (ACE's per-order l_max); the angular cost of
        an invariant grows as l², so this caps the cost per invariant. Default: ``l_max`` for every order.
    core_repulsion : CoreRepulsion or None
        Species pairs handed over to ZBL at short range (see CoreRepulsion); their radii are checked
        against the cutoff when a kernel is built.
    contraction : Contraction or None
        Tensor-reduced channels: the invariants of body order >= contraction.from_body_order become
        products of them (docs/compression.md); W_l must have shape [K_l][n_pseudo][n_l].
    """
    numbers = parse_species(species)
    if body_order not in SUPPORTED_BODY_ORDERS:
        raise ValueError(f"body_order must be one of {SUPPORTED_BODY_ORDERS}, got {body_order}")
    radial = make_radial_basis(cutoff, n_max, l_max, cutoff_width)
    spline = radial.tabulate(spline_tolerance)
    embedding = core_layout_embedding(embedding, len(numbers), radial.n_radial[0])
    eigenvalues = radial.eigenvalues()
    if contraction is not None:
        _check_contraction(contraction, radial.n_radial, embedding.shape[1])
    couplings = build_couplings(
        radial.n_radial, embedding.shape[1], body_order, eigenvalues, budgets, l_max_by_order,
        None if contraction is None else contraction.channels,
        3 if contraction is None else contraction.from_body_order,
        contraction is not None and contraction.diagonal,
    )
    if core_repulsion is not None:
        symbols = {chemical_symbols[z] for z in numbers}
        unknown = sorted({s for pair in core_repulsion.pairs for s in pair} - symbols)
        if unknown:
            raise ValueError(f"core repulsion names {unknown}, not among the species {sorted(symbols)}")
    return Basis(numbers, radial, spline, embedding, couplings, body_order, core_repulsion, contraction)


def _check_contraction(contraction, n_radial, n_pseudo):
    """ValueError naming the problem if the contraction does not fit the density layout."""
    if len(contraction.channels) != len(n_radial) or len(contraction.weights) != len(n_radial):
        raise ValueError(f"contraction needs channel counts and weights for each of the {len(n_radial)} angular orders")
    for l, (k_l, w) in enumerate(zip(contraction.channels, contraction.weights)):
        if np.shape(w) != (k_l, n_pseudo, n_radial[l]):
            raise ValueError(f"contraction weights of l = {l} have shape {np.shape(w)}, expected "
                             f"[{k_l}][{n_pseudo}][{n_radial[l]}] (K_l, pseudo-elements, radial functions)")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"contraction weights of l = {l} contain NaN or inf")
    if not any(contraction.channels):
        raise ValueError("a contraction needs K_l > 0 for some l")
    if contraction.from_body_order < 2:
        raise ValueError(f"contracted channels are for body orders >= 2, got from {contraction.from_body_order}")


__all__ = ["Basis", "Contraction", "CoreRepulsion", "Couplings", "RadialBasis", "SplineTable", "build_basis", "parse_species"]
