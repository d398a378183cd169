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
    ν = 3..5: B = Σ_{m1..mν} T[m1..mν] Π_i A_{k_i n_i l_i m_i}         label (ν, j, ((k_i, n_i, l_i), ...))
            T runs over an orthonormal basis (index j) of the rotation- and inversion-invariant tensors
            of the sorted factor tuple: the sequential real Clebsch-Gordan couplings
            ((l1 l2)L1 l3)L2 ... -> l_ν, symmetrised over repeated identical factors, with exact linear
            dependence removed by an SVD (lepot.calculator.clebsch_gordan). Σ l_i must be even.
            Truncation: Σ_i ε(n_i, l_i) <= budget[ν] with ε = (z_nl / π)² the LE eigenvalue in units of
            (π / r_c)² (ε = (n+1)² for l = 0).
Features are ordered by body order, then l (ν ≤ 2) or the factor tuple (ν ≥ 3).
"""

import itertools

from dataclasses import dataclass

import numpy as np


class DensityIndex:
    """Flat indexing of A_{k, n l m} for a radial layout ``n_radial`` (n_l per l) and ``n_pseudo`` channels,
    and of the tensor-reduced channels Ã_{k,lm} (``contracted``: K_l per l, or None) after them: the
    channel (n_pseudo + k, 0) at l is Ã_k (core/density_contraction.hpp), index
    n_pseudo n_nlm + Σ_{j<l} K_j (2j+1) + k (2l+1) + l + m."""

    def __init__(self, n_radial, n_pseudo, contracted=None):
        self.n_radial = tuple(int(n) for n in n_radial)
        self.n_pseudo = int(n_pseudo)
        self.nlm_offset = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(self.n_radial)])])
        self.n_nlm = int(self.nlm_offset[-1])
        self.size = self.n_pseudo * self.n_nlm
        self.contracted = tuple(int(k) for k in contracted) if contracted is not None else (0,) * len(self.n_radial)
        if len(self.contracted) != len(self.n_radial):
            raise ValueError(f"{len(self.contracted)} contracted channel counts for {len(self.n_radial)} angular orders")
        self.contracted_offset = np.concatenate(
            [[0], np.cumsum([k * (2 * l + 1) for l, k in enumerate(self.contracted)])]
        )

    @property
    def l_max(self):
        return len(self.n_radial) - 1

    def index(self, k, n, l, m):
        if k >= self.n_pseudo:
            return int(self.size + self.contracted_offset[l] + (k - self.n_pseudo) * (2 * l + 1) + l + m)
        return int(k * self.n_nlm + self.nlm_offset[l] + n * (2 * l + 1) + l + m)

    def channels(self, l):
        """Density channels (k, n) present at angular order l, in canonical order."""
        return [(k, n) for k in range(self.n_pseudo) for n in range(self.n_radial[l])]

    def contracted_channels(self, l):
        """Tensor-reduced channels (n_pseudo + k, 0) at angular order l."""
        return [(self.n_pseudo + k, 0) for k in range(self.contracted[l])]

    def eigenvalue_key(self, k, n, l):
        """The (n, l) whose LE eigenvalue ranks channel (k, n, l) in the budget: its own for A; the k-th
        radial function's for the k-th contracted channel (principal components come smoothest first)."""
        if k >= self.n_pseudo:
            return (min(k - self.n_pseudo, self.n_radial[l] - 1), l)
        return (n, l)


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


def power_spectrum(index, contracted=False):
    """ν = 2: Σ_m A_{c1 l m} A_{c2 l m} / sqrt(2l+1) for c1 <= c2, as (label, [(coefficient, factors)]);
    with ``contracted`` over the tensor-reduced channels instead."""
    features = []
    for l in range(index.l_max + 1):
        channels = index.contracted_channels(l) if contracted else index.channels(l)
        coefficient = 1.0 / np.sqrt(2 * l + 1)
        for first in range(len(channels)):
            for second in range(first, len(channels)):
                (k1, n1), (k2, n2) = channels[first], channels[second]
                terms = [
                    (coefficient, (index.index(k1, n1, l, m), index.index(k2, n2, l, m))) for m in range(-l, l + 1)
                ]
                features.append(((2, l, ((k1, n1), (k2, n2))), terms))
    return features


SUPPORTED_BODY_ORDERS = (1, 2, 3, 4, 5)
#: Default budgets on Σ ε(n_i, l_i) for ν = 3, 4, 5 (see the module docstring); ν = 3's 70 was chosen on the
#: validation splits of mlearn Mo and Si (benchmarks/default_settings.py), and is lepot fit's default too.
DEFAULT_BUDGETS = {3: 70.0, 4: 30.0, 5: 20.0}


