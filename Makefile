# Everything installs into a local virtual environment; every target sets it up itself.
# `make demo` installs what training needs (no PyTorch); `make test` adds the test, export and
# docs extras.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test docs install compare clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: one per set of extras, redone when the package's requirements change.
$(VENV)/.installed-run: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,export,docs]"
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-dev

# Quick start 1: train on the synthetic "game" domain, adapt to the "real" one, print the table.
demo: $(VENV)/.installed-run
	$(BIN)/fada-tf train --output runs/demo-$$(date +%Y%m%d-%H%M%S)

# Quick start 2: the test suite (CI runs this): one file per worker process, a worker per core
# up to 4, and the 15 slowest tests listed at the end.
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile --durations 15

# The documentation site, built strictly (broken links and references fail) into site/;
# -E reads every page again, so that the warnings of unchanged pages are reported too.
docs: $(VENV)/.installed-dev
	$(BIN)/python -m sphinx -E -W --keep-going -n -b html docs site

# The 3-seed comparison of README.md and docs/synthetic.md: lambda_adv = 0 control, binary baseline, FADA (soft).
compare: $(VENV)/.installed-run
	$(BIN)/python -m bench.synthetic_adaptation --seeds 0 1 2 --output runs/compare

clean:
	rm -rf $(VENV) build site *.egg-info
