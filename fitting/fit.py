"""`lepot fit`: from DFT data and a config to a parameter file, a report and a parity plot, in seven stages.

    from lepot.fitting import fit
    result = fit("examples/fit_Mo.yaml")          # or a dict with the same content
    result.model, result.tables, result.solution

The stages, each callable on its own (docs/fitting.md shows how to run and inspect them):

    data     = load_data(config)                                  structures, checked; which targets
    config   = choose_compression(config, data)                   body order, tensor reduction, compression auto resolved
    fitted   = build_fit_basis(config, data)                      core radii, compression, the Basis
    design   = reduce_design(config, data, fitted)                memory check, weighted rows -> factor
    solved   = solve_design(config, design, fitted)               ridge (GCV / validation), or pruning
    model    = assemble_model(config, data, fitted, design, solved)   weights, E0, metadata
               attach_posterior(config, data, design, solved, model)  the coefficients' posterior (rank 0)
    result   = evaluate_and_write(config, data, fitted, design, solved, model)   errors, report, files

run_stages(config) runs all but the last, in memory (nothing written), for studies of a fit.

Under ``mpirun -np N lepot fit CONFIG`` the training (and validation) structures are dealt to the ranks
round-robin; each rank reduces its rows to a triangular factor, the factors are combined
(lepot.fitting.design) and every rank solves the same small problem, so the parameters equal the
serial ones to round-off. Rank 0 evaluates the errors and writes the outputs.

Nothing is written until the data, the config and the fit have all succeeded; each output is written
atomically. Reproducible: the same data, config and seed give the same parameter file (set
SOURCE_DATE_EPOCH to fix its 'created' stamp too).
"""

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import yaml

from lepot.calculator import Model, build_basis
from lepot.calculator.minimal_basis import select_functionally_independent, subset_basis
from lepot.calculator.model import write_file_atomically

from .automatic_compression import CompressionCandidate, choose_compression
from .config import ConfigError, FitConfig, load_config, make_config
from .core_radii import automatic_core_repulsion, automatic_shortest_fraction, configured_core_repulsion, summary_line
from .data import (TargetKeys, check_species, check_targets, cross_validation_folds, digest, read_structures,
                   split_validation)
from .design import RowBuilder, TriangularFactor, mpi_reduce, reduce_structures, reduce_structures_by_target
from .contraction_learning import learn_fit_contraction
from .embedding import principal_contraction, principal_embedding
from .embedding_learning import learn_fit_embedding
from .metrics import error_table, predict
from .memory import automatic_chunk_size, check_fit_memory, gradient_bytes, largest_chunk_rows, smaller_settings
from .progress import progress_bar
from .posterior import fitted_posterior
from .pruning import prune_features
from .report import (embedding_lines, embedding_plot_png, flagged_groups, parity_plot_png, pruning_lines,
                     regularisation_plot_png, report_text)
from .solver import solve
from .weights import EXTRA_FACTORS as WEIGHT_CHOICE_FACTORS
from .weights import TargetEvidence, reweighted_factor

log = logging.getLogger("lepot.fitting")


@dataclass
class FitResult:
    model: Model
    tables: dict  # {split: error table}
    solution: object
    outputs: dict  # {"model": path, "report": path, "parity_plot": path}


@dataclass
class FitStages:
    """What the stages before evaluate_and_write produced (run_stages)."""

    config: FitConfig  # with every auto resolved
    data: "FitData"
    fitted: "FitBasis"
    design: "Design"
    solved: "Solved"
    model: Model


@dataclass
class FitData:
    """Stage 1: the structures of each split and the targets the fit uses."""

    splits: dict  # {"train": [Structure], "validation": [...] (optional), "test": [...] (optional)}
    targets: dict  # {"energy": bool, "forces": bool, "stress": bool}: rows with non-zero weight
    compression_choice: dict = None  # what body order, tensor reduction and compression auto chose and why
    #                                  (lepot.fitting.automatic_compression)


