"""Learning the alchemical embedding jointly with the linear weights (variable projection).

Parameters θ: the neighbour embedding u_{k n}(a) (shape [K][S], the same for every radial index n, or
[K][N][S] per radial channel). With ``centre="compressed"`` the centre weights are compressed through
the same embedding, w_q(a) = Σ_k u_{k 0}(a) W_q(k) (so the number of weight columns is K · n_features,
independent of the number of species S); with ``centre="species"`` every species has its own weights.

Loss, on a fixed sample of training structures with the rows of lepot.fitting.design (already weighted):

    L(θ) = min_w [ |X(θ) w - y|² + μ |D₀ w|² ] / n_rows

D₀ are the column norms of X(θ₀) and μ = λ_rel S_max² with λ_rel chosen at θ₀ by cross-validation over the
sample's structures (EmbeddingProblem.calibrate),
both kept fixed while θ moves, so L is a smooth function of θ alone. The inner minimisation is an exact
ridge solve (variable projection); by the envelope theorem

    dL/dθ = 2 (X w* - y)ᵀ J(θ) / n_rows,      J = ∂(X(θ) w)/∂θ at fixed w = w*,

and J is computed exactly, for energies, forces and stresses alike, by the compiled descriptor kernel:

- through the density: ∂A_{k,nlm}/∂u_{k n}(s) = Ã_{s,nlm}, the element-s density. A "derivative basis"
  runs on the augmented density [A_0..A_{K-1}, Ã_0..Ã_{S-1}] (embedding [u; one-hot]) with one feature
  per (centre species σ, parameter p): D_{σ p} = Σ_q w_q(σ) ∂B_q/∂θ_p, i.e. every term of every feature
  with one factor slot of channel (k, n) replaced by the same (n l m) of Ã_s, coefficient c_t w_q(σ).
  Its rows (lepot.fitting.design, centre species σ only) are exactly ∂(X w)/∂θ_p.
- through the centre weights (``centre="compressed"``): ∂(X w)/∂u_{k0}(s) = X_s W(k), with X_s the rows
  of the centres of species s alone.

θ is optimised by L-BFGS (scipy) from the principal-component embedding (lepot.fitting.embedding). The
sample is drawn with the seed, evenly over the config_types (lepot.fitting.data.stratified_sample, so that a
small group such as a few multi-element cells is in it), so the result is reproducible. The loss at every iteration is kept for
the report.
"""

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.linalg import qr_multiply, solve_triangular
from scipy.optimize import minimize

from lepot.calculator import Model, build_basis
from lepot.calculator.couplings import Couplings

from .data import cross_validation_folds, stratified_sample
from .design import RowBuilder, TriangularFactor
from .embedding import principal_embedding
from .metrics import error_table, predict
from .progress import progress_bar
from .solver import CrossValidation, RidgeProblem, select_relative_lambda

log = logging.getLogger("lepot.fitting")
SAMPLE_FOLDS = 5  # cross-validation folds over the sample's structures for μ


@dataclass
class LearnedEmbedding:
    embedding: np.ndarray  # [K][S] or [K][N][S], the user form of lepot.calculator.basis
    losses: list = field(default_factory=list)  # L(θ) at the start and after every L-BFGS iteration
    accuracy_against_k: list = field(default_factory=list)  # rows of accuracy_against_compression()
    n_structures: int = 0
    n_rows: int = 0
    seconds: float = 0.0
    message: str = ""


def pack_derivative_couplings(name, n_features, features, coefficients, factor_rows):
    """Couplings of a derivative basis from lists of term blocks: features (int [n]), coefficients ([n]) and
    factor_rows ([n][max_degree], -1 padded), grouped by feature as the core requires."""
    feature = np.concatenate(features)
    order = np.argsort(feature, kind="stable")
    rows = np.concatenate(factor_rows)[order]
    return Couplings(
        labels=tuple((name, int(q)) for q in range(n_features)),
        term_feature=feature[order].astype(np.int32),
        term_coefficient=np.concatenate(coefficients)[order].astype(np.float64),
        term_factor_offsets=np.r_[0, np.cumsum((rows >= 0).sum(axis=1))].astype(np.int32),
        factors=rows[rows >= 0].astype(np.int32),  # row-major: each term's factors in order
    )


