# eda-course: the two commands are `make lab` (open the course) and `make test` (prove it works).
# Both create .venv and install everything on first use; later runs skip the install unless
# pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JUPYTER_PORT ?= 8888
export PYTHONHASHSEED := 0

# JupyterLab refuses to run as root unless told to (CI machines and containers run as root).
ifeq ($(shell id -u),0)
ALLOW_ROOT := --allow-root
endif

.PHONY: help setup lab test unit lint notebooks e2e bench clean

help:
	@echo "make lab        set up .venv and open the course in JupyterLab"
	@echo "make test       set up .venv, lint, run unit tests and validate every notebook (nbval)"
	@echo "make e2e        run the notebooks in JupyterLab in headless Chromium"
	@echo "make bench      compare eda_kit with peer libraries; writes benchmarks/RESULTS.md"
	@echo "make notebooks  re-execute every notebook in a fresh kernel and save the outputs"
	@echo "make lint       ruff"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --port=$(JUPYTER_PORT) $(ALLOW_ROOT) notebooks/00_start_here.ipynb

lint: $(STAMP)
	$(BIN)/ruff check eda_kit tests scripts benchmarks

unit: $(STAMP)
	$(BIN)/python -m pytest tests

test: $(STAMP) lint
	$(BIN)/python -m pytest

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -p no:nbval -o addopts="" -v

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