@dataclass
class FitBasis:
    """Stage 2: the descriptor basis and how it was made."""

    basis: object  # lepot.calculator.Basis, with its core repulsion
    basis_options: dict  # build_basis keyword arguments (without the embedding)
    reference_energies: np.ndarray = None  # [n_species] eV when given in the config; None: fitted
    embedding: np.ndarray = None  # u, the user form; None: one density channel per element
    centre_embedding: np.ndarray = None  # v [n_centre][n_species] with compressed centre weights
    learned: object = None  # LearnedEmbedding of embedding_learning, or None
    learned_contraction: object = None  # LearnedEmbedding (loss history) of contraction_learning, or None
    selection: object = None  # minimal-basis selection, or None
    shortest_distances: dict = None  # {(a, b): Å} measured for the automatic core radii
    shortest_fraction: float = None  # r_outer ÷ that distance, for the automatic core radii

    @property
    def fit_reference_energies(self):
        return self.reference_energies is None


@dataclass
class Design:
    """Stage 3: the reduced design (triangular factors of the weighted rows)."""

    builder: RowBuilder
    factor: object  # TriangularFactor of the training rows
    validation_factor: object = None  # of the validation rows, when the solver or pruning uses them
    fold_factors: list = None  # [folds] of the training rows, fold by fold, for regularisation "cv"
    chosen_weights: object = None  # lepot.fitting.weights.WeightChoice with weights.choose
    seconds: float = 0.0  # wall time since the fit started


@dataclass
class Solved:
    """Stage 4: the solution and, with pruning, its rounds; coefficients over all design columns."""

    solution: object
    coefficients: np.ndarray  # [n_columns]
    pruning: object = None


@dataclass
class FitContext:
    """MPI rank and size, progress bars, the start time."""

    communicator: object = None
    progress: bool = True
    start: float = field(default_factory=time.perf_counter)

    @property
    def rank(self):
        return self.communicator.Get_rank() if self.communicator is not None else 0

    @property
    def size(self):
        return self.communicator.Get_size() if self.communicator is not None else 1

    @property
    def show(self):
        return self.progress and self.rank == 0


def mpi_communicator():
    """MPI.COMM_WORLD when launched by an MPI launcher with more than one rank, else None.

    mpi4py is imported only then, so serial runs never initialise MPI.
    """
    launched = any(key in os.environ for key in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"))
    if not launched:
        return None
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_size() == 1:
        return None
    if "OMP_NUM_THREADS" not in os.environ and MPI.COMM_WORLD.Get_rank() == 0:
        log.warning("%d MPI ranks and OMP_NUM_THREADS unset: every rank's descriptor and BLAS threads use every core; "
                    "with one rank per core set OMP_NUM_THREADS=1 (the NbMoTaW fit on 2 cores: 3.6 min, against "
                    "> 7.5 min oversubscribed)", MPI.COMM_WORLD.Get_size())
    return MPI.COMM_WORLD


def as_config(config):
    """A FitConfig from a YAML path, a dict or a FitConfig."""
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, dict):
        return make_config(config)
    if not isinstance(config, FitConfig):
        raise ConfigError(f"config must be a path, a dict or a FitConfig, got {type(config).__name__}")
    return config


def fit(config, communicator="auto", progress=True):
    """Fit a potential. ``config``: a path to a YAML file, a dict, or a FitConfig."""
    config = as_config(config)
    context = FitContext(mpi_communicator() if communicator == "auto" else communicator, progress)
    outputs = output_paths(config)
    stages = run_stages(config, context)
    if context.rank != 0:
        return FitResult(stages.model, {}, stages.solved.solution, {})
    return evaluate_and_write(stages.config, stages.data, stages.fitted, stages.design, stages.solved, stages.model,
                              outputs, context)


def run_stages(config, context=None):
    """The stages before evaluate_and_write, in memory (nothing written): a FitStages. The posterior is attached
    on rank 0 when output.uncertainty is true (the default; every rank computes its share of the calibration)."""
    config = as_config(config)
    context = context or FitContext()
    data = load_data(config, context)
    config = choose_compression(config, data, context)
    fitted = build_fit_basis(config, data, context)
    design = reduce_design(config, data, fitted, context)
    solved = solve_design(config, design, fitted, context)
    model = assemble_model(config, data, fitted, design, solved)
    if config["output"]["uncertainty"]:
        attach_posterior(config, data, design, solved, model, context)
    return FitStages(config, data, fitted, design, solved, model)


