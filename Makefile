# The cookbook's command surface. `make lab` and `make test` are all a newcomer needs.
VENV   := .venv
PYTHON := $(VENV)/bin/python
# Two installs: a reader's (`make lab`: the notebooks, JupyterLab, the git filter) and a contributor's
# (`make test` and the rest: the reader's plus Sphinx, Playwright, mutmut's tooling, ruff, xdist).
LAB_STAMP := $(VENV)/.lab-stamp
STAMP     := $(VENV)/.installed-stamp
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
# The lab's workspace (open tabs, layout) belongs to this checkout; tools/lab/jupyter_server_config.py says so too.
WORKSPACES := .jupyter/workspaces
FIRST_NOTEBOOK := 00_async_tests_in_notebooks.ipynb
# JupyterLab refuses to run as root unless told to; CI machines and containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Three workers, each test file and each notebook whole on one of them (nbval's cells share a kernel). One
# worker spends most of the run waiting on the browser suite's JupyterLab, so three keep two cores busy. Files
# start in the order tests/conftest.py gives (the longest first), not in xdist's order (the most tests first).
WORKERS ?= 3
NOTEBOOK_OPTS := --nbval-lax --nbval-cell-timeout=300 -n $(WORKERS) --dist loadfile --no-loadscope-reorder
# The run ends with its ten slowest steps, so that everyone sees where the time goes.
PYTEST_OPTS ?= --durations=10
LAB_ARGS ?=
# What `make pytest` runs; a test narrows it to kill a run of its own.
PYTEST_PATHS ?= tests notebooks

# `make test` runs every check and reports each failure, not only the first one.
MAKEFLAGS += --keep-going
comma := ,

.PHONY: lab test pytest export check-export lint mutation faults bench plugin-check clean git-filter site

# $(call install,<extra>,<what it brings>): .venv with the cookbook and that extra, saying what it does.
define install
	@echo "==> Creating $(VENV) and installing $(2) into it."
	@echo "    First time only; a few minutes on a slow connection. pip shows what it is doing:"
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade --progress-bar on pip
	$(PYTHON) -m pip install --progress-bar on -e '.[$(1)]'
	@echo "==> Installed."
endef

$(LAB_STAMP): pyproject.toml
	$(call install,lab,the cookbook and JupyterLab)
	touch $(LAB_STAMP)

$(STAMP): pyproject.toml
	$(call install,dev,the cookbook$(comma) JupyterLab and the test tools)
	touch $(STAMP) $(LAB_STAMP)

# JupyterLab's settings for this environment: no "fetch news?" question on first start.
$(LAB_SETTINGS): tools/lab/overrides.json $(LAB_STAMP)
	mkdir -p $(dir $@)
	cp $< $@

# The workspace `/lab` opens: the primer, once. Later changes to the layout are the reader's own.
$(WORKSPACES): | $(LAB_STAMP)
	$(VENV)/bin/jupyter lab workspaces import --LabWorkspaceImportApp.workspaces_dir=$(WORKSPACES) \
	  tools/lab/workspace.json >/dev/null

# Notebooks go into git without outputs (.gitattributes names this filter; tools/notebooks.py is it).
# Outside a git clone (a downloaded archive) there is nothing to register.
# Written only when it differs: two makes writing .git/config at once fail on its lock (two `make pytest` side by
# side did, one run in ten or so), and after the first time there is nothing to write.
git-filter: $(LAB_STAMP)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  clean="$(PYTHON) tools/notebooks.py clean"; \
	  [ "$$(git config --get filter.notebook-outputs.clean)" = "$$clean" ] || \
	    git config filter.notebook-outputs.clean "$$clean"; \
	  [ "$$(git config --get filter.notebook-outputs.smudge)" = cat ] || git config filter.notebook-outputs.smudge cat; \
	fi

lab: $(LAB_STAMP) $(LAB_SETTINGS) git-filter | $(WORKSPACES)  ## start JupyterLab on notebooks/, with the primer open
	@echo "==> Starting JupyterLab with the primer open; Ctrl-C here stops it."
	$(VENV)/bin/jupyter lab --config=tools/lab/jupyter_server_config.py --ServerApp.root_dir=notebooks \
	  --LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK) $(ROOT_FLAG) $(LAB_ARGS)

test: check-export lint pytest  ## every check: export in sync, lint, tests/ and every notebook

pytest: $(STAMP) git-filter
	$(PYTHON) -m pytest $(PYTEST_PATHS) $(NOTEBOOK_OPTS) $(PYTEST_OPTS)

export: $(STAMP)  ## notebooks -> src/async_cookbook and tests/generated; clears notebook outputs
	$(PYTHON) tools/notebooks.py export

check-export: $(STAMP) git-filter
	$(PYTHON) tools/notebooks.py check

lint: $(STAMP)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

mutation: $(STAMP)  ## mutation-test src/async_cookbook with tests/, score per module
	$(PYTHON) tools/mutation.py

faults: $(STAMP)  ## each realistic fault of notebooks/faults/*.toml in a copy of its module: which test catches it
	$(PYTHON) tools/faults.py

bench: $(STAMP)  ## wall time and simulated (loop) time of each recipe's suite
	$(PYTHON) tools/bench.py

site: $(STAMP)  ## the cookbook as a website in _build/html/, every notebook executed afresh
	$(PYTHON) tools/site.py

plugin-check: $(STAMP)  ## the test plugin on other projects' suites, from PyPI: outcomes without and with it
	$(PYTHON) tools/plugin_check.py

clean:
	rm -rf $(VENV) mutants .pytest_cache .ruff_cache .hypothesis .cache _build browser-screenshots .jupyter build