def derivative_jacobian(derivative_rows, structures, n_species, n_features, n_parameters, n_rows):
    """J [n_rows][n_parameters] = ∂(X w)/∂θ from a derivative basis with features (σ, parameter): the rows of
    centres of species σ in the columns of feature (σ, ·), summed over σ."""
    jacobian = np.zeros((n_rows, n_parameters))
    start = 0
    for structure in structures:
        rows, _ = derivative_rows.rows(structure)
        count = rows.shape[0]
        blocks = rows[:, : n_species * n_features].reshape(count, n_species, n_species, n_parameters)
        jacobian[start : start + count] = np.einsum("rssp->rp", blocks)
        start += count
    return jacobian


def embedding_derivative_basis(basis, species_coefficients, per_channel):
    """The derivative basis described in the module docstring.

    species_coefficients: w_q(σ) [S][n_features]. Features are ordered (σ, p) with p = (k, s) or (k, n, s),
    s fastest, so feature σ · n_parameters + p is Σ_q w_q(σ) ∂B_q/∂θ_p.
    """
    couplings = basis.couplings
    n_species, n_pseudo = basis.n_species, basis.n_pseudo
    n_radial = basis.radial.n_radial
    n_nlm = sum(n * (2 * l + 1) for l, n in enumerate(n_radial))
    radial_of_nlm = np.concatenate([np.repeat(np.arange(n), 2 * l + 1) for l, n in enumerate(n_radial)])
    n_channels = n_radial[0] if per_channel else 1
    n_parameters = n_pseudo * n_channels * n_species

    degrees = np.diff(couplings.term_factor_offsets)
    max_degree = int(degrees.max(initial=1))
    features, coefficients, factor_rows = [], [], []  # factor_rows: [n_new_terms][max_degree], -1 padded
    for degree in np.unique(degrees):
        selected = np.flatnonzero(degrees == degree)  # terms of this degree
        starts = couplings.term_factor_offsets[selected]
        factors = couplings.factors[starts[:, None] + np.arange(degree)]  # [n_terms_d][degree]
        term_weights = species_coefficients[:, couplings.term_feature[selected]] * couplings.term_coefficient[selected]
        for slot in range(degree):
            a = factors[:, slot]
            k, nlm = a // n_nlm, a % n_nlm
            channel = radial_of_nlm[nlm] if per_channel else np.zeros_like(a)
            for s in range(n_species):
                replaced = np.full((len(selected), max_degree), -1, dtype=np.int64)
                replaced[:, :degree] = factors
                replaced[:, slot] = (n_pseudo + s) * n_nlm + nlm
                parameter = (k * n_channels + channel) * n_species + s
                for sigma in range(n_species):
                    keep = term_weights[sigma] != 0
                    features.append(sigma * n_parameters + parameter[keep])
                    coefficients.append(term_weights[sigma][keep])
                    factor_rows.append(replaced[keep])
    derivative_couplings = pack_derivative_couplings("embedding derivative", n_species * n_parameters, features,
                                                     coefficients, factor_rows)
    one_hot = np.repeat(np.eye(n_species)[:, :, None], basis.embedding.shape[2], axis=2)
    augmented = np.concatenate([basis.embedding, one_hot], axis=1)  # [S][K+S][N]
    return replace(basis, embedding=np.ascontiguousarray(augmented), couplings=derivative_couplings), n_parameters


