# The front door. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DBT_DIR := dbt_project
DBT := $(BIN)/dbt --no-use-colors
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install manifest run test dev lint bench docs clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# @dbt_assets needs dbt's manifest.json when the code location loads. Re-parsed only when a
# file of the dbt project changed (a parse costs ~6 s).
MANIFEST := $(DBT_DIR)/target/manifest.json
DBT_SOURCES := $(shell find $(DBT_DIR) -path $(DBT_DIR)/target -prune -o -path $(DBT_DIR)/logs -prune \
	-o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.yaml' -o -name '*.csv' \) -print)

# parsed with the pipeline's own dbt settings (pipelines/defs/warehouse/project.py), so the first
# run's dbt starts from this parse instead of parsing the project again
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -c 'from pipelines.defs.warehouse.project import ensure_manifest; ensure_manifest(force=True)'
	@touch $(MANIFEST)

manifest: $(MANIFEST)

## make run: set up, generate sample data if the landing zone is empty, full refresh, publish.
run: manifest
	$(BIN)/segments generate --if-empty
	$(BIN)/segments run

## make test: set up and run the whole test suite.
test: manifest
	$(BIN)/python -m pytest

## make dev: the Dagster UI (and daemon, for schedules, sensors and UI backfills) on 127.0.0.1:3000.
dev: manifest
	$(BIN)/python -c 'from pipelines import settings as s; s.ensure_dagster_home(s.load())'  # + dagster.yaml: one run at a time
	DAGSTER_HOME=$${DAGSTER_HOME:-$$(realpath $${SEGMENTS_WAREHOUSE_DIR:-data/warehouse})/dagster_home} \
	  env --default-signal=INT,TERM $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check pipelines tests bench
	$(BIN)/ruff format --check pipelines tests bench

## make bench [N=10000000]: side-by-side timings against pandas / polars / DuckDB peers.
bench: manifest
	$(BIN)/segments bench --transactions $${N:-1000000}

## make docs: dbt docs (catalog + site) into dbt_project/target.
docs: manifest
	$(DBT) docs generate --project-dir $(DBT_DIR) --profiles-dir $(DBT_DIR)

clean:
	rm -rf $(DBT_DIR)/target $(DBT_DIR)/logs .pytest_cache
