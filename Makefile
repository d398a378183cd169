# Two entry points (see README): `make demo` builds everything and runs the main job;
# `make test` builds everything and runs the test suite. Both create .venv if missing and are
# safe to re-run: the package is reinstalled only when its sources change.
# For contributors, `make dev` installs lepot editable into the same .venv: Python edits take effect
# without a rebuild, and later `make test` / `make demo` only recompile the extension in place when
# a .pyx or core header changed (the LAMMPS plugin rebuilds itself on first use after a change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOURCES := $(shell find calculator fitting lammps_plugin potentials -type f -not -path "*/build/*" \( -name '*.py' -o -name '*.pyx' -o -name '*.hpp' -o -name '*.json' -o -name '*.cpp' -o -name '*.h' -o -name CMakeLists.txt \)) setup.py pyproject.toml

.PHONY: demo test install dev bench clean

demo: $(VENV)/.installed
	$(BIN)/lepot demo

test: $(VENV)/.installed
	$(BIN)/pytest

bench: $(VENV)/.bench-deps
	$(BIN)/python benchmarks/descriptors.py
	$(BIN)/python benchmarks/ase_calculator.py
	$(BIN)/python benchmarks/fit.py
	$(BIN)/python benchmarks/fit_memory.py
	$(BIN)/python benchmarks/lammps_md.py --pruning-path
	$(BIN)/python benchmarks/compression_scaling.py
	$(BIN)/python benchmarks/lammps_nbmotaw.py
	$(BIN)/python benchmarks/nbmotaw_accuracy.py
	$(BIN)/python benchmarks/nbmotaw_compression.py
	$(BIN)/python benchmarks/stability.py

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Build requirements come from pyproject.toml's [build-system] so the two never drift.
$(VENV)/.build-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
	touch $@

$(VENV)/.installed: $(SOURCES) $(VENV)/.build-deps
	if [ -f $(VENV)/.editable ]; then \
		$(BIN)/python setup.py --quiet build_ext --inplace; \
	else \
		$(BIN)/python -m pip install --quiet --no-build-isolation ".[test]"; \
	fi
	touch $@

dev: $(VENV)/.build-deps
	$(BIN)/python -m pip install --quiet --no-build-isolation --editable ".[test]"
	touch $(VENV)/.editable $(VENV)/.installed

# Peers measured side by side in the benchmarks (heavy; not needed for the tests).
$(VENV)/.bench-deps: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-build-isolation $$(test -f $(VENV)/.editable && echo --editable) ".[test,bench]"
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info calculator/_evaluator.cpp calculator/*.so lammps_plugin/build
