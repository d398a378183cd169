"""Learning the tensor-reduced channels jointly with the linear weights (variable projection).

Parameters θ: the contraction weights W_l[k][p][n] of every l, flattened in the core's order
(lepot.calculator.basis.Contraction.flat_weights). The loss and its minimisation are those of
lepot.fitting.embedding_learning (the same L(θ), the same fixed D₀ and μ from GCV at θ₀, the same exact
envelope-theorem gradient and L-BFGS); only the parameters and the derivative basis differ.

Derivative basis. With Ã_{k,lm} = Σ_{p,n} W_l[k][p][n] A_{p,nlm},

    ∂Ã_{k,lm} / ∂W_l[k][p][n] = A_{p,nlm},

so Σ_q w_q(σ) ∂B_q/∂W_l[k][p][n] is every term of every feature with one factor slot on a channel
Ã_{k,l·} (of this l and k) replaced by the same m of A_{p,n l ·}, coefficient c_t w_q(σ): a polynomial in the
same extended density [A ; Ã], which the compiled descriptor kernel evaluates with its exact position and
strain gradients. One feature per (centre species σ, parameter); its rows for centres of species σ are
exactly ∂(X w)/∂θ.
"""

import logging
from dataclasses import replace

import numpy as np

from lepot.calculator import Model, build_basis

from .data import stratified_sample
from .embedding_learning import (EmbeddingProblem, derivative_jacobian, learn_embedding, pack_derivative_couplings,
                                 wait_without_spinning)
from .progress import progress_bar

log = logging.getLogger("lepot.fitting")


