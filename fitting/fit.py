"""`lepot fit`: from DFT data and a config to a parameter file, a report and a parity plot.

    from lepot.fitting import fit
    result = fit("examples/fit_Mo.yaml")          # or a dict with the same content
    result.model, result.tables, result.solution

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
from dataclasses import dataclass

import numpy as np
import yaml

from lepot.calculator import Model, build_basis
from lepot.calculator.couplings import DEFAULT_BUDGETS, count_features
from lepot.calculator.minimal_basis import select_functionally_independent, subset_basis
from lepot.calculator.model import write_file_atomically

from .config import ConfigError, FitConfig, load_config, make_config
from .core_radii import automatic_core_repulsion, configured_core_repulsion, summary_line
from .data import TargetKeys, check_species, check_targets, digest, read_structures, split_validation
from .design import RowBuilder, mpi_reduce, reduce_structures
from .embedding import principal_embedding
from .embedding_learning import EmbeddingProblem, accuracy_against_compression, learn_embedding
from .errors import error_table, predict
from .memory import check_fit_memory, gradient_bytes, largest_chunk_rows
from .pruning import prune_features
from .report import embedding_plot_png, parity_plot_png, report_text
from .solver import solve

log = logging.getLogger("lepot.fitting")


@dataclass
class FitResult:
    model: Model
    tables: dict  # {split: error table}
    solution: object
    outputs: dict  # {"model": path, "report": path, "parity_plot": path}


def mpi_communicator():
    """MPI.COMM_WORLD when launched by an MPI launcher with more than one rank, else None.

    mpi4py is imported only then, so serial runs never initialise MPI.
    """
    launched = any(key in os.environ for key in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"))
    if not launched:
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def _progress(total, description, enabled):
    from tqdm import tqdm

    # disable=None: bars only on a terminal, so logs and CI output stay clean
    return tqdm(total=total, desc=description, unit="structure", disable=None if enabled else True, leave=False)


def fit(config, communicator="auto", progress=True):
    """Fit a potential. ``config``: a path to a YAML file, a dict, or a FitConfig."""
    if isinstance(config, (str, os.PathLike)):
        config = load_config(config)
    elif isinstance(config, dict):
        config = make_config(config)
    elif not isinstance(config, FitConfig):
        raise ConfigError(f"config must be a path, a dict or a FitConfig, got {type(config).__name__}")
    if communicator == "auto":
        communicator = mpi_communicator()
    rank = communicator.Get_rank() if communicator is not None else 0
    size = communicator.Get_size() if communicator is not None else 1
    show = progress and rank == 0
    start = time.perf_counter()

    outputs = _output_paths(config)
    species = config["species"]
    model_config, weights = config["model"], config["weights"]
    splits = _load_splits(config)
    for name, structures in splits.items():
        check_species(structures, species)
    need = {key: weights[key] > 0 for key in ("energy", "forces", "stress")}
    for name in ("train", "validation"):
        if name in splits:
            check_targets(splits[name], need["energy"], need["forces"], need["stress"], name)
    if not any(need.values()):
        raise ConfigError("all of weights.energy, weights.forces and weights.stress are 0: nothing to fit")
    if rank == 0:
        log.info("data: %s", ", ".join(f"{k} {len(v)} structures" for k, v in splits.items()))

    basis_options = dict(
        cutoff=model_config["cutoff"],
        n_max=model_config["n_max"],
        l_max=model_config["l_max"],
        body_order=model_config["body_order"],
        cutoff_width=model_config["cutoff_width"],
        budgets=model_config["budgets"],
        l_max_by_order=None
        if model_config["l_max_by_order"] is None
        else {int(order): limit for order, limit in model_config["l_max_by_order"].items()},
    )
    core_settings = model_config["core_repulsion"]
    core_repulsion, shortest = None, None
    if core_settings == "auto":
        core_repulsion, shortest = automatic_core_repulsion(
            splits["train"] + splits.get("validation", []), tuple(species), model_config["cutoff"]
        )
    elif core_settings is not None:
        core_repulsion = configured_core_repulsion(core_settings, tuple(species))
    basis_options["core_repulsion"] = core_repulsion
    fit_e0 = model_config["reference_energies"] == "fit"
    given_e0 = None if fit_e0 else np.array([model_config["reference_energies"][s] for s in species], float)
    embedding, centre_embedding, learned = None, None, None
    if model_config["compression"] is not None:
        embedding = principal_embedding(
            species, splits["train"], model_config["compression"], basis_options, model_config["compression_per_channel"]
        )
        if model_config["learn_embedding"] is not None:
            learned = _learn_embedding(config, splits, embedding, basis_options, fit_e0, given_e0, communicator, show)
            embedding = learned.embedding
        if model_config["centre_weights"] == "compressed":  # w_q(a) = Σ_k u_{k 0}(a) W_q(k)
            centre_embedding = embedding[:, 0, :] if embedding.ndim == 3 else embedding
    basis = build_basis(species, embedding=embedding, **basis_options)
    selection = None
    if model_config["minimal_basis"] is not None:
        options = model_config["minimal_basis"]
        selection = select_functionally_independent(
            basis, options.get("neighbours", 30), options.get("environments", 2), options.get("seed", 0)
        )
        basis = subset_basis(basis, selection.kept)
        if rank == 0:
            log.info("minimal basis: kept %s (kept, total) per body order", selection.counts)
    n_centre = len(species) if centre_embedding is None else centre_embedding.shape[0]
    n_columns = n_centre * basis.n_features + (len(species) if fit_e0 else 0)
    with_validation = config["solver"]["regularisation"] == "validation" or bool(model_config["prune"] and splits.get("validation"))
    estimate = check_fit_memory(
        n_columns,
        largest_chunk_rows(splits["train"], config["solver"]["chunk_size"], need),
        with_validation,
        gradient_bytes(splits["train"], basis.cutoff, basis.n_features, n_columns, need),
        config["solver"]["memory_limit"],
        size,
        lambda: _smaller_settings(config, basis, fit_e0),
    )
    if rank == 0:
        log.info("memory: about %.2f GiB at the peak of the design and solve", estimate / 2**30)
    core_model = (
        None if core_repulsion is None else Model(basis, np.zeros((basis.n_species, basis.n_features)), np.zeros(basis.n_species))
    )
    builder = RowBuilder(basis, weights, fit_e0, given_e0, core_model, centre_embedding)
    if rank == 0:
        log.info("basis: %d features x %d species, %d columns", basis.n_features, basis.n_species, builder.n_columns)

    chunk_size = config["solver"]["chunk_size"]
    mine = splits["train"][rank::size]
    with _progress(len(mine), "design matrix (train)", show) as bar:
        factor = reduce_structures(builder, mine, chunk_size, bar)
    validation_factor = None  # for the ridge choice on validation data, and pruning's per-round validation RMS
    if config["solver"]["regularisation"] == "validation" or (model_config["prune"] and splits.get("validation")):
        own = splits["validation"][rank::size]
        with _progress(len(own), "design matrix (validation)", show) as bar:
            validation_factor = reduce_structures(builder, own, chunk_size, bar)
    if communicator is not None:
        factor = mpi_reduce(factor, communicator)
        if validation_factor is not None:
            validation_factor = mpi_reduce(validation_factor, communicator)
    design_seconds = time.perf_counter() - start

    solver_config = config["solver"]
    pruning = None
    if model_config["prune"] is None:
        solution = solve(factor, solver_config["regularisation"], validation_factor, solver_config["tolerance"])
    elif rank == 0:
        pruning = prune_features(
            factor, basis, builder.centre_embedding.shape[0], model_config["prune"]["max_terms"],
            model_config["prune"]["step"], solver_config["regularisation"], validation_factor, solver_config["tolerance"],
        )
        solution = pruning.solution
        log.info("pruned: %s", "; ".join(f"{r['features']} features, {r['terms']} terms" for r in pruning.rounds))
    if communicator is not None:
        solution, pruning = communicator.bcast((solution, pruning) if rank == 0 else None, root=0)
    coefficients = solution.coefficients
    if pruning is not None:
        coefficients = np.zeros(builder.n_columns)
        coefficients[pruning.columns] = solution.coefficients
    if rank == 0:
        log.info(
            "solved: %d rows, relative ridge %.3g (%s), %.1f effective parameters, condition %.3g",
            factor.n_rows,
            solution.regularisation,
            solution.method,
            solution.effective_parameters,
            solution.condition_number,
        )

    model_weights = builder.species_weights(coefficients)
    reference_energies = builder.reference_energies(coefficients) if fit_e0 else given_e0
    if pruning is not None:
        basis = subset_basis(basis, pruning.kept)
        model_weights = model_weights[:, pruning.kept]
    metadata = {
        "fit": {
            "config": config.to_dict(),
            "data": {
                name: {
                    "n_structures": len(structures),
                    "n_atoms": int(sum(s.n_atoms for s in structures)),
                    "digest": digest(structures),
                }
                for name, structures in splits.items()
            },
            "embedding": None if embedding is None else {
                "learned": learned is not None,
                "centre_weights": config["model"]["centre_weights"],
                "losses": None if learned is None else learned.losses,
                "accuracy_against_k": None if learned is None else learned.accuracy_against_k,
                "sample_structures": None if learned is None else learned.n_structures,
                "sample_rows": None if learned is None else learned.n_rows,
            },
            "minimal_basis": None if selection is None else {str(k): list(v) for k, v in selection.counts.items()},
            "pruning": None if pruning is None else pruning.rounds,
            "solver": {
                "method": solution.method,
                "relative_regularisation": solution.regularisation,
                "effective_parameters": solution.effective_parameters,
                "condition_number": solution.condition_number,
                "n_rows": factor.n_rows,
                "n_columns": builder.n_columns if pruning is None else int(len(pruning.columns)),
            },
        }
    }
    model = Model(basis, model_weights, reference_energies, metadata)
    if rank != 0:
        return FitResult(model, {}, solution, {})

    groups = {}
    for name, structures in splits.items():
        with _progress(len(structures), f"errors ({name})", show) as bar:
            groups[name] = predict(model, structures, bar)
    tables = {name: error_table(g) for name, g in groups.items()}
    model.metadata["fit"]["errors"] = tables

    summary = [
        f"species {', '.join(basis.symbols)}; cutoff {basis.cutoff} Å; LE n_l = {list(basis.radial.n_radial)}; "
        f"body order {basis.body_order}; {basis.n_pseudo} density channels "
        f"({'compressed' if embedding is not None else 'one per element'}); {basis.n_features} features per species",
        f"rows {factor.n_rows}; solver {solution.method}: relative ridge {solution.regularisation:.3g}, "
        f"{solution.effective_parameters:.1f} effective parameters, condition number {solution.condition_number:.3g}",
        "reference energies (eV): "
        + ", ".join(f"{s} {e:.6f}" for s, e in zip(basis.symbols, model.reference_energies)),
        summary_line(core_repulsion, shortest, core_settings),
        *_embedding_summary(config, embedding, learned, builder, len(splits.get("validation", []))),
        *_pruning_summary(pruning),
        f"MPI ranks {size}; design matrix {design_seconds:.1f} s; total {time.perf_counter() - start:.1f} s",
        "data digests: " + ", ".join(f"{k} {v['digest'][:16]}" for k, v in metadata["fit"]["data"].items()),
    ]
    report = report_text(
        f"lepot fit: {os.path.basename(outputs['model'])}", summary, tables, yaml.safe_dump(config.to_dict(), sort_keys=False)
    )
    plot = parity_plot_png(groups)
    embedding_plot = None
    if embedding is not None:
        embedding_plot = embedding_plot_png(embedding, basis.symbols, None if learned is None else learned.losses)
        outputs["embedding_plot"] = os.path.splitext(outputs["model"])[0] + "_embedding.png"
    model.save(outputs["model"])
    write_file_atomically(report, outputs["report"])
    write_file_atomically(plot, outputs["parity_plot"])
    if embedding_plot is not None:
        write_file_atomically(embedding_plot, outputs["embedding_plot"])
    log.info("wrote %s, %s, %s", outputs["model"], outputs["report"], outputs["parity_plot"])
    return FitResult(model, tables, solution, outputs)


def _smaller_settings(config, basis, fit_e0):
    """Groups of (setting, n_columns) that shrink the design, each from the smallest change to the largest:
    fewer pseudo-elements, smaller budgets for body orders >= 3, body order 2 (for the memory refusal)."""
    model = config["model"]
    species = config["species"]
    radial = basis.radial
    eigenvalues = {label: float((z / np.pi) ** 2) for label, z in zip(radial.function_labels(), radial.zeros)}
    budgets = {**DEFAULT_BUDGETS, **{int(k): float(v) for k, v in (model["budgets"] or {}).items()}}
    limits = None if model["l_max_by_order"] is None else {int(k): v for k, v in model["l_max_by_order"].items()}
    extra = len(species) if fit_e0 else 0

    def columns(n_pseudo, body_order, order_budgets):
        n_centre = n_pseudo if model["centre_weights"] == "compressed" else len(species)
        return n_centre * count_features(radial.n_radial, n_pseudo, body_order, eigenvalues, order_budgets, limits) + extra

    groups = []
    n_pseudo = basis.n_pseudo
    if n_pseudo > 1:
        groups.append([(f"model.compression: {k}", columns(k, model["body_order"], budgets)) for k in range(n_pseudo - 1, 0, -1)])
    if model["body_order"] >= 3:
        scaled = []
        for factor in (0.9, 0.8, 0.7, 0.6, 0.5):
            smaller = {order: round(factor * value, 1) for order, value in budgets.items() if order <= model["body_order"]}
            scaled.append((f"model.budgets: {smaller}", columns(n_pseudo, model["body_order"], smaller)))
        groups.append(scaled)
        groups.append([("model.body_order: 2", columns(n_pseudo, 2, budgets))])
    return groups


def _pruning_summary(pruning):
    """Report line on the cost-aware pruning rounds (lepot.fitting.pruning)."""
    if pruning is None:
        return []
    with_validation = pruning.rounds[0]["validation_rms"] is not None
    return [
        "pruned body order >= 3 by importance per coupling term (features, terms of body order >= 3, "
        f"{pruning.solution.method} criterion{', weighted validation RMS' if with_validation else ''}): "
        + "; ".join(
            f"{r['features']}, {r['terms']}, {r['criterion']:.4g}"
            + (f", {r['validation_rms']:.4g}" if with_validation else "")
            for r in pruning.rounds
        )
    ]


def _embedding_summary(config, embedding, learned, builder, n_validation):
    """Report lines on the compression: the learning run, accuracy against K, centre weights and u."""
    if embedding is None:
        return []
    lines = []
    if learned is not None:
        lines.append(
            f"embedding learned by variable projection on {learned.n_structures} training structures "
            f"({learned.n_rows} rows): regularised loss {learned.losses[0]:.4g} -> {learned.losses[-1]:.4g} "
            f"in {len(learned.losses) - 1} L-BFGS iterations ({learned.seconds:.1f} s; {learned.message}); "
            "loss per iteration: " + ", ".join(f"{x:.4g}" for x in learned.losses)
        )
        if learned.accuracy_against_k:
            lines.append(
                "accuracy against K (ridge fits on the same sample, MAE on the first "
                f"{min(learned.n_structures, n_validation)} validation structures): "
                + "; ".join(
                    f"K = {row['K']} ({row['embedding']}, {row['features']} features): "
                    f"{_format_mae(row['energy_meV_per_atom'], 2)} meV/atom, {_format_mae(row['forces_eV_per_A'], 3)} eV/Å"
                    for row in learned.accuracy_against_k
                )
            )
    u = embedding if embedding.ndim == 2 else embedding.mean(axis=1)
    lines.append(
        f"centre weights: {config['model']['centre_weights']} ({builder.n_weight_columns} weight columns); "
        f"embedding u (rows: pseudo-elements, columns: {', '.join(builder.basis.symbols)}"
        f"{'; averaged over n' if embedding.ndim == 3 else ''}): "
        + np.array2string(np.asarray(u), precision=4, separator=", ").replace("\n", "")
    )
    return lines


def _format_mae(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def _learn_embedding(config, splits, initial, basis_options, fit_e0, given_e0, communicator, show):
    """Optimise the embedding on a seeded sample of the training structures (rank 0; broadcast under MPI),
    and, with validation data, tabulate validation errors of sample fits against K."""
    rank = communicator.Get_rank() if communicator is not None else 0
    train = splits["train"]
    learned = None
    if rank == 0:
        model_config, settings = config["model"], config["model"]["learn_embedding"]
        count = min(settings.get("structures", 200), len(train))
        chosen = np.sort(np.random.default_rng(config["solver"]["seed"]).choice(len(train), size=count, replace=False))
        species = config["species"]
        core_model = None
        if basis_options["core_repulsion"] is not None:
            core_basis = build_basis(species, **dict(basis_options, body_order=1))
            core_model = Model(core_basis, np.zeros((len(species), core_basis.n_features)), np.zeros(len(species)))
        sample = [train[i] for i in chosen]

        def make_problem(n_pseudo):
            return EmbeddingProblem(
                species, basis_options, sample, config["weights"], n_pseudo, model_config["compression_per_channel"],
                model_config["centre_weights"], fit_e0, given_e0, core_model,
            )

        iterations = settings.get("iterations", 30)
        with _progress(iterations, "embedding (L-BFGS)", show) as bar:
            learned = learn_embedding(make_problem(model_config["compression"]), initial, iterations,
                                      config["solver"]["tolerance"], bar)
        log.info("embedding learned: loss %.4g -> %.4g in %d iterations (%.1f s)", learned.losses[0],
                 learned.losses[-1], len(learned.losses) - 1, learned.seconds)
        validation = splits.get("validation", [])[:count]
        if validation:
            starts = {k: principal_embedding(species, sample, k, basis_options, model_config["compression_per_channel"])
                      for k in range(1, model_config["compression"] + 1)}
            learned.accuracy_against_k = accuracy_against_compression(
                make_problem, starts, learned.embedding, validation, config["solver"]["tolerance"]
            )
    if communicator is not None:
        learned = communicator.bcast(learned, root=0)
    return learned


def _load_splits(config):
    data = config["data"]
    keys = TargetKeys(data["energy_key"], data["forces_key"], data["stress_key"], data["config_type_key"])
    base = config.base_directory
    train = read_structures(data["train"], keys, base)
    splits = {}
    if data["validation"] is not None:
        splits["train"] = train
        splits["validation"] = read_structures(data["validation"], keys, base)
    elif data["validation_fraction"] > 0:
        splits["train"], validation = split_validation(train, data["validation_fraction"], config["solver"]["seed"])
        if validation:
            splits["validation"] = validation
    else:
        splits["train"] = train
    if config["solver"]["regularisation"] == "validation" and not splits.get("validation"):
        raise ConfigError(
            f"'solver.regularisation' is 'validation', but data.validation_fraction {data['validation_fraction']} of "
            f"the {len(train)} training structures selects none; give data.validation files or a fraction of at "
            f"least {0.5 / len(train):.3g}"
        )
    if data["test"] is not None:
        splits["test"] = read_structures(data["test"], keys, base)
    return splits


def _output_paths(config):
    model_path = config.path(config["output"]["model"])
    stem = os.path.splitext(model_path)[0]
    report = config["output"]["report"]
    plot = config["output"]["parity_plot"]
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