def load_data(config, context=None):
    """Stage 1: read and check the splits (train, validation from files or a fraction of train, test)."""
    context = context or FitContext()
    data, weights = config["data"], config["weights"]
    keys = TargetKeys(data["energy_key"], data["forces_key"], data["stress_key"], data["config_type_key"])
    train = read_structures(data["train"], keys, config.base_directory)
    splits = {"train": train}
    if data["validation"] is not None:
        splits["validation"] = read_structures(data["validation"], keys, config.base_directory)
    elif data["validation_fraction"] > 0:
        splits["train"], validation = split_validation(
            train, data["validation_fraction"], config["solver"]["seed"], data["validation_by_config_type"])
        if validation:
            splits["validation"] = validation
    if config["solver"]["regularisation"] == "validation" and not splits.get("validation"):
        raise ConfigError(
            f"'solver.regularisation' is 'validation', but data.validation_fraction {data['validation_fraction']} of "
            f"the {len(train)} training structures selects none; give data.validation files or a fraction of at "
            f"least {0.5 / len(train):.3g}"
        )
    if data["test"] is not None:
        splits["test"] = read_structures(data["test"], keys, config.base_directory)
    targets = {key: weights[key] > 0 for key in ("energy", "forces", "stress")}
    if not any(targets.values()):
        raise ConfigError("all of weights.energy, weights.forces and weights.stress are 0: nothing to fit")
    for name, structures in splits.items():
        check_species(structures, config["species"])
        if name != "test":
            check_targets(structures, targets["energy"], targets["forces"], targets["stress"], name)
    if context.rank == 0:
        log.info("data: %s", ", ".join(f"{k} {len(v)} structures" for k, v in splits.items()))
    return FitData(splits, targets)


def build_fit_basis(config, data, context=None):
    """Stage 2: core-repulsion radii, the embedding (principal components, optionally learned), the basis,
    and the minimal-basis selection when asked for."""
    context = context or FitContext()
    model, species = config["model"], config["species"]
    unresolved = [key for key in ("body_order", "tensor_reduction", "compression") if model[key] == "auto"]
    if unresolved:
        raise ConfigError(f"model.{unresolved[0]} is 'auto': resolve it first with "
                          "lepot.fitting.automatic_compression.choose_compression(config, data)")
    options = dict(
        cutoff=model["cutoff"], n_max=model["n_max"], l_max=model["l_max"], body_order=model["body_order"],
        cutoff_width=model["cutoff_width"], budgets=model["budgets"],
        l_max_by_order=None if model["l_max_by_order"] is None else {int(k): v for k, v in model["l_max_by_order"].items()},
    )
    fitted = FitBasis(None, options)
    if model["reference_energies"] != "fit":
        fitted.reference_energies = np.array([model["reference_energies"][s] for s in species], float)
    core = model["core_repulsion"]
    if core == "auto" or (isinstance(core, dict) and "shortest_fraction" in core):
        seen = data.splits["train"] + data.splits.get("validation", [])
        fitted.shortest_fraction = automatic_shortest_fraction(seen) if core == "auto" else core["shortest_fraction"]
        options["core_repulsion"], fitted.shortest_distances = automatic_core_repulsion(
            seen, tuple(species), model["cutoff"], fitted.shortest_fraction)
    else:
        options["core_repulsion"] = None if model["core_repulsion"] is None else configured_core_repulsion(
            model["core_repulsion"], tuple(species))
    if model["compression"] is not None:
        fitted.embedding = principal_embedding(
            species, data.splits["train"], model["compression"], options, model["compression_per_channel"])
        if model["learn_embedding"] is not None:
            fitted.learned = learn_fit_embedding(config, data.splits, fitted.embedding, options,
                                                 fitted.fit_reference_energies, fitted.reference_energies,
                                                 context.communicator, context.show)
            fitted.embedding = fitted.learned.embedding
        if model["centre_weights"] == "compressed":  # w_q(a) = Σ_k u_{k 0}(a) W_q(k)
            fitted.centre_embedding = fitted.embedding[:, 0, :] if fitted.embedding.ndim == 3 else fitted.embedding
    if model["tensor_reduction"] is not None:
        reduction = model["tensor_reduction"]
        options["contraction"] = principal_contraction(
            species, data.splits["train"], reduction["channels"], options, fitted.embedding,
            reduction.get("from_body_order", 3), reduction.get("diagonal", False))
        if context.rank == 0:
            log.info("tensor reduction: K_l = %s contracted channels from body order %d",
                     list(options["contraction"].channels), options["contraction"].from_body_order)
        if reduction.get("learn") is not None:
            options["contraction"], fitted.learned_contraction = learn_fit_contraction(
                config, data.splits, options["contraction"], {k: v for k, v in options.items() if k != "contraction"},
                fitted.embedding,
                fitted.fit_reference_energies, fitted.reference_energies, context.communicator, context.show)
    fitted.basis = build_basis(species, embedding=fitted.embedding, **options)
    if model["minimal_basis"] is not None:
        settings = model["minimal_basis"]
        fitted.selection = select_functionally_independent(
            fitted.basis, settings.get("neighbours", 30), settings.get("environments", 2), settings.get("seed", 0))
        fitted.basis = subset_basis(fitted.basis, fitted.selection.kept)
        if context.rank == 0:
            log.info("minimal basis: kept %s (kept, total) per body order", fitted.selection.counts)
    return fitted