def contracted_slots(basis):
    """(l, k, m index) of every index of the extended density [A ; Ã], each [n_extended], -1 on A's part."""
    contraction, n_radial = basis.contraction, basis.radial.n_radial
    n_density = basis.n_pseudo * sum(n * (2 * l + 1) for l, n in enumerate(n_radial))
    decoded = [(l, k, mm) for l, k_l in enumerate(contraction.channels) for k in range(k_l) for mm in range(2 * l + 1)]
    table = np.full((n_density + len(decoded), 3), -1, dtype=np.int64)
    table[n_density:] = np.asarray(decoded, dtype=np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def contraction_derivative_basis(basis, species_coefficients):
    """The derivative basis of the module docstring; species_coefficients w_q(σ) [S][n_features].
    Features are ordered (σ, parameter), parameter fastest; returns (basis, n_parameters)."""
    couplings, contraction = basis.couplings, basis.contraction
    n_species, n_pseudo = basis.n_species, basis.n_pseudo
    n_radial = np.asarray(basis.radial.n_radial)
    nlm_offset = np.concatenate([[0], np.cumsum([n * (2 * l + 1) for l, n in enumerate(n_radial)])])
    n_nlm = int(nlm_offset[-1])
    weight_offset = np.concatenate([[0], np.cumsum([k * n_pseudo * n for k, n in zip(contraction.channels, n_radial)])])
    n_parameters = int(weight_offset[-1])
    slot_l, slot_k, slot_m = contracted_slots(basis)

    degrees = np.diff(couplings.term_factor_offsets)
    max_degree = int(degrees.max(initial=1))
    features, coefficients, factor_rows = [], [], []  # factor_rows: [n_new_terms][max_degree], -1 padded
    for degree in np.unique(degrees):
        selected = np.flatnonzero(degrees == degree)
        starts = couplings.term_factor_offsets[selected]
        factors = couplings.factors[starts[:, None] + np.arange(degree)]  # [n_terms_d][degree]
        term_weights = species_coefficients[:, couplings.term_feature[selected]] * couplings.term_coefficient[selected]
        for slot in range(degree):
            on = np.flatnonzero(slot_l[factors[:, slot]] >= 0)  # terms whose slot is a contracted coefficient
            a = factors[on, slot]
            l, k, mm = slot_l[a], slot_k[a], slot_m[a]
            for p in range(n_pseudo):
                for n in range(int(n_radial.max())):
                    valid = n < n_radial[l]
                    replaced = np.full((valid.sum(), max_degree), -1, dtype=np.int64)
                    replaced[:, :degree] = factors[on[valid]]
                    replaced[:, slot] = p * n_nlm + nlm_offset[l[valid]] + n * (2 * l[valid] + 1) + mm[valid]
                    parameter = weight_offset[l[valid]] + (k[valid] * n_pseudo + p) * n_radial[l[valid]] + n
                    for sigma in range(n_species):
                        weight = term_weights[sigma][on[valid]]
                        keep = weight != 0
                        features.append(sigma * n_parameters + parameter[keep])
                        coefficients.append(weight[keep])
                        factor_rows.append(replaced[keep])
    derivative_couplings = pack_derivative_couplings("contraction derivative", n_species * n_parameters, features,
                                                     coefficients, factor_rows)
    return replace(basis, couplings=derivative_couplings), n_parameters


class ContractionProblem(EmbeddingProblem):
    """L(θ) and dL/dθ for θ = the contraction weights (flattened), with every other setting of the basis
    (embedding, body order, budgets, core repulsion) fixed. Centre weights are per species."""

    def __init__(self, species, basis_options, structures, row_weights, initial, fit_reference_energies,
                 given_reference_energies=None, core_model=None, embedding=None):
        super().__init__(species, basis_options, structures, row_weights, 1, False, "species", fit_reference_energies,
                         given_reference_energies, core_model)
        self.initial, self.embedding = initial, embedding

    def shape(self):
        return (int(self.initial.flat_weights().size),)

    def contraction(self, theta):
        """The Contraction with weights θ (the channel counts and products of the initial one)."""
        weights, start = [], 0
        for w in self.initial.weights:
            weights.append(np.asarray(theta[start : start + w.size]).reshape(w.shape))
            start += w.size
        return replace(self.initial, weights=tuple(weights))

    def basis(self, theta):
        return build_basis(self.species, embedding=self.embedding, contraction=self.contraction(theta),
                           **self.basis_options)

    def centre_embedding(self, theta):
        return None

    def loss_and_gradient(self, theta):
        theta = np.asarray(theta, dtype=float)
        loss, w, residual, builder = self._inner_fit(theta)
        derivative_basis, n_parameters = contraction_derivative_basis(builder.basis, builder.species_coefficients(w))
        derivative_rows = self._builder(derivative_basis, None, targets=False)
        jacobian = derivative_jacobian(derivative_rows, self.structures, self.n_species, derivative_basis.n_features,
                                       n_parameters, len(residual))  # [n_rows][n_parameters]
        return loss, 2.0 * (residual @ jacobian) / len(residual)


def learned_contraction(problem, learned):
    """The Contraction of a LearnedEmbedding result of learn_embedding() run on a ContractionProblem."""
    return problem.contraction(np.asarray(learned.embedding).reshape(-1))


def learn_fit_contraction(config, splits, initial, basis_options, embedding, fit_e0, given_e0, communicator=None,
                          progress=False):
    """The contraction step of `lepot fit` with model.tensor_reduction.learn: optimise W on a seeded sample of
    the training structures (rank 0; broadcast under MPI), from the principal-component contraction
    ``initial``; returns (Contraction, LearnedEmbedding with the loss history)."""
    rank = communicator.Get_rank() if communicator is not None else 0
    result = None
    if rank == 0:
        settings = config["model"]["tensor_reduction"]["learn"]
        train = splits["train"]
        count = min(settings.get("structures", 60), len(train))
        chosen = stratified_sample(train, count, config["solver"]["seed"])
        species = config["species"]
        core_model = Model.core_repulsion_only(build_basis(species, **dict(basis_options, body_order=1)))
        problem = ContractionProblem(species, basis_options, [train[i] for i in chosen], config["weights"], initial,
                                     fit_e0, given_e0, core_model, embedding)
        iterations = settings.get("iterations", 20)
        with progress_bar(iterations, "contraction (L-BFGS)", progress) as bar:
            learned = learn_embedding(problem, initial.flat_weights(), iterations, config["solver"]["tolerance"], bar)
        log.info("contraction learned: loss %.4g -> %.4g in %d iterations (%.1f s)", learned.losses[0],
                 learned.losses[-1], len(learned.losses) - 1, learned.seconds)
        result = (learned_contraction(problem, learned), learned)
    if communicator is not None:
        wait_without_spinning(communicator)
        result = communicator.bcast(result, root=0)
    return result


__all__ = ["ContractionProblem", "contraction_derivative_basis", "learn_fit_contraction", "learned_contraction"]
