# Everything installs into a local virtual environment; both targets set it up themselves.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test install compare clean

$(BIN)/fada-tf: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,export]"
	@touch $@

install: $(BIN)/fada-tf

# Quick start 1: train on the synthetic "game" domain, adapt to the "real" one, print the table.
demo: install
	$(BIN)/fada-tf train --output runs/demo-$$(date +%Y%m%d-%H%M%S)

# Quick start 2: the test suite (CI runs this).
test: install
	$(BIN)/python -m pytest -q

# The README's 3-seed comparison: lambda_adv = 0 control, binary baseline, FADA (soft).
compare: install
	$(BIN)/python bench/synthetic_adaptation.py --seeds 0 1 2 --output runs/compare

clean:
	rm -rf $(VENV) build *.egg-info
