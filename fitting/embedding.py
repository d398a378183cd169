"""Alchemical compression from data: a principal-component embedding of the element-resolved density.

For the training structures, every atom's element-resolved density A_{a, nlm}(i) gives, for each
radial-angular channel nlm, a vector over species a, with the second-moment matrix

    C_ab = Σ_i Σ_nlm A_{a,nlm}(i) A_{b,nlm}(i)                  (shape [n_species][n_species]).

The first pseudo-element is the uniform (total) density, u_0 = (1, …, 1)/√S, which sees every neighbour
whatever its element (the weighted density of SNAP is of this kind); the other K − 1 are the leading
eigenvectors of P C P, P = 1 − u_0 u_0ᵀ: the largest element-resolved variation the total density does
not carry. Not the leading eigenvectors of C itself: on data that is mostly one element per structure C
is nearly diagonal, so those are nearly one-hot on the K elements with the most density weight and leave
the other elements' neighbours almost invisible (Nb–Mo–Ta–W, K = 1: u = [−0.01, 0.76, −0.02, −0.65],
whose fit missed Nb and Ta by 60–70 meV/atom; docs/compression.md). With ``per_radial_channel`` a
separate C^(n) (summing only the channels of radial index n) gives u_{k n a}, the radial-channel-dependent
form of tensor-reduced ACE. Eigenvectors are unit vectors with the sign fixed so that their largest
component is positive, so the result is deterministic. This is a fixed starting embedding; optimising it
jointly with the weights is a separate step.

Tensor-reduced channels (:func:`principal_contraction`) take the same idea per angular order l and over
the (pseudo-element, radial) channels together: with a_{lm}(i) the vector of A_{p,nlm}(i) over (p, n),

    C_l = Σ_i Σ_m a_{lm}(i) a_{lm}(i)ᵀ                          (shape [n_pseudo n_l][n_pseudo n_l])

and the K_l leading eigenvectors of C_l are the rows W_l[k] of the contraction Ã_{k,lm} = W_l[k] · a_{lm}:
the data-driven "optimal radial basis" of each l.
"""

import numpy as np

from lepot.calculator import Contraction, DescriptorCalculator, build_basis


def principal_embedding(species, structures, n_pseudo, basis_options, per_radial_channel=False):
    """u of shape [n_pseudo][n_species] (or [n_pseudo][n_radial(0)][n_species] per radial channel)."""
    if not 1 <= n_pseudo <= len(species):
        raise ValueError(f"compression must be between 1 and the number of species ({len(species)}), got {n_pseudo}")
    options = dict(basis_options, body_order=1, budgets=None)  # only the density is needed here
    basis = build_basis(species, **options)
    calculator = DescriptorCalculator(basis)
    n_species, n_radial = basis.n_species, basis.radial.n_radial
    n_nlm = sum(n * (2 * l + 1) for l, n in enumerate(n_radial))
    radial_of_nlm = np.concatenate([np.repeat(np.arange(n), 2 * l + 1) for l, n in enumerate(n_radial)])
    moments = np.zeros((n_radial[0], n_species, n_species))  # shape [n][species][species]
    for structure in structures:
        density = calculator.density(structure.atoms).reshape(-1, n_species, n_nlm)  # [i][a][nlm]
        for n in range(n_radial[0]):
            block = density[:, :, radial_of_nlm == n]
            moments[n] += np.einsum("iac,ibc->ab", block, block)
    if per_radial_channel:
        return np.stack([_uniform_then_leading(moments[n], n_pseudo) for n in range(n_radial[0])], axis=1)
    return _uniform_then_leading(moments.sum(axis=0), n_pseudo)


def _uniform_then_leading(moments, count):
    """[count][S]: the uniform unit vector, then the count − 1 leading eigenvectors of ``moments`` [S][S] with
    the uniform direction projected out (module docstring)."""
    n_species = moments.shape[0]
    uniform = np.full(n_species, 1.0 / np.sqrt(n_species))
    projector = np.eye(n_species) - np.outer(uniform, uniform)
    return np.vstack([uniform, _leading_vectors(projector @ moments @ projector, count - 1)])


def _leading_vectors(matrix, count):
    values, vectors = np.linalg.eigh(matrix)
    leading = vectors[:, np.argsort(values)[::-1][:count]].T  # [count][n_species]
    signs = np.sign(leading[np.arange(count), np.argmax(np.abs(leading), axis=1)])
    return leading * signs[:, None]


def principal_contraction(species, structures, channels, basis_options, embedding=None, from_body_order=3,
                          diagonal=False):
    """Contraction with W_l the K_l leading principal directions of the training densities (module docstring).

    channels: K (then K_l = min(K, n_pseudo n_l)) or a list of K_l per l; embedding: the density's
    compression u (None: element-resolved)."""
    options = dict(basis_options, body_order=1, budgets=None)
    basis = build_basis(species, embedding=embedding, **options)
    calculator = DescriptorCalculator(basis)
    n_pseudo, n_radial = basis.n_pseudo, basis.radial.n_radial
    offsets = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(n_radial)])])
    moments = [np.zeros((n_pseudo * n, n_pseudo * n)) for n in n_radial]  # [l] -> [(p, n)][(p, n)]
    for structure in structures:
        density = calculator.density(structure.atoms).reshape(-1, n_pseudo, offsets[-1])  # [i][p][nlm]
        for l, n in enumerate(n_radial):
            block = density[:, :, offsets[l] : offsets[l + 1]].reshape(-1, n_pseudo, n, 2 * l + 1)
            vectors = block.transpose(0, 3, 1, 2).reshape(-1, n_pseudo * n)  # [(i, m)][(p, n)]
            moments[l] += vectors.T @ vectors
    counts = [min(int(channels), n_pseudo * n) for n in n_radial] if np.isscalar(channels) else [
        min(int(k), n_pseudo * n) for k, n in zip(channels, n_radial)]
    weights = tuple(
        _leading_vectors(moments[l], counts[l]).reshape(counts[l], n_pseudo, n) if counts[l] else np.zeros((0, n_pseudo, n))
        for l, n in enumerate(n_radial))
    return Contraction(tuple(counts), weights, from_body_order, diagonal)
