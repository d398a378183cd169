"""Fit reports: markdown text with the summary lines of every stage and the groups to check, a parity plot,
a plot of the regularisation criterion against the ridge strength, and an embedding plot (PNG)."""

import io

import numpy as np

from .metrics import format_tables

SPLIT_COLOURS = {"train": "tab:blue", "validation": "tab:orange", "test": "tab:green"}
FLAG_RATIO = 2.0  # a group is flagged when its RMSE exceeds this multiple of its split's overall RMSE
FLAGGED_SPLITS = ("train", "validation")  # the test split is only reported, never used to decide anything
CRITERION_LABELS = {"gcv": "GCV score", "validation": "validation residual (weighted, squared)",
                    "evidence": "−ln evidence", "cv": "cross-validation mean squared residual"}


def report_text(title, summary_lines, tables, config_text, flagged=()):
    lines = [f"# {title}", ""]
    lines += [f"- {line}" for line in summary_lines]
    lines += ["", "## Errors", "", format_tables(tables), ""]
    if flagged:
        lines += ["## Groups to check", "",
                  f"Groups whose energy or force RMSE is more than {FLAG_RATIO:g}× their split's overall RMSE "
                  "(train: fitted poorly; validation: does not carry). Check their data, add structures like them, "
                  "or weight them (weights.config_types); docs/fitting.md.", ""]
        lines += [f"- {entry['split']} {entry['group']}: {entry['target']} RMSE {entry['rmse']:.4g} {entry['unit']} = "
                  f"{entry['ratio']:.1f}× the split's {entry['overall']:.4g}" for entry in flagged]
        lines += [""]
    lines += ["## Fit configuration", "", "```yaml", config_text.rstrip(), "```", ""]
    return "\n".join(lines)


def flagged_groups(tables):
    """[{split, group, target, rmse, overall, ratio, unit}] of the config_type groups of the train and validation
    splits whose energy or force RMSE exceeds FLAG_RATIO × the split's overall RMSE (groups of one structure
    included: a single surface can be what a fit gets wrong)."""
    flagged = []
    for split in FLAGGED_SPLITS:
        table = tables.get(split)
        if not table:
            continue
        for target, key, unit in (("energy", "energy_meV_per_atom", "meV/atom"), ("forces", "forces_eV_per_A", "eV/Å")):
            overall = table["all"][key]
            if overall is None or overall["rmse"] == 0.0:
                continue
            for group, row in table.items():
                if group == "all" or row[key] is None or len(table) <= 2:
                    continue
                ratio = row[key]["rmse"] / overall["rmse"]
                if ratio > FLAG_RATIO:
                    flagged.append({"split": split, "group": group, "target": target, "rmse": row[key]["rmse"],
                                    "overall": overall["rmse"], "ratio": ratio, "unit": unit})
    return flagged


def regularisation_plot_png(solution):
    """PNG bytes: the criterion of the ridge-strength search against λ / S_max², one curve per smoothness-prior
    power tried, the chosen strength marked; None when λ was fixed (no search)."""
    if not solution.curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for power, (log_grid, values) in solution.curves.items():
        chosen = power == solution.smoothness_power
        label = "no prior" if power is None else f"p = {power:g}"
        axis.plot(10.0**log_grid, values, linewidth=2.0 if chosen else 1.0, label=label + (" (chosen)" if chosen else ""))
    axis.axvline(solution.regularisation, color="black", linewidth=0.8, linestyle="--")
    axis.set_xscale("log")
    if solution.method != "evidence":
        axis.set_yscale("log")
    axis.set_xlabel("relative ridge λ / S_max²")
    axis.set_ylabel(CRITERION_LABELS.get(solution.method, solution.method))
    axis.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def pruning_lines(pruning):
    """Report line on the cost-aware pruning rounds (lepot.fitting.pruning); none without pruning."""
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


def embedding_lines(centre_weights, embedding, learned, builder, n_validation):
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
                "accuracy against K (ridge fits on the same sample, MAE on the "
                f"{n_validation} validation structures): "
                + "; ".join(
                    f"K = {row['K']} ({row['embedding']}, {row['features']} features): "
                    f"{_format_mae(row['energy_meV_per_atom'], 2)} meV/atom, {_format_mae(row['forces_eV_per_A'], 3)} eV/Å"
                    for row in learned.accuracy_against_k
                )
            )
    u = embedding if embedding.ndim == 2 else embedding.mean(axis=1)
    lines.append(
        f"centre weights: {centre_weights} ({builder.n_coefficient_columns} weight columns); "
        f"embedding u (rows: pseudo-elements, columns: {', '.join(builder.basis.species)}"
        f"{'; averaged over n' if embedding.ndim == 3 else ''}): "
        + np.array2string(np.asarray(u), precision=4, separator=", ").replace("\n", "")
    )
    return lines


def _format_mae(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def parity_plot_png(groups_by_split):
    """PNG bytes: predicted vs reference for energy (meV/atom offset-free), forces and stress, by split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    panels = (("energy", "energy (eV/atom)"), ("forces", "force component (eV/Å)"), ("stress", "stress component (GPa)"))
    for axis, (key, label) in zip(axes, panels):
        limits = []
        for split, groups in groups_by_split.items():
            pairs = [p for residuals in groups.values() for p in getattr(residuals, key)]
            if not pairs:
                continue
            reference = np.concatenate([np.atleast_1d(p[0]) for p in pairs])
            predicted = np.concatenate([np.atleast_1d(p[1]) for p in pairs])
            axis.scatter(reference, predicted, s=4, alpha=0.5, label=split, color=SPLIT_COLOURS.get(split))
            limits += [reference.min(), reference.max(), predicted.min(), predicted.max()]
        if limits:
            low, high = min(limits), max(limits)
            axis.plot([low, high], [low, high], color="black", linewidth=0.8)
            axis.legend(loc="upper left", fontsize=8)
        axis.set_xlabel(f"DFT {label}")
        axis.set_ylabel(f"model {label}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def embedding_plot_png(embedding, symbols, losses=None):
    """PNG bytes: every element as a point in pseudo-element space (u_0, u_1; radial-averaged when the
    embedding is per radial channel), and, when given, the embedding-learning loss per iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = np.asarray(embedding, dtype=float)
    if u.ndim == 3:
        u = u.mean(axis=1)  # [K][S]
    panels = 2 if losses else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4), squeeze=False)
    axis = axes[0, 0]
    x = u[0]
    y = u[1] if u.shape[0] > 1 else np.zeros_like(x)
    axis.scatter(x, y, s=40, color="tab:blue")
    for symbol, xi, yi in zip(symbols, x, y):
        axis.annotate(symbol, (xi, yi), textcoords="offset points", xytext=(5, 5))
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.axvline(0, color="grey", linewidth=0.5)
    axis.set_xlabel("pseudo-element 1 weight u_1(a)")
    axis.set_ylabel("pseudo-element 2 weight u_2(a)" if u.shape[0] > 1 else "(K = 1)")
    axis.set_title(f"embedding, K = {u.shape[0]}")
    if losses:
        axis = axes[0, 1]
        axis.semilogy(np.arange(len(losses)), losses, marker="o", markersize=3)
        axis.set_xlabel("L-BFGS iteration")
        axis.set_ylabel("regularised loss (sample)")
        axis.set_title("embedding learning")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
