"""lepot.fitting — turning DFT data into parameter files, and the `lepot` command line.

    from lepot.fitting import fit
    fit("examples/fit_Mo.yaml")

See lepot.fitting.config for every setting, and docs/fitting.md.
"""


def fit(config, communicator="auto", progress=True):
    """Fit a potential from a config (YAML path, dict or FitConfig); see lepot.fitting.fit.fit."""
    from .fit import fit as _fit

    return _fit(config, communicator=communicator, progress=progress)


__all__ = ["fit"]
