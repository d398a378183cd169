"""Fit reports: markdown text and a parity plot (PNG), both written atomically."""

import io

import numpy as np

from .errors import format_tables

SPLIT_COLOURS = {"train": "tab:blue", "validation": "tab:orange", "test": "tab:green"}


def report_text(title, summary_lines, tables, config_text):
    lines = [f"# {title}", ""]
    lines += [f"- {line}" for line in summary_lines]
    lines += ["", "## Errors", "", format_tables(tables), "", "## Fit configuration", "", "```yaml", config_text.rstrip(), "```", ""]
    return "\n".join(lines)


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