def reduce_design(config, data, fitted, context=None):
    """Stage 3: refuse a design that would not fit in memory, then fold the weighted rows of the training
    (and, when used, validation) structures into triangular factors, combined over MPI ranks."""
    context = context or FitContext()
    basis, solver, train = fitted.basis, config["solver"], data.splits["train"]
    validation = data.splits.get("validation")
    with_validation = solver["regularisation"] == "validation" or bool(config["model"]["prune"] and validation)
    folds = solver["folds"] if solver["regularisation"] == "cv" else 0
    n_centre = basis.n_species if fitted.centre_embedding is None else fitted.centre_embedding.shape[0]
    n_columns = n_centre * basis.n_features + (basis.n_species if fitted.fit_reference_energies else 0)
    chunk_size = (automatic_chunk_size(train, n_columns, data.targets) if solver["chunk_size"] == "auto"
                  else solver["chunk_size"])
    estimate = check_fit_memory(
        n_columns, largest_chunk_rows(train, chunk_size, data.targets),
        int(with_validation) + (folds + 1 if folds else 0) + (WEIGHT_CHOICE_FACTORS if config["weights"]["choose"] else 0),
        gradient_bytes(train, basis.cutoff, basis.n_features, n_columns, data.targets), solver["memory_limit"],
        context.size, lambda: smaller_settings(config, basis, fitted.fit_reference_energies),
    )
    builder = RowBuilder(basis, config["weights"], fitted.fit_reference_energies, fitted.reference_energies,
                         Model.core_repulsion_only(basis), fitted.centre_embedding)
    if context.rank == 0:
        log.info("memory: about %.2f GiB at the peak of the design and solve (chunks of %d structures)",
                 estimate / 2**30, chunk_size)
        log.info("basis: %d features x %d species, %d columns", basis.n_features, basis.n_species, builder.n_columns)
    if folds:  # one factor per fold; the training factor is their merge (the same least-squares problem)
        assignment = cross_validation_folds(len(train), folds, solver["seed"])
        fold_factors = [_reduce(builder, [s for s, f in zip(train, assignment) if f == k], f"train, fold {k + 1}/{folds}",
                                chunk_size, context) for k in range(folds)]
        total = TriangularFactor(builder.n_columns)
        total.merge(fold_factors)
        design = Design(builder, total)
        design.fold_factors = fold_factors
    elif config["weights"]["choose"] == "evidence":
        target_factors = _reduce_by_target(builder, train, "train", chunk_size, context)
        design = Design(builder, None)
        design.chosen_weights = TargetEvidence(target_factors).choose()
        design.factor = reweighted_factor(target_factors, design.chosen_weights.multipliers)
        if context.rank == 0:
            log.info("weights chosen by the evidence: %s", ", ".join(
                f"{t} {config['weights'][t] * m:.4g}" for t, m in design.chosen_weights.multipliers.items()))
    else:
        design = Design(builder, _reduce(builder, train, "train", chunk_size, context))
    if with_validation and design.chosen_weights is not None:
        design.validation_factor = reweighted_factor(
            _reduce_by_target(builder, validation, "validation", chunk_size, context),
            design.chosen_weights.multipliers)
    elif with_validation:
        design.validation_factor = _reduce(builder, validation, "validation", chunk_size, context)
    design.seconds = time.perf_counter() - context.start
    return design


def _reduce_by_target(builder, structures, name, chunk_size, context):
    """{target: factor} of this rank's share of ``structures``, each combined over ranks."""
    mine = structures[context.rank :: context.size]
    with progress_bar(len(mine), f"design matrix ({name}, by target)", context.show) as bar:
        factors = reduce_structures_by_target(builder, mine, chunk_size, bar)
    if context.communicator is None:
        return factors
    return {target: mpi_reduce(factor, context.communicator) for target, factor in factors.items()}


