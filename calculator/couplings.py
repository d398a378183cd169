"""Invariants (B basis) as sparse coupling lists over the density coefficients A.

Every invariant is a polynomial in A, stored as terms (coefficient, density indices):

    B_q = Σ_{t : feature(t) = q} c_t Π_s A[factor(t, s)]

which is the representation the compiled core evaluates (core/couplings.hpp) for every body order.

Density index (shared with core/density_expansion.hpp):
    a = k * n_nlm + nlm_offset[l] + n (2l + 1) + (l + m)
with k the pseudo-element, n < n_radial[l], m = -l..l.

Body orders implemented here, enumerated canonically (each unordered product once):
    ν = 1:  B = A_{k n 0 0}                                           label (1, 0, ((k, n),))
    ν = 2:  B = Σ_m A_{k1 n1 l m} A_{k2 n2 l m} / sqrt(2l + 1)          label (2, l, ((k1, n1), (k2, n2)))
            with (k1, n1) <= (k2, n2) lexicographically; this is the SOAP power spectrum.
Features are ordered by body order, then l, then the channel tuple.
"""

from dataclasses import dataclass

import numpy as np


class DensityIndex:
    """Flat indexing of A_{k, n l m} for a radial layout ``n_radial`` (n_l per l) and ``n_pseudo`` channels."""

    def __init__(self, n_radial, n_pseudo):
        self.n_radial = tuple(int(n) for n in n_radial)
        self.n_pseudo = int(n_pseudo)
        self.nlm_offset = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(self.n_radial)])])
        self.n_nlm = int(self.nlm_offset[-1])
        self.size = self.n_pseudo * self.n_nlm

    @property
    def l_max(self):
        return len(self.n_radial) - 1

    def index(self, k, n, l, m):
        return int(k * self.n_nlm + self.nlm_offset[l] + n * (2 * l + 1) + l + m)

    def channels(self, l):
        """Density channels (k, n) present at angular order l, in canonical order."""
        return [(k, n) for k in range(self.n_pseudo) for n in range(self.n_radial[l])]


@dataclass(frozen=True)
class Couplings:
    """Sparse coupling lists of a set of invariants.

    labels : tuple, one per feature: (body order ν, l, channel tuple)
    term_feature : int32 [n_terms]
    term_coefficient : float64 [n_terms]
    term_factor_offsets : int32 [n_terms + 1], factors of term t are factors[offsets[t]:offsets[t+1]]
    factors : int32 [n_factors], density indices
    """

    labels: tuple
    term_feature: np.ndarray
    term_coefficient: np.ndarray
    term_factor_offsets: np.ndarray
    factors: np.ndarray

    @property
    def n_features(self):
        return len(self.labels)

    @property
    def body_order(self):
        """ν of every feature, int [n_features]."""
        return np.array([label[0] for label in self.labels], dtype=np.int64)

    def counts_by_body_order(self):
        orders, counts = np.unique(self.body_order, return_counts=True)
        return {int(o): int(c) for o, c in zip(orders, counts)}


def radial_invariants(index):
    """ν = 1: A_{k n 0 0} for every channel (k, n) of l = 0, as (label, [(coefficient, factors)])."""
    return [((1, 0, ((k, n),)), [(1.0, (index.index(k, n, 0, 0),))]) for k, n in index.channels(0)]


def power_spectrum(index):
    """ν = 2: Σ_m A_{c1 l m} A_{c2 l m} / sqrt(2l+1) for c1 <= c2, as (label, [(coefficient, factors)])."""
    features = []
    for l in range(index.l_max + 1):
        channels = index.channels(l)
        coefficient = 1.0 / np.sqrt(2 * l + 1)
        for first in range(len(channels)):
            for second in range(first, len(channels)):
                (k1, n1), (k2, n2) = channels[first], channels[second]
                terms = [
                    (coefficient, (index.index(k1, n1, l, m), index.index(k2, n2, l, m))) for m in range(-l, l + 1)
                ]
                features.append(((2, l, ((k1, n1), (k2, n2))), terms))
    return features


_BUILDERS = {1: radial_invariants, 2: power_spectrum}
SUPPORTED_BODY_ORDERS = tuple(sorted(_BUILDERS))


def build_couplings(n_radial, n_pseudo, body_order):
    """Couplings for all invariants of body order 1..``body_order`` over the given density layout."""
    if body_order not in _BUILDERS:
        raise ValueError(f"body_order must be one of {SUPPORTED_BODY_ORDERS}, got {body_order}")
    index = DensityIndex(n_radial, n_pseudo)
    features = []
    for order in range(1, body_order + 1):
        features.extend(_BUILDERS[order](index))
    return assemble(features)


def assemble(features):
    """Pack [(label, [(coefficient, factors), ...]), ...] into a :class:`Couplings`."""
    labels, term_feature, coefficients, offsets, factors = [], [], [], [0], []
    for q, (label, terms) in enumerate(features):
        labels.append(label)
        for coefficient, term_factors in terms:
            term_feature.append(q)
            coefficients.append(coefficient)
            factors.extend(term_factors)
            offsets.append(len(factors))
    return Couplings(
        labels=tuple(labels),
        term_feature=np.asarray(term_feature, dtype=np.int32),
        term_coefficient=np.asarray(coefficients, dtype=np.float64),
        term_factor_offsets=np.asarray(offsets, dtype=np.int32),
        factors=np.asarray(factors, dtype=np.int32),
    )