class EmbeddingProblem:
    """L(θ) and dL/dθ on a sample of structures (module docstring).

    θ is the embedding u in the user form of lepot.calculator.basis, flattened: [K][S] or, with
    ``per_channel``, [K][N][S]. The loss is in the units of the weighted rows (squared, per row).
    Call calibrate() once before loss() or loss_and_gradient().
    """

    def __init__(self, species, basis_options, structures, row_weights, n_pseudo, per_channel, centre,
                 fit_reference_energies, given_reference_energies=None, core_model=None):
        if centre not in ("species", "compressed"):
            raise ValueError(f"centre must be 'species' or 'compressed', got {centre!r}")
        self.species, self.basis_options, self.structures = species, basis_options, structures
        self.row_weights, self.n_pseudo, self.per_channel, self.centre = row_weights, n_pseudo, per_channel, centre
        self.fit_e0, self.given_e0, self.core_model = fit_reference_energies, given_reference_energies, core_model
        self.n_species = len(species)
        self.n_channels = build_basis(species, **dict(basis_options, body_order=1)).radial.n_radial[0] if per_channel else 1
        self.scale = None  # D₀
        self.mu = None  # μ
        self.n_rows = 0  # rows of the sample

    def shape(self):
        return (self.n_pseudo, self.n_channels, self.n_species) if self.per_channel else (self.n_pseudo, self.n_species)

    def basis(self, theta):
        return build_basis(self.species, embedding=np.asarray(theta).reshape(self.shape()), **self.basis_options)

    def centre_embedding(self, theta):
        if self.centre == "species":
            return None
        u = np.asarray(theta).reshape(self.shape())
        return u[:, 0, :] if self.per_channel else u

    def _builder(self, basis, centre_embedding, targets=True):
        core_model = self.core_model if targets else None  # derivative rows: only X is used
        return RowBuilder(basis, self.row_weights, self.fit_e0, self.given_e0, core_model, centre_embedding)

    def _blocks(self, theta):
        """([(X [rows][columns], y [rows]) per sample structure], the row builder) at θ."""
        builder = self._builder(self.basis(theta), self.centre_embedding(theta))
        return [builder.rows(structure) for structure in self.structures], builder

    def design(self, theta):
        """(X, y) of the sample at θ."""
        blocks, builder = self._blocks(theta)
        return np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]), builder

    def cross_validation(self, theta):
        """(CrossValidation over the sample's structures at θ, the TriangularFactor of the whole sample):
        SAMPLE_FOLDS folds dealt with seed 0 (one structure per fold when there are fewer), the rows of
        a structure never split between fitting and scoring."""
        blocks, _ = self._blocks(theta)
        folds = min(SAMPLE_FOLDS, len(blocks))
        assignment = cross_validation_folds(len(blocks), folds, 0)
        fold_factors = []
        for k in range(folds):
            members = [block for block, fold in zip(blocks, assignment) if fold == k]
            factor = TriangularFactor(members[0][0].shape[1])
            factor.add(np.vstack([x for x, _ in members]), np.concatenate([y for _, y in members]))
            fold_factors.append(factor)
        whole = TriangularFactor(fold_factors[0].r.shape[1])
        whole.merge(fold_factors)
        return CrossValidation(fold_factors), whole

    def calibrate(self, theta, tolerance):
        """Fix D₀ and μ at θ₀: λ_rel by cross-validation over the sample's structures (cross_validation()),
        μ = λ_rel S_max² of the whole sample. Not GCV: its leave-one-row-out reads the strongly correlated
        force rows of a few structures as independent data and chooses no ridge at all (relative 4e-13 on
        a 100-structure NbMoTaW sample, whose fit then missed structures of a group it held only four of
        by 50 eV/atom; docs/compression.md)."""
        validation, whole = self.cross_validation(theta)
        relative_lambda = select_relative_lambda(validation.score, tolerance).relative_lambda
        problem = RidgeProblem(whole)
        self.scale = problem.scale
        self.mu = relative_lambda * problem.s_max2
        self.n_rows = whole.n_rows

    def solve_weights(self, x, y):
        """w* = argmin |X w - y|² + μ |D₀ w|², by Householder QR of the stacked rows [X/D₀; √μ 1] (full column
        rank for μ > 0; Qᵀ applied to the targets without forming Q; measured 7× faster than an SVD solve)."""
        scaled = x / self.scale
        stacked = np.vstack([scaled, np.sqrt(self.mu) * np.eye(x.shape[1])])
        target = np.concatenate([y, np.zeros(x.shape[1])])
        projected, r = qr_multiply(stacked, target, mode="right")
        return solve_triangular(r, projected) / self.scale

    def model(self, theta):
        """The linear model of the sample's ridge solution at θ (a lepot.calculator.Model)."""
        _, w, _, builder = self._inner_fit(np.asarray(theta, dtype=float))
        reference = builder.reference_energies(w) if self.fit_e0 else self.given_e0
        return Model(builder.basis, builder.species_coefficients(w), reference)

    def _inner_fit(self, theta):
        """(L(θ), w* [n_columns], residual X w* - y [n_rows], the row builder) at θ."""
        x, y, builder = self.design(theta)
        w = self.solve_weights(x, y)
        residual = x @ w - y
        loss = float((residual @ residual + self.mu * np.sum((self.scale * w) ** 2)) / len(y))
        return loss, w, residual, builder

    def loss(self, theta):
        return self._inner_fit(theta)[0]

    def loss_and_gradient(self, theta):
        """(L(θ), dL/dθ [n_parameters]) with θ flattened in the order of shape()."""
        theta = np.asarray(theta, dtype=float)
        basis = self.basis(theta)
        loss, w, residual, builder = self._inner_fit(theta)
        n_rows = len(residual)
        species_coefficients = builder.species_coefficients(w)
        derivative_basis, n_parameters = embedding_derivative_basis(basis, species_coefficients, self.per_channel)
        derivative_rows = self._builder(derivative_basis, None, targets=False)
        jacobian = derivative_jacobian(derivative_rows, self.structures, self.n_species, derivative_basis.n_features,
                                       n_parameters, n_rows)  # [n_rows][n_parameters]
        if self.centre == "compressed":  # through the centre weights: ∂(Xw)/∂u_{k0}(s) = X_s W(k)
            per_species = self._builder(basis, None, targets=False)
            channel_weights = w[: builder.n_coefficient_columns].reshape(-1, basis.n_features)  # W [n_centre][F]
            start = 0
            for structure in self.structures:
                species_rows, _ = per_species.rows(structure)
                count = species_rows.shape[0]
                species_rows = species_rows[:, : self.n_species * basis.n_features].reshape(count, self.n_species, -1)
                centre_part = np.einsum("rsq,kq->rks", species_rows, channel_weights)
                if self.per_channel:
                    jacobian[start : start + count].reshape(count, self.n_pseudo, self.n_channels, self.n_species)[
                        :, :, 0, :
                    ] += centre_part
                else:
                    jacobian[start : start + count] += centre_part.reshape(count, -1)
                start += count
        gradient = 2.0 * (residual @ jacobian) / n_rows
        return loss, gradient


