# eda-course: the two commands are `make lab` (open the course) and `make test` (prove it works).
# Both create .venv and install everything on first use; later runs skip the install unless
# pyproject.toml changed. `make unit` needs only the library and its `test` extra.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
JUPYTER_PORT ?= 8888
export PYTHONHASHSEED := 0

# JupyterLab refuses to run as root unless told to (CI machines and containers run as root).
ifeq ($(shell id -u),0)
ALLOW_ROOT := --allow-root
endif

# The core modules whose docstring examples run as doctests.
CORE := eda_kit/events.py eda_kit/payloads.py eda_kit/clock.py eda_kit/trace.py \
	eda_kit/errors.py eda_kit/lazy.py eda_kit/causation.py
NBVAL := -p tests.notebooks.nbval_history --nbval --nbval-current-env \
	--nbval-sanitize-with tests/notebooks/nbval_sanitize.cfg

.PHONY: help setup lab test unit doctest lint format typecheck nbval notebooks e2e bench mutants \
	services services-stop clean

help:
	@echo "make lab        set up .venv and open the course in JupyterLab"
	@echo "make test       set up .venv; lint, type check, library tests, notebook checks (nbval)"
	@echo "make unit       the library tests only (unit, properties, doctests): no Jupyter needed"
	@echo "make nbval      re-run every notebook and compare its outputs with the committed ones"
	@echo "make e2e        run the notebooks in JupyterLab in headless Chromium"
	@echo "make bench      compare eda_kit with peer libraries; writes benchmarks/RESULTS.md"
	@echo "make notebooks  re-execute every notebook in a fresh kernel and save the outputs"
	@echo "make lint       ruff (lint and format check); make format rewrites the files"
	@echo "make typecheck  mypy over eda_kit"
	@echo "make mutants    the kill rate of every exercise checker against mutants of its reference"
	@echo "make services   find PostgreSQL and RabbitMQ, or start throwaway ones in .services/"
	@echo "make services-stop  stop the throwaway servers"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP) $(TEST_STAMP)

# The light install `make unit` needs; a full `make setup` satisfies it too.
$(TEST_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --port=$(JUPYTER_PORT) $(ALLOW_ROOT) notebooks/00_start_here.ipynb

lint: $(STAMP)
	$(BIN)/ruff check eda_kit tests scripts benchmarks
	$(BIN)/ruff format --check eda_kit tests scripts benchmarks

format: $(STAMP)
	$(BIN)/ruff format eda_kit tests scripts benchmarks
	$(BIN)/ruff check --fix eda_kit tests scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

doctest: $(TEST_STAMP)
	$(BIN)/python -m pytest --doctest-modules $(CORE)

unit: $(TEST_STAMP) doctest
	$(BIN)/python -m pytest tests/unit tests/properties

nbval: $(STAMP)
	$(BIN)/python -m pytest $(NBVAL) notebooks

test: $(STAMP) lint typecheck doctest
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest $(NBVAL) notebooks

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -o addopts="" -v

bench: $(STAMP)
	$(BIN)/python -m benchmarks

mutants: $(TEST_STAMP)
	$(BIN)/python -m eda_kit.exercises.mutation $(EXERCISES)

# Notebook 08 and the server tests need PostgreSQL and RabbitMQ: use the ones that answer at
# EDA_POSTGRES_URL / EDA_AMQP_URL, else start throwaway servers from the installed binaries.
services: $(STAMP)
	$(BIN)/python -m eda_kit.services start

services-stop: $(STAMP)
	$(BIN)/python -m eda_kit.services stop

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build *.egg-info