def _reduce(builder, structures, name, chunk_size, context):
    """The triangular factor of this rank's share of ``structures``, combined over ranks."""
    mine = structures[context.rank :: context.size]
    with progress_bar(len(mine), f"design matrix ({name})", context.show) as bar:
        factor = reduce_structures(builder, mine, chunk_size, bar)
    return factor if context.communicator is None else mpi_reduce(factor, context.communicator)


def solve_design(config, design, fitted, context=None):
    """Stage 4: the ridge solution with its strength chosen as configured, or cost-aware pruning (rank 0,
    broadcast under MPI)."""
    context = context or FitContext()
    solver, prune = config["solver"], config["model"]["prune"]
    pruning = None
    roughness = design.builder.column_roughness()
    if prune is None:
        solution = solve(design.factor, solver["regularisation"], design.validation_factor, solver["tolerance"],
                         roughness, solver["smoothness_power"], design.fold_factors)
    elif context.rank == 0:
        pruning = prune_features(
            design.factor, fitted.basis, design.builder.centre_embedding.shape[0], prune["max_terms"], prune["step"],
            solver["regularisation"], design.validation_factor, solver["tolerance"], roughness,
            solver["smoothness_power"], design.fold_factors,
        )
        solution = pruning.solution
        log.info("pruned: %s", "; ".join(f"{r['features']} features, {r['terms']} terms" for r in pruning.rounds))
    if context.communicator is not None:
        solution, pruning = context.communicator.bcast((solution, pruning) if context.rank == 0 else None, root=0)
    coefficients = solution.coefficients
    if pruning is not None:
        coefficients = np.zeros(design.builder.n_columns)
        coefficients[pruning.columns] = solution.coefficients
    if context.rank == 0:
        log.info("solved: %d rows, relative ridge %.3g (%s), %.1f effective parameters, condition %.3g",
                 design.factor.n_rows, solution.regularisation, solution.method, solution.effective_parameters,
                 solution.condition_number)
        if solution.smoothness_power is not None:
            log.info("smoothness prior: power %g%s", solution.smoothness_power,
                     "" if solution.power_scores is None or len(solution.power_scores) < 2 else
                     " (lowest criterion of " + ", ".join(f"{p:g}: {v:.4g}" for p, v in solution.power_scores.items()) + ")")
    return Solved(solution, coefficients, pruning)


def assemble_model(config, data, fitted, design, solved):
    """Stage 5: per-species weights and reference energies from the coefficients, the pruned basis, and
    the metadata (config, data digests, compression, selection, pruning, solver)."""
    builder, solution, pruning = design.builder, solved.solution, solved.pruning
    basis = fitted.basis
    coefficients = builder.species_coefficients(solved.coefficients)
    reference_energies = (
        builder.reference_energies(solved.coefficients) if fitted.fit_reference_energies else fitted.reference_energies
    )
    if pruning is not None:
        basis = subset_basis(basis, pruning.kept)
        coefficients = coefficients[:, pruning.kept]
    learned = fitted.learned
    metadata = {"fit": {
        "config": config.to_dict(),
        "data": {name: {"n_structures": len(structures), "n_atoms": int(sum(s.n_atoms for s in structures)),
                        "digest": digest(structures)} for name, structures in data.splits.items()},
        "compression_choice": data.compression_choice,
        "embedding": None if fitted.embedding is None else {
            "learned": learned is not None,
            "centre_weights": config["model"]["centre_weights"],
            "losses": None if learned is None else learned.losses,
            "accuracy_against_k": None if learned is None else learned.accuracy_against_k,
            "sample_structures": None if learned is None else learned.n_structures,
            "sample_rows": None if learned is None else learned.n_rows,
        },
        "minimal_basis": None if fitted.selection is None else {str(k): list(v) for k, v in fitted.selection.counts.items()},
        "pruning": None if pruning is None else pruning.rounds,
        "solver": {
            "method": solution.method,
            "relative_regularisation": solution.regularisation,
            "effective_parameters": solution.effective_parameters,
            "condition_number": solution.condition_number,
            "n_rows": design.factor.n_rows,
            "n_columns": builder.n_columns if pruning is None else int(len(pruning.columns)),
            "chosen_weights": None if design.chosen_weights is None else {
                "weights": {t: config["weights"][t] * m for t, m in design.chosen_weights.multipliers.items()},
                "noise": design.chosen_weights.noise,
                "log_evidence": design.chosen_weights.log_evidence,
            },
            "smoothness_power": solution.smoothness_power,
            "smoothness_power_scores": None if solution.power_scores is None else
            {f"{p:g}": value for p, value in solution.power_scores.items()},
        },
    }}
    return Model(basis, coefficients, reference_energies, metadata)