def accuracy_against_compression(make_problem, initial_embeddings, learned_embedding, validation, tolerance):
    """Validation MAE of sample fits for every K: [{K, embedding, features, energy, forces}].

    make_problem(K) -> EmbeddingProblem on the learning sample; initial_embeddings {K: u}; each model is
    ridge-fitted on the sample only (λ as in EmbeddingProblem.calibrate) and scored on every ``validation``
    structure, so the numbers compare K, not the final fit's accuracy.
    """
    rows = []
    candidates = [(k, "principal components", u) for k, u in sorted(initial_embeddings.items())]
    candidates.append((learned_embedding.shape[0], "learned", learned_embedding))
    for k, kind, u in candidates:
        problem = make_problem(k)
        theta = np.asarray(u, dtype=float).reshape(-1)
        problem.calibrate(theta, tolerance)
        model = problem.model(theta)
        errors = error_table(predict(model, validation))["all"]
        rows.append(dict(K=k, embedding=kind, features=model.basis.n_features,
                         energy_meV_per_atom=errors["energy_meV_per_atom"]["mae"] if errors["energy_meV_per_atom"] else None,
                         forces_eV_per_A=errors["forces_eV_per_A"]["mae"] if errors["forces_eV_per_A"] else None))
    return rows


def learn_embedding(problem, initial, iterations, tolerance, progress=None):
    """L-BFGS from ``initial`` (user-form embedding); returns LearnedEmbedding."""
    start = time.perf_counter()
    theta0 = np.asarray(initial, dtype=float).reshape(-1)
    problem.calibrate(theta0, tolerance)
    losses = [problem.loss(theta0)]

    def callback(intermediate_result):
        losses.append(float(intermediate_result.fun))
        if progress is not None:
            progress.update(1)
        log.info("embedding: iteration %d, loss %.6g", len(losses) - 1, losses[-1])

    result = minimize(
        problem.loss_and_gradient,
        theta0,
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={"maxiter": iterations},
    )
    return LearnedEmbedding(
        embedding=result.x.reshape(problem.shape()),
        losses=losses,
        n_structures=len(problem.structures),
        n_rows=problem.n_rows,
        seconds=time.perf_counter() - start,
        message=str(result.message),
    )


