"""lepot.fitting — turning DFT data into parameter files, and the `lepot` command line.

    from lepot.fitting import fit
    fit("examples/fit_Mo.yaml")

See lepot.fitting.config for every setting, and docs/fitting.md.
"""


def fit(config, communicator="auto", progress=True):
    """Fit a potential from a config (YAML path, dict or FitConfig); see lepot.fitting.fit.fit."""
    from .fit import fit as _fit

    # Loading the submodule lepot.fitting.fit the first time binds the package attribute `fit` to it;
    # put this function back, so that `from lepot.fitting import fit` keeps giving the function.
    globals()["fit"] = _public_fit
    return _fit(config, communicator=communicator, progress=progress)


_public_fit = fit


__all__ = ["fit"]
