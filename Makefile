# focusflow: two entry points, `make demo` and `make test`; everything else is their plumbing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEMO_DB := demo/focusflow.duckdb

.PHONY: demo test lint typecheck unit system-deps install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: install into .venv and run the main pipeline on the bundled sample data (DuckDB)
demo: $(STAMP)
	@mkdir -p demo
	@rm -f $(DEMO_DB)  # a fresh database each time: the demo shows one clean load
	$(BIN)/focusflow run examples/pipeline.yaml --once --log-level WARNING
	$(BIN)/focusflow summary --db duckdb:///$(DEMO_DB) --table focus
	$(BIN)/focusflow plot --db duckdb:///$(DEMO_DB) --table focus --out demo/cost-by-service.png
	@# the bundled samples cover 1-28 May 2026: report the second fortnight against the first
	$(BIN)/focusflow report --db duckdb:///$(DEMO_DB) --table focus --out demo/report.html \
		--start 2026-05-15 --end 2026-05-29

## system-deps: the real servers the tests start (PostgreSQL, Prometheus, Azurite)
system-deps:
	@bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

## test: install what the tests need, start the real services they use, run everything
test: system-deps $(STAMP) lint typecheck
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) demo .mypy_cache .pytest_cache .ruff_cache