def _path_tensors(ls):
    """Sequential real CG coupling tensors [Π(2 l_i + 1)] of the l-tuple that are rotation invariants."""
    from .clebsch_gordan import real_clebsch_gordan

    paths = [(np.eye(2 * ls[0] + 1), ls[0])]  # (tensor with a trailing free index M of degree L, L)
    for l in ls[1:-1]:
        extended = []
        for tensor, big_l in paths:
            for new_l in range(abs(big_l - l), big_l + l + 1):
                coupling = real_clebsch_gordan(big_l, l, new_l)
                if not coupling.any():
                    continue
                extended.append((np.tensordot(tensor, coupling, axes=([-1], [0])), new_l))
        paths = extended
    return [tensor for tensor, big_l in paths if big_l == ls[-1] and tensor.any()]


def _symmetrise(tensor, groups):
    """Average of ``tensor`` over all permutations of axes within each group of identical factors."""
    result = np.zeros_like(tensor)
    per_group = [list(itertools.permutations(group)) for group in groups]
    count = 0
    for choice in itertools.product(*per_group):
        axes = list(range(tensor.ndim))
        for group, permuted in zip(groups, choice):
            for position, source in zip(group, permuted):
                axes[position] = source
        result += np.transpose(tensor, axes)
        count += 1
    return result / count


_INVARIANT_CACHE = {}


def invariant_tensors(ls, groups):
    """Orthonormal basis (list of tensors) of the invariants of a sorted l-tuple with identical-factor groups."""
    key = (tuple(ls), tuple(tuple(g) for g in groups))
    if key not in _INVARIANT_CACHE:
        tensors = [_symmetrise(t, groups) for t in _path_tensors(ls)] if sum(ls) % 2 == 0 else []
        basis = []
        if tensors:
            matrix = np.stack([t.ravel() for t in tensors])
            _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
            rank = int(np.sum(singular > 1e-10 * singular[0])) if singular.size and singular[0] > 0 else 0
            basis = [vt[j].reshape(tensors[0].shape) for j in range(rank)]
            for b in basis:  # deterministic sign: largest entry positive
                flat = b.ravel()
                if flat[np.argmax(np.abs(flat))] < 0:
                    b *= -1
        _INVARIANT_CACHE[key] = basis
    return _INVARIANT_CACHE[key]


def _factor_tuples(index, order, eigenvalues, budget, l_max=None, contracted=False, diagonal=False):
    """Sorted tuples of ``order`` density channels (k, n, l) within ``budget`` on Σ ε, all with l <= ``l_max``,
    with the groups of identical factors of each (the canonical enumeration of the ν >= 3 invariants); with
    ``contracted`` of the tensor-reduced channels instead, and with ``diagonal`` only tuples whose factors
    all share one channel index k (Darby et al.'s tensor-reduced products)."""
    if diagonal is True:
        for k in sorted({k for l in range(index.l_max + 1) for k, _ in index.contracted_channels(l)}):
            yield from _factor_tuples(index, order, eigenvalues, budget, l_max, contracted, (k,))
        return
    l_top = index.l_max if l_max is None else min(int(l_max), index.l_max)
    channels = index.contracted_channels if contracted else index.channels
    items = [(k, n, l) for l in range(l_top + 1) for k, n in channels(l)]
    if isinstance(diagonal, tuple):  # one channel index k of the diagonal products
        items = [item for item in items if item[0] == diagonal[0]]
    items = [item for item in items if eigenvalues[index.eigenvalue_key(*item)] <= budget]
    items.sort(key=lambda item: (item[2], item[0], item[1]))
    cost = [eigenvalues[index.eigenvalue_key(*item)] for item in items]
    minimum = min(cost) if cost else 0.0

    def extend(chosen, start, spent):
        if len(chosen) == order:
            groups = [list(g) for _, g in itertools.groupby(range(order), key=lambda p: chosen[p])]
            yield [items[i] for i in chosen], groups
            return
        for i in range(start, len(items)):
            if spent + cost[i] + (order - len(chosen) - 1) * minimum > budget + 1e-9:
                continue
            yield from extend(chosen + [i], i, spent + cost[i])

    yield from extend([], 0, 0.0)


