"""lepot.fitting — turning DFT data into parameter files, and the `lepot` command line."""
