"""`model.body_order: auto`, `model.tensor_reduction: auto` and `model.compression: auto` (the defaults): the
body order, the tensor-reduced channels and the number of pseudo-elements K, chosen from the fit's cost before
anything is built.

Body order (auto): 3 (with the ν = 3 budget and pruning of the defaults, lepot.fitting.config). With several
species, model.compression auto and model.tensor_reduction auto or null, body order 3 stays when its
element-resolved model is within the budget below; else, with tensor_reduction auto, when a tensor reduction
(next paragraph) is; else when the K that compression auto would choose at body order 3 is compressed and quick
to learn — its embedding-learning sample (AUTOMATIC_LEARNING, drawn as embedding learning draws it) has at most
AUTOMATIC_LEARNING_PAIRS neighbour pairs within the cutoff; otherwise body order 2, and K is chosen at body
order 2. Three or more elements are over the budget element-resolved at the default sizes (118 461 columns
for three). The pair limit is about fit
time: learning costs 3–6 ms per sample pair and iteration at body order 3 (rMD17 ethanol: 4 320 pairs,
87 s for six iterations; Nb–Mo–Ta–W: 48 252 pairs, 5 min for one), so 8 000 pairs keep six iterations
under about 3–5 min.

Tensor reduction (auto): with several species, compression auto and body order >= 3, when the element-resolved
model is over the budget, the invariants of body order >= 2 are built from K_l = min(K, n_species n_l)
principal-component channels per l over (element, n) (Darby et al.'s tensor-reduced density; the pair terms
stay element-resolved, the centre weights per species, nothing is learned), with the largest K of
AUTOMATIC_CHANNELS = (6, 4) whose fit is within the budget; when neither is, null (and compression auto
compresses). Chosen on validation splits only (docs/fitting.md "How the defaults were chosen"): on rMD17
ethanol, K = 6 and K = 4 from body order 2 validated at 0.24 / 0.0124 and 0.29 / 0.0158 meV/atom / eV/Å
against 0.68 / 0.0344 for the learned K = 1 compression that was the default before; on Nb–Mo–Ta–W the only
affordable reduction, K = 2 (K = 3 needs 4.3·10¹² flops), validated at 2.68 / 0.071 against 0.98 / 0.034 for
compression K = 2 at body order 2 — so no reduction below 4 channels. K = 6 is the largest that fits rMD17
ethanol in about 3 minutes on 2 cores (a fit-time rule; K = 8 was not tried).

Accuracy favoured body order 3 where it was affordable: on ethanol's validation split K = 1 at body order 3
reached 0.68 meV/atom and 0.034 eV/Å against 1.25 and 0.049 for body order 2 element-resolved (docs/fitting.md
"How the defaults were chosen"). `model.prune: auto` follows the body order (config.automatic_prune).

An element-resolved model has n_species weight vectors over features whose count grows with the square of
the species (body order 2) or faster: at body order 2 the default sizes build 173 columns for one element,
~4 100 for three and 9 572 for four (11 GiB, and a QR of 6·10¹³ flops on the Nb–Mo–Ta–W data). The rule:

  - one species, or a tensor reduction (given or chosen: it bounds the size itself): element-resolved;
  - otherwise the element-resolved model when its fit stays within the budget below, else the largest
    K < n_species whose compressed model does, and K = 1 when none does (the memory check of
    lepot.fitting.memory still refuses a fit that cannot run);
  - with more than AUTOMATIC_MAX_PSEUDO_ELEMENTS (3) species, K is at most 3, whatever the budget allows.

A fit "stays within the budget" when its estimated peak memory (lepot.fitting.memory.peak_bytes) is at most
AUTOMATIC_MEMORY_GIB (or less: solver.memory_limit, or the memory this machine has available per MPI rank)
and the QR of its design, 2 · rows · (columns + 1)² flops, at most AUTOMATIC_DESIGN_FLOPS. 4 GiB is the
issue's "2 cores, 4 GB"; 4·10¹² flops is about two minutes of QR on two cores of the development machine
(~35 GFLOP/s measured for the NbMoTaW design). The cap on K was chosen on the Nb–Mo–Ta–W
validation split (benchmarks/nbmotaw_compression.py, docs/compression.md): the elements and binaries
validate better with every K, but the held-out quaternary cell does not — with 4-body terms, K = 4 and the
element-resolved model reached 0.87 and 1.00 eV/Å there against 0.33–0.36 for K = 2–3, the terms that only
multi-element environments excite being pinned by the seven quaternary training cells; with 3-body terms
K = 3 was the best (0.32). Within the cap the largest affordable K is taken.

A compressed choice comes with the settings that validated best on Nb–Mo–Ta–W (docs/compression.md, runs
A–K2): one embedding per radial channel, centre weights through the embedding, and the embedding learned
jointly with the weights on AUTOMATIC_LEARNING — each only where the config leaves it unset (null).
"""