def learn_fit_embedding(config, splits, initial, basis_options, fit_e0, given_e0, communicator=None, progress=False):
    """The embedding step of `lepot fit`: optimise the embedding on a seeded sample of the training
    structures spread over their config_types (rank 0; broadcast under MPI) and, with validation data, tabulate validation errors of
    sample fits against K. ``initial``: the principal-component embedding; returns LearnedEmbedding."""
    rank = communicator.Get_rank() if communicator is not None else 0
    train = splits["train"]
    learned = None
    if rank == 0:
        model_config, settings = config["model"], config["model"]["learn_embedding"]
        count = min(settings.get("structures", 200), len(train))
        chosen = stratified_sample(train, count, config["solver"]["seed"])
        species = config["species"]
        core_model = Model.core_repulsion_only(build_basis(species, **dict(basis_options, body_order=1)))
        sample = [train[i] for i in chosen]

        def make_problem(n_pseudo):
            return EmbeddingProblem(
                species, basis_options, sample, config["weights"], n_pseudo, model_config["compression_per_channel"],
                model_config["centre_weights"], fit_e0, given_e0, core_model,
            )

        iterations = settings.get("iterations", 30)
        with progress_bar(iterations, "embedding (L-BFGS)", progress) as bar:
            learned = learn_embedding(make_problem(model_config["compression"]), initial, iterations,
                                      config["solver"]["tolerance"], bar)
        log.info("embedding learned: loss %.4g -> %.4g in %d iterations (%.1f s)", learned.losses[0],
                 learned.losses[-1], len(learned.losses) - 1, learned.seconds)
        validation = splits.get("validation", [])
        if validation:
            starts = {k: principal_embedding(species, sample, k, basis_options, model_config["compression_per_channel"])
                      for k in range(1, model_config["compression"] + 1)}
            learned.accuracy_against_k = accuracy_against_compression(
                make_problem, starts, learned.embedding, validation, config["solver"]["tolerance"]
            )
    if communicator is not None:
        wait_without_spinning(communicator)
        learned = communicator.bcast(learned, root=0)
    return learned


def wait_without_spinning(communicator):
    """Return when every rank has reached this call; a rank that arrives early sleeps between checks. A rank
    waiting inside an MPI collective polls at full speed under MPICH, which on a 2-core machine starved rank
    0's BLAS threads while it learned alone: the NbMoTaW fit's learning ran >10 min under `mpirun -np 2`
    against under 2 min serially."""
    request = communicator.Ibarrier()
    while not request.Test():
        time.sleep(0.01)
