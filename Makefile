# The cookbook's command surface. `make lab` and `make test` are all a newcomer needs.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# JupyterLab refuses to run as root unless told to; CI machines and containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Notebooks run two at a time, each notebook whole on one worker (nbval's cells share a kernel).
NOTEBOOK_OPTS := --nbval-lax --nbval-cell-timeout=300 -n 2 --dist loadfile
LAB_ARGS ?=
# What `make pytest` runs; a test narrows it to kill a run of its own.
PYTEST_PATHS ?= tests notebooks

# `make test` runs every check and reports each failure, not only the first one.
MAKEFLAGS += --keep-going

.PHONY: lab test pytest export check-export lint mutation bench plugin-check clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)  ## start JupyterLab on notebooks/
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: check-export lint pytest  ## every check: export in sync, lint, tests/ and every notebook

pytest: $(STAMP)
	$(PYTHON) -m pytest $(PYTEST_PATHS) $(NOTEBOOK_OPTS)

export: $(STAMP)  ## notebooks -> src/async_cookbook and tests/generated; clears notebook outputs
	$(PYTHON) tools/notebooks.py export

check-export: $(STAMP)
	$(PYTHON) tools/notebooks.py check

lint: $(STAMP)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

mutation: $(STAMP)  ## mutation-test src/async_cookbook with tests/, score per module
	$(PYTHON) tools/mutation.py

bench: $(STAMP)  ## wall time and simulated (loop) time of each recipe's suite
	$(PYTHON) tools/bench.py

plugin-check: $(STAMP)  ## the test plugin on other projects' suites, from PyPI: outcomes without and with it
	$(PYTHON) tools/plugin_check.py

clean:
	rm -rf $(VENV) mutants .pytest_cache .ruff_cache .hypothesis .cache