import dataclasses
import logging

from lepot.calculator.couplings import count_features
from lepot.calculator.neighbours import neighbour_pairs
from lepot.calculator.radial_basis import make_radial_basis

from .config import DEFAULT_BODY_ORDER, ConfigError, automatic_prune
from .data import stratified_sample
from .memory import GIB, automatic_chunk_size, available_bytes, largest_chunk_rows, peak_bytes, rows_per_structure

AUTOMATIC_MEMORY_GIB = 4.0
AUTOMATIC_DESIGN_FLOPS = 4e12
AUTOMATIC_LEARNING = {"structures": 60, "iterations": 6}
AUTOMATIC_MAX_PSEUDO_ELEMENTS = 3
AUTOMATIC_LEARNING_PAIRS = 8000  # body order auto: compressed body order 3 only when learning its embedding is quick
AUTOMATIC_CHANNELS = (6, 4)  # tensor reduction auto: channels per l tried, largest first
AUTOMATIC_REDUCTION_FROM = 2  # tensor reduction auto: from body order 2 (the pair terms stay element-resolved)

log = logging.getLogger("lepot.fitting")


@dataclasses.dataclass
class CompressionCandidate:
    """One size considered: K pseudo-elements (or element-resolved), optionally with tensor-reduced channels
    (K_l = min(channels, n_species n_l) from body order 2); columns of the design, estimated peak memory
    (bytes) and QR flops."""

    n_pseudo: int
    element_resolved: bool
    columns: int
    memory: float
    flops: float
    channels: int = None

    def affordable(self, memory_budget):
        """Within ``memory_budget`` bytes and AUTOMATIC_DESIGN_FLOPS."""
        return self.memory <= memory_budget and self.flops <= AUTOMATIC_DESIGN_FLOPS

    def describe(self):
        kind = ("element-resolved" if self.element_resolved else f"K = {self.n_pseudo}") if self.channels is None else (
            f"tensor reduction to {self.channels} channels per l from body order {AUTOMATIC_REDUCTION_FROM}")
        return f"{kind}: {self.columns:,} columns, ~{self.memory / GIB:.2f} GiB, {self.flops:.2g} flops"

    def tensor_reduction(self):
        """The model.tensor_reduction setting of a tensor-reduction candidate."""
        return {"channels": self.channels, "from_body_order": AUTOMATIC_REDUCTION_FROM}


def compression_candidates(config, train, targets, element_resolved_only=False):
    """[CompressionCandidate] for K = n_species (element-resolved) down to 1 (or the first only), from the
    config's basis settings and the training structures (their rows); nothing is built but the radial basis."""
    last = len(config["species"]) - 1 if element_resolved_only else 0
    return [_candidate(config, train, targets, n_pseudo) for n_pseudo in range(len(config["species"]), last, -1)]


def reduction_candidates(config, train, targets):
    """[CompressionCandidate] of the element-resolved model with its invariants of body order >= 2 built from
    AUTOMATIC_CHANNELS tensor-reduced channels per l (largest first), counted as compression_candidates counts."""
    return [_candidate(config, train, targets, len(config["species"]), channels) for channels in AUTOMATIC_CHANNELS]


def _candidate(config, train, targets, n_pseudo, channels=None):
    model, species = config["model"], config["species"]
    radial = make_radial_basis(model["cutoff"], model["n_max"], model["l_max"], model["cutoff_width"])
    limits = None if model["l_max_by_order"] is None else {int(k): v for k, v in model["l_max_by_order"].items()}
    contracted = None if channels is None else [min(channels, n_pseudo * n) for n in radial.n_radial]
    element_resolved = n_pseudo == len(species)
    features = count_features(radial.n_radial, n_pseudo, model["body_order"], radial.eigenvalues(), model["budgets"],
                              limits, contracted, AUTOMATIC_REDUCTION_FROM)
    columns = (len(species) if element_resolved else n_pseudo) * features + (
        len(species) if model["reference_energies"] == "fit" else 0)
    chunk = (automatic_chunk_size(train, columns, targets) if config["solver"]["chunk_size"] == "auto"
             else config["solver"]["chunk_size"])
    memory = peak_bytes(columns, largest_chunk_rows(train, chunk, targets))
    rows = sum(rows_per_structure(s, targets) for s in train)
    return CompressionCandidate(n_pseudo, element_resolved, columns, memory, 2.0 * rows * (columns + 1) ** 2, channels)


