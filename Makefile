# FactoryOS: the two commands of the README's Quick start, and their helpers.
#   make demo   start the virtual factory, drivers, store, API and web page on 127.0.0.1:8000
#   make test   lint, type-check and run the whole test suite (browser tests included)
# Both create .venv and install what they need the first time; later runs reuse it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest system-deps bench clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh python
	touch $(STAMP)

system-deps:
	bash scripts/bootstrap.sh browser

demo: $(STAMP)
	$(BIN)/factoryos demo

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers, a test file per worker at a time (module fixtures are built once).
pytest: $(STAMP) system-deps
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/factoryos bench ingest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