def attach_posterior(config, data, design, solved, model, context=None):
    """Stage 5b: the coefficients' posterior, calibrated on held-out errors (lepot.fitting.posterior; every
    rank computes its share of them), into rank 0's model.uncertainty and metadata; skipped with a zero ridge."""
    context = context or FitContext()
    builder, solution, pruning = design.builder, solved.solution, solved.pruning
    factor = design.factor if pruning is None else pruning.factor
    posterior, calibration = fitted_posterior(
        model, factor, solution, builder.centre_embedding, builder.fit_reference_energies,
        data.splits.get("validation", []), data.splits["train"], config["weights"]["energy"], context.communicator)
    if context.rank != 0:
        return
    if posterior is None:
        log.warning("no uncertainty stored: the ridge is zero, so the coefficients' posterior is not defined")
        return
    model.uncertainty = posterior
    model.metadata["fit"]["uncertainty"] = {
        "calibration": calibration.method, "validation_structures": calibration.n_validation,
        "left_out_structures": calibration.n_left_out, "posterior_scale": calibration.posterior_scale,
        "local_variance_scale": calibration.local_variance_scale, "energy_noise": calibration.energy_noise,
        "atom_energy_noise": calibration.atom_energy_noise, "force_posterior_scale": calibration.force_posterior_scale,
        "negative_log_likelihood": calibration.negative_log_likelihood,
        "reference_variance": posterior.reference_variance, "columns": posterior.n_columns,
    }
    log.info("%s", uncertainty_lines(model)[0])


def evaluate_and_write(config, data, fitted, design, solved, model, outputs, context=None):
    """Stage 6: errors on every split (into the metadata), the report and plots, and the atomic writes."""
    context = context or FitContext()
    groups = {}
    for name, structures in data.splits.items():
        with progress_bar(len(structures), f"errors ({name})", context.show) as bar:
            groups[name] = predict(model, structures, bar)
    tables = {name: error_table(g) for name, g in groups.items()}
    model.metadata["fit"]["errors"] = tables
    flagged = flagged_groups(tables)
    model.metadata["fit"]["flagged_groups"] = flagged
    summary = _summary_lines(config, data, fitted, design, solved, model, context)
    report = report_text(f"lepot fit: {os.path.basename(outputs['model'])}", summary, tables,
                         yaml.safe_dump(config.to_dict(), sort_keys=False), flagged)
    files = {"model": model.to_text(outputs["model"]), "report": report, "parity_plot": parity_plot_png(groups)}
    regularisation_plot = regularisation_plot_png(solved.solution)
    if regularisation_plot is not None:
        outputs["regularisation_plot"] = os.path.splitext(outputs["model"])[0] + "_regularisation.png"
        files["regularisation_plot"] = regularisation_plot
    if fitted.embedding is not None:
        outputs["embedding_plot"] = os.path.splitext(outputs["model"])[0] + "_embedding.png"
        files["embedding_plot"] = embedding_plot_png(fitted.embedding, model.basis.species,
                                                     None if fitted.learned is None else fitted.learned.losses)
    for name, content in files.items():
        write_file_atomically(content, outputs[name])
    log.info("wrote %s, %s, %s", outputs["model"], outputs["report"], outputs["parity_plot"])
    return FitResult(model, tables, solved.solution, outputs)