def choose_compression(config, data, context=None):
    """Stage 1b of lepot fit: the config with `model.body_order: auto`, `model.tensor_reduction: auto` and
    `model.compression: auto` resolved (with `model.prune: auto`, and the settings that come with a compressed
    choice filled where they are null); explicit settings are kept. The choices and the candidates they were
    made from are logged and kept in data.compression_choice (the model file's metadata fit.compression_choice;
    the body order's under "body_order", the tensor reduction's under "tensor_reduction")."""
    show = context is None or context.rank == 0
    budget = memory_budget(config["solver"]["memory_limit"], 1 if context is None else context.size)
    if context is not None and context.communicator is not None:  # one budget, so that every rank chooses alike
        budget = context.communicator.bcast(budget, root=0)
    choices, counted = {}, {}  # counted: {"compression" | "reduction": candidates} at the resolved body order
    if config["model"]["body_order"] == "auto":
        config, choices["body_order"], counted = _choose_body_order(config, data, budget, show)
    if config["model"]["tensor_reduction"] == "auto":
        config, choices["tensor_reduction"] = _choose_tensor_reduction(config, data, budget, show, counted)
    if choices:
        data.compression_choice = dict(choices)
    model = config["model"]
    if model["compression"] != "auto":
        return config
    species = config["species"]
    if len(species) == 1 or model["tensor_reduction"] is not None:
        reason = "one species" if len(species) == 1 else "model.tensor_reduction bounds the size"
        data.compression_choice = {"chosen": "element-resolved", "reason": reason, **choices}
        return _resolved(config, None, data.compression_choice)
    candidates = counted.get("compression") or compression_candidates(config, data.splits["train"], data.targets)
    capped = len(species) > AUTOMATIC_MAX_PSEUDO_ELEMENTS
    chosen = largest_affordable(candidates, capped, budget)
    largest = f"the largest K <= {AUTOMATIC_MAX_PSEUDO_ELEMENTS}" if capped else "the largest model"
    record = {
        "chosen": "element-resolved" if chosen.element_resolved else chosen.n_pseudo,
        "reason": (f"{largest} within {_limits(budget)}"
                   if chosen.affordable(budget) else "no K is within the budget: the smallest"),
        "candidates": [dataclasses.asdict(c) for c in candidates],
        **choices,
    }
    if show:
        log.info("compression auto: %s (%s; %s)", chosen.describe(), record["reason"],
                 "; ".join(c.describe() for c in candidates))
    data.compression_choice = record
    return _resolved(config, None if chosen.element_resolved else chosen.n_pseudo, record)


def largest_affordable(candidates, capped, budget):
    """The first (largest) candidate within ``budget`` bytes and the flops, with K <= AUTOMATIC_MAX_PSEUDO_ELEMENTS
    when ``capped``; the smallest candidate when none is."""
    eligible = [c for c in candidates if not capped or c.n_pseudo <= AUTOMATIC_MAX_PSEUDO_ELEMENTS]
    return first_affordable(eligible, budget) or candidates[-1]


def learning_sample_pairs(config, train):
    """Neighbour pairs within the cutoff in the structures that embedding learning would sample (its cost)."""
    settings = config["model"]["learn_embedding"] or AUTOMATIC_LEARNING
    chosen = stratified_sample(train, min(settings.get("structures", AUTOMATIC_LEARNING["structures"]), len(train)),
                               config["solver"]["seed"])
    return sum(len(neighbour_pairs(train[i].atoms.positions, train[i].atoms.cell.array, train[i].atoms.pbc,
                                   config["model"]["cutoff"]).centres) for i in chosen)


def _choose_body_order(config, data, budget, show):
    """(config with model.body_order and model.prune resolved, the record of why, the candidates counted at
    body order 3 when it is chosen — {"compression": [...], "reduction": [...] or None}, else {}) for
    body_order auto."""
    model, species = config["model"], config["species"]
    order, reason, candidates, reductions = DEFAULT_BODY_ORDER, "one species", None, None
    if len(species) > 1:
        if model["compression"] != "auto" or model["tensor_reduction"] not in ("auto", None):
            reason = "compression or tensor reduction configured"
        else:
            train = data.splits["train"]
            at_default = _at_body_order(config, DEFAULT_BODY_ORDER)
            candidates = compression_candidates(at_default, train, data.targets)
            chosen = largest_affordable(candidates, len(species) > AUTOMATIC_MAX_PSEUDO_ELEMENTS, budget)
            limits = _limits(budget)
            if model["tensor_reduction"] == "auto" and not chosen.element_resolved:
                reductions = reduction_candidates(at_default, train, data.targets)
            reduction = first_affordable(reductions or [], budget)
            if chosen.element_resolved:
                reason = f"element-resolved body order {DEFAULT_BODY_ORDER} within {limits} ({chosen.describe()})"
            elif reduction is not None:
                reason = f"body order {DEFAULT_BODY_ORDER} with {reduction.describe()} within {limits}"
            elif not chosen.affordable(budget):
                order, reason = 2, f"no body-order-{DEFAULT_BODY_ORDER} model within {limits}"
            else:
                pairs = learning_sample_pairs(at_default, train)
                order = DEFAULT_BODY_ORDER if pairs <= AUTOMATIC_LEARNING_PAIRS else 2
                reason = (f"body order {DEFAULT_BODY_ORDER} needs compression ({chosen.describe()}); its embedding-"
                          f"learning sample has {pairs:,} neighbour pairs, {'within' if order == 3 else 'over'} "
                          f"{AUTOMATIC_LEARNING_PAIRS:,}")
            if reductions is not None and reduction is None:
                reason += f"; no tensor reduction to {min(AUTOMATIC_CHANNELS)} or more channels within {limits}"
    prune = model["prune"]
    if prune == "auto" or order < 3:
        if prune not in ("auto", None) and show:
            log.info("model.prune is not used: body order auto chose %d (nothing to prune)", order)
        prune = automatic_prune(order)
    if show:
        log.info("body order auto: %d (%s)", order, reason)
    return (dataclasses.replace(config, model=dataclasses.replace(model, body_order=order, prune=prune)),
            {"chosen": order, "reason": reason},
            {"compression": candidates, "reduction": reductions} if order == DEFAULT_BODY_ORDER and candidates else {})


