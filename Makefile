# Two commands for a newcomer: `make dev` (Conveyor on its embedded local control plane) and
# `make test`. Both set up everything they need on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$(PATH)
PYTEST_ARGS ?=

.PHONY: setup tools test test-unit test-sim test-integration lint dev crds manifests docs bench bench-sim clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $@

$(TOOLS)/kubectl $(TOOLS)/helm: scripts/fetch_kube_tools.py | $(BIN)/python
	$(BIN)/python scripts/fetch_kube_tools.py $(TOOLS)
	touch $(TOOLS)/kubectl $(TOOLS)/helm

tools: $(TOOLS)/kubectl $(TOOLS)/helm

setup: $(VENV)/.installed tools

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-sim: setup
	$(BIN)/pytest tests/sim $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

dev: setup
	$(BIN)/conveyor dev --demo

crds: setup
	$(BIN)/conveyor crds --output-dir crds
	$(BIN)/python scripts/render_manifests.py
	$(BIN)/python scripts/gen_crd_reference.py

manifests: setup
	$(BIN)/python scripts/render_manifests.py

docs: setup
	$(BIN)/python scripts/gen_crd_reference.py

bench: setup
	$(BIN)/python benchmarks/bench.py

bench-sim: setup
	$(BIN)/python benchmarks/sim.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
