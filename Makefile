# patrolflow: `make demo` runs the main job, `make test` runs everything CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit lint tools schemas broker-up broker-down clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# e.g. make demo DEMO_ARGS="--duration 90s --plain"
DEMO_ARGS ?=

demo: $(STAMP)  ## broker (unless PATROLFLOW_KAFKA_BOOTSTRAP is set), topics, worker, simulator, live view
	$(BIN)/patrolflow demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

tools:  ## prometheus and promtool (Debian package) for the rule and query tests
	bash deploy/prometheus/install.sh

test: lint tools  ## lint, types, unit, integration and e2e tests (starts the local broker itself)
	$(BIN)/pytest tests

test-unit: $(STAMP)  ## the quick edit-test loop: no broker
	$(BIN)/pytest tests/unit

schemas: $(STAMP)
	$(BIN)/patrolflow schemas export

broker-up: $(STAMP)
	$(BIN)/patrolflow kafka up

broker-down: $(STAMP)
	$(BIN)/patrolflow kafka down