def _choose_tensor_reduction(config, data, budget, show, counted):
    """(config with model.tensor_reduction resolved, the record of why) for tensor_reduction auto: with several
    species, compression auto and body order >= 3, when the element-resolved model is over the budget, the
    largest affordable reduction of AUTOMATIC_CHANNELS (from body order 2); else null. ``counted``: the
    candidates body order auto already counted at this body order (what is missing is counted here)."""
    model, species = config["model"], config["species"]
    chosen, candidate_record = None, None
    if len(species) == 1:
        reason = "one species"
    elif model["compression"] != "auto":
        reason = "compression configured"
    elif model["body_order"] < 3:
        reason = f"body order {model['body_order']}: the element-resolved power spectrum"
    else:
        train = data.splits["train"]
        resolved = (counted.get("compression") or
                    compression_candidates(config, train, data.targets, element_resolved_only=True))[0]
        limits = _limits(budget)
        if resolved.affordable(budget):
            reason = f"element-resolved within {limits} ({resolved.describe()})"
        else:
            reductions = counted.get("reduction") or reduction_candidates(config, train, data.targets)
            candidate_record = [dataclasses.asdict(c) for c in reductions]
            chosen = first_affordable(reductions, budget)
            reason = (f"element-resolved over {limits} ({resolved.describe()}); "
                      + (f"{chosen.describe()}" if chosen is not None else
                         f"no tensor reduction to {min(AUTOMATIC_CHANNELS)} or more channels within them: compression"))
    setting = None if chosen is None else chosen.tensor_reduction()
    if show:
        log.info("tensor reduction auto: %s (%s)", setting, reason)
    record = {"chosen": setting, "reason": reason}
    if candidate_record is not None:
        record["candidates"] = candidate_record
    return dataclasses.replace(config, model=dataclasses.replace(model, tensor_reduction=setting)), record


def first_affordable(candidates, budget):
    """The first (largest) of ``candidates`` within ``budget`` bytes and the flops, or None."""
    return next((c for c in candidates if c.affordable(budget)), None)


def _limits(budget):
    return f"{budget / GIB:.3g} GiB and {AUTOMATIC_DESIGN_FLOPS:.0e} flops"


def _at_body_order(config, order):
    return dataclasses.replace(config, model=dataclasses.replace(config["model"], body_order=order))


def memory_budget(memory_limit_gib, ranks):
    """Bytes per rank the automatic choice may plan for: AUTOMATIC_MEMORY_GIB, or less when solver.memory_limit
    or this machine's available memory (shared by ``ranks``) is smaller."""
    available = float(memory_limit_gib) * GIB if memory_limit_gib is not None else available_bytes()
    budget = AUTOMATIC_MEMORY_GIB * GIB
    return budget if available is None else min(budget, available / ranks)


def _resolved(config, n_pseudo, record):
    model = config["model"]
    compressed = n_pseudo is not None
    if not compressed and model["centre_weights"] == "compressed":
        raise ConfigError(f"model.compression auto chose {record['chosen']} ({record['reason']}), but model.centre_weights "
                          "'compressed' needs pseudo-elements: name model.compression K")
    settings = dataclasses.replace(
        model,
        compression=n_pseudo,
        compression_per_channel=compressed if model["compression_per_channel"] is None else model["compression_per_channel"],
        centre_weights=model["centre_weights"] or ("compressed" if compressed else "species"),
        learn_embedding=(model["learn_embedding"] or dict(AUTOMATIC_LEARNING)) if compressed else None,
    )
    return dataclasses.replace(config, model=settings)