def higher_order_invariants(index, order, eigenvalues, budget, l_max=None, contracted=False, diagonal=False):
    """ν = ``order`` >= 3 invariants within ``budget`` on Σ ε (``eigenvalues``: ε per (n, l)) whose factors
    all have l <= ``l_max`` (None: every l of the density); with ``contracted`` products of the
    tensor-reduced channels (with ``diagonal`` only those of one channel index k)."""
    features = []
    for tuple_items, groups in _factor_tuples(index, order, eigenvalues, budget, l_max, contracted, diagonal):
        ls = [item[2] for item in tuple_items]
        for j, tensor in enumerate(invariant_tensors(ls, groups)):
            terms = {}
            for position in zip(*np.nonzero(np.abs(tensor) > 1e-13)):
                factors = tuple(sorted(index.index(k, n, l, int(m) - l) for (k, n, l), m in zip(tuple_items, position)))
                terms[factors] = terms.get(factors, 0.0) + float(tensor[position])
            kept = [(c, f) for f, c in sorted(terms.items()) if abs(c) > 1e-13]
            if kept:
                features.append(((order, j, tuple(tuple_items)), kept))
    return features


def count_features(n_radial, n_pseudo, body_order, eigenvalues=None, budgets=None, l_max_by_order=None,
                   contracted=None, contracted_from=3, diagonal=False):
    """Number of features ``build_couplings`` would build with these arguments, without building them
    (for estimating the size of a fit before it starts). An invariant tensor whose coupling terms all
    vanish would be dropped by the builder and is counted here, so this is an upper bound; for the
    orthonormal invariant tensors built here that does not happen."""
    index = DensityIndex(n_radial, n_pseudo, contracted)
    count = len(index.channels(0))
    if body_order >= 2:
        uses = index.contracted_channels if contracted is not None and contracted_from <= 2 else index.channels
        count += sum(len(uses(l)) * (len(uses(l)) + 1) // 2 for l in range(index.l_max + 1))
    if body_order >= 3:
        budgets = {**DEFAULT_BUDGETS, **{int(order): float(value) for order, value in (budgets or {}).items()}}
        for order in range(3, body_order + 1):
            for tuple_items, groups in _factor_tuples(
                index, order, eigenvalues, budgets[order], (l_max_by_order or {}).get(order),
                contracted is not None and contracted_from <= order, diagonal and contracted is not None,
            ):
                count += len(invariant_tensors([item[2] for item in tuple_items], groups))
    return count


def build_couplings(n_radial, n_pseudo, body_order, eigenvalues=None, budgets=None, l_max_by_order=None,
                    contracted=None, contracted_from=3, diagonal=False):
    """Couplings for all invariants of body order 1..``body_order`` over the given density layout.

    eigenvalues: {(n, l): ε} of the radial functions (needed for body_order >= 3);
    budgets: {ν: maximum Σ ε} for ν >= 3 (defaults: DEFAULT_BUDGETS);
    l_max_by_order: {ν: highest l of any factor} for ν >= 3 (default: the density's l_max);
    contracted: K_l per l of tensor-reduced channels (or None); the invariants of body order >=
    ``contracted_from`` (2 or more) are then products of those channels only, in place of A's; with
    ``diagonal`` the products of body order >= 3 take every factor from one channel index k.
    """
    if body_order not in SUPPORTED_BODY_ORDERS:
        raise ValueError(f"body_order must be one of {SUPPORTED_BODY_ORDERS}, got {body_order}")
    if contracted is not None and contracted_from < 2:
        raise ValueError(f"contracted channels are for body orders >= 2, got from {contracted_from}")
    index = DensityIndex(n_radial, n_pseudo, contracted)
    features = radial_invariants(index)
    if body_order >= 2:
        features += power_spectrum(index, contracted is not None and contracted_from <= 2)
    if body_order >= 3:
        if eigenvalues is None:
            raise ValueError("body orders >= 3 need the LE eigenvalues of the radial functions")
        budgets = {**DEFAULT_BUDGETS, **{int(order): float(value) for order, value in (budgets or {}).items()}}
        for order in range(3, body_order + 1):
            features += higher_order_invariants(
                index, order, eigenvalues, budgets[order], (l_max_by_order or {}).get(order),
                contracted is not None and contracted_from <= order, diagonal and contracted is not None,
            )
    return assemble(features)


def feature_roughness(labels, n_radial, n_pseudo, eigenvalues, contracted=None):
    """Σ_i ε(n_i, l_i) of every feature's factors, float [n_features] — the measure the budgets truncate,
    in units of (π/r_c)², ≥ 1 (ε(0, 0) = 1). A tensor-reduced channel k counts as the k-th radial function
    (DensityIndex.eigenvalue_key). Labels as Couplings.labels; eigenvalues: {(n, l): ε}."""
    index = DensityIndex(n_radial, n_pseudo, contracted)
    roughness = np.empty(len(labels))
    for q, (order, l, channels) in enumerate(labels):
        if order == 1:
            items = [(channels[0][0], channels[0][1], 0)]
        elif order == 2:
            items = [(k, n, l) for k, n in channels]
        else:
            items = channels
        roughness[q] = sum(eigenvalues[index.eigenvalue_key(*item)] for item in items)
    return roughness


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