def _summary_lines(config, data, fitted, design, solved, model, context):
    """The report's summary: basis, solver, reference energies, core repulsion, compression, pruning, timing."""
    basis, solution, factor = model.basis, solved.solution, design.factor
    return [
        f"species {', '.join(basis.species)}; cutoff {basis.cutoff} Å; LE n_l = {list(basis.radial.n_radial)}; "
        f"body order {basis.body_order}; {basis.n_pseudo} density channels "
        f"({'compressed' if fitted.embedding is not None else 'one per element'}); {basis.n_features} features per species",
        f"rows {factor.n_rows}; solver {solution.method}: relative ridge {solution.regularisation:.3g}, "
        f"{solution.effective_parameters:.1f} effective parameters, condition number {solution.condition_number:.3g}",
        *smoothness_lines(solution),
        *weight_lines(config, design.chosen_weights),
        "reference energies (eV): " + ", ".join(f"{s} {e:.6f}" for s, e in zip(basis.species, model.reference_energies)),
        summary_line(basis.core_repulsion, fitted.shortest_distances, config["model"]["core_repulsion"],
                     fitted.shortest_fraction),
        *compression_choice_lines(data.compression_choice),
        *embedding_lines(config["model"]["centre_weights"], fitted.embedding, fitted.learned, design.builder,
                         len(data.splits.get("validation", []))),
        *pruning_lines(solved.pruning),
        *uncertainty_lines(model),
        f"MPI ranks {context.size}; design matrix {design.seconds:.1f} s; total {time.perf_counter() - context.start:.1f} s",
        "data digests: " + ", ".join(f"{k} {v['digest'][:16]}" for k, v in model.metadata["fit"]["data"].items()),
    ]


def compression_choice_lines(choice):
    """The report's lines on what model.body_order, model.tensor_reduction and model.compression auto chose (none
    when configured)."""
    if choice is None:
        return []
    lines = []
    for name, record in (("body order", choice.get("body_order")), ("tensor reduction", choice.get("tensor_reduction")),
                         ("compression", choice if "chosen" in choice else None)):
        if record is not None:
            candidates = "; ".join(CompressionCandidate(**c).describe() for c in record.get("candidates", []))
            lines.append(f"{name} auto: {record['chosen']} ({record['reason']})"
                         + (f"; candidates: {candidates}" if candidates else ""))
    return lines


def uncertainty_lines(model):
    """The report's line on the stored posterior (docs/uncertainty.md), none without one."""
    summary = model.metadata["fit"].get("uncertainty")
    if summary is None:
        return []
    how = (f"calibrated on held-out errors of {summary['validation_structures']} validation structures and "
           f"{summary['left_out_structures']} training structures left out in turn (maximum likelihood)"
           if summary["calibration"] == "held-out" else "from the fit's noise estimate (too few held-out energies)")
    return [f"uncertainty: posterior of {summary['columns']} columns, {how}: posterior scale "
            f"{summary['posterior_scale']:.3g}, local variance scale {summary['local_variance_scale']:.3g}, energy "
            f"noise {1e3 * summary['energy_noise']:.3g} meV/atom, per-atom energy noise "
            f"{1e3 * summary['atom_energy_noise']:.3g} meV, force posterior scale "
            f"{summary['force_posterior_scale']:.3g}"]


def weight_lines(config, choice):
    """The report's line on weights chosen by the evidence (none when the config's weights were used)."""
    if choice is None:
        return []
    weights = ", ".join(f"{t} {config['weights'][t] * m:.4g}" for t, m in choice.multipliers.items())
    noise = ", ".join(f"{t} {value:.3g}" for t, value in choice.noise.items())
    return [f"row weights chosen by the evidence of the training data (weights.choose): {weights}; fitted noise "
            f"in the configured row units: {noise}; ln evidence {choice.log_evidence:.6g}"]


def smoothness_lines(solution):
    """The report's line on the smoothness prior: the power used and, when it was chosen, every candidate's score."""
    if solution.smoothness_power is None:
        return []
    line = f"smoothness prior: penalty λ Σ_j (D_j ε_j^p w_j)², p = {solution.smoothness_power:g}"
    if solution.power_scores is not None and len(solution.power_scores) > 1:
        rule = ("the largest evidence" if solution.method == "evidence" else
                f"the smoothest p whose lowest {solution.method} criterion is within solver.tolerance of the best")
        line += (f" (chosen as {rule}; lowest criterion per p: "
                 + ", ".join(f"{p:g}: {v:.6g}" for p, v in solution.power_scores.items()) + ")")
    return [line]


def output_paths(config):
    """{"model", "report", "parity_plot"}: absolute paths of the outputs; their folders must exist."""
    model_path = config.path(config["output"]["model"])
    stem = os.path.splitext(model_path)[0]
    report, plot = config["output"]["report"], config["output"]["parity_plot"]
    paths = {
        "model": model_path,
        "report": config.path(report) if report else stem + ".md",
        "parity_plot": config.path(plot) if plot else stem + "_parity.png",
    }
    for path in paths.values():
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise ConfigError(f"output folder {folder} does not exist")
    return paths
