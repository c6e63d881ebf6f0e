# The README's two commands: `make run` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck architecture unit bench golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make run: the clinic web application on the SQLite database ./var/myositis-cds.sqlite3
## (migrated, seeded with the examples; a demo login is printed the first time) at http://127.0.0.1:8000/
run: $(STAMP)
	$(BIN)/myositis-cds serve --seed-examples

## make demo: assess every example patient and write HTML and JSON reports to out/
demo: $(STAMP)
	$(BIN)/myositis-cds demo --out out

## make test: lint, type-check, architecture contracts, then every test (warnings are errors)
test: $(STAMP) lint typecheck architecture unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

architecture: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest

## make golden: regenerate tests/golden/assessments.sha256, the byte-for-byte digests of the assessment
## JSON of every example and of 10,000 generated patients (only when the output is meant to change)
golden: $(STAMP)
	$(BIN)/python -m tests.golden_assessments --write

## make bench: the benchmarks (figures go in the README)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_assess.py
	$(BIN)/python benchmarks/bench_timeline.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_cohort.py
	$(BIN)/python benchmarks/bench_fhir_export.py
	$(BIN)/python benchmarks/bench_fhir_import.py
	$(BIN)/python benchmarks/bench_cds_hooks.py
	$(BIN)/python benchmarks/bench_worklist.py --sizes 100000,300000  # add 1000000: see README

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
