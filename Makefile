# fluvial developer tasks. Everything sets itself up on first use (idempotent, quick afterwards).
#   make run     run examples/quickstart.py (embedded sqlite:///mlflow.db), then serve its data on :5000
#   make test    lint, then pytest on tests/ beside throwaway PostgreSQL and MariaDB servers
#                extra pytest args:  make test PYTEST_ARGS="tests/unit -x"
#   make lint    ruff + mypy only
#   make bench   python -m bench (fluvial beside MLflow)
#   make clean   caches, build output, local run data;  make distclean also removes .venv and .venvs

SHELL := /bin/bash
PYTHON ?= python3
BIN := .venv/bin
# Empty by default: pytest then runs its configured testpaths (tests/).
PYTEST_ARGS ?=
# Two pytest-xdist workers, a test file per worker at a time (module fixtures, Spark sessions and servers
# stay within one process): the suite waits on servers, JVMs, MLflow venvs and image builds much of the
# time, so two workers on this 2-core machine keep both cores busy.  PYTEST_WORKERS=
# runs everything in one process.
PYTEST_WORKERS ?= -n 2 --dist loadfile
# Lint only the source trees that exist (others are being written alongside).
LINT_DIRS := $(wildcard fluvial tests bench examples)

.DEFAULT_GOAL := help
.PHONY: help venv mlflow-venvs run test lint bench clean distclean

help:
	@sed -n "2,7s/^# //p" Makefile

# .venv: installed by scripts/ensure-venv.sh; redone when pyproject.toml changes.
venv: .venv/.stamp
.venv/.stamp: pyproject.toml
	PYTHON=$(PYTHON) bash scripts/ensure-venv.sh

# .venvs/mlflow-2.22.5 and .venvs/mlflow-3.17.2 for compat tests and benchmarks, then the older
# releases whose databases tests/migrations upgrades (script checks stamps).
mlflow-venvs:
	PYTHON=$(PYTHON) bash scripts/mlflow-venvs.sh
	PYTHON=$(PYTHON) bash scripts/mlflow-venvs.sh old

# make run installs only what the quickstart needs (the `quickstart` extra; a current dev install covers it).
.venv/.stamp-quickstart: pyproject.toml
	PYTHON=$(PYTHON) bash scripts/ensure-venv.sh quickstart

UI_PORT ?= 5000
run: .venv/.stamp-quickstart
	$(BIN)/python examples/quickstart.py
	@echo
	@echo "Serving the quickstart's runs: open http://127.0.0.1:$(UI_PORT) (REST API under /api/2.0/mlflow/); Ctrl-C stops it."
	$(BIN)/fluvial ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port $(UI_PORT) --workers 1

lint: venv
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/mypy

# with-postgres.sh and with-mariadb.sh export FLUVIAL_TEST_POSTGRES_URL and FLUVIAL_TEST_MYSQL_URL;
# with-docker.sh (as root) starts a private Docker engine and exports DOCKER_HOST for the docker tests;
# with-podman.sh (as root) sets podman up on private paths with its Docker-compatible socket (podman tests).
# Each returns the status of the command it wraps (pytest's).
test: venv mlflow-venvs lint
	bash scripts/with-docker.sh bash scripts/with-podman.sh bash scripts/with-postgres.sh bash scripts/with-mariadb.sh $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: venv mlflow-venvs
	$(BIN)/python -m bench

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .pg .bench
	rm -rf mlflow.db mlflow.db-* mlruns mlartifacts
	find . -path ./.venv -prune -o -path ./.venvs -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf .venv .venvs
