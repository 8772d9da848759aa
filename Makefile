# Two commands do everything: `make run` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

## Index seeds/ (only what changed) and open the search prompt.
run: install
	$(BIN)/rag ingest
	$(BIN)/rag search

## The whole suite (slow benchmarks excluded).
test: install
	$(BIN)/python -m pytest

## Benchmarks and big-corpus runs (marked slow).
bench: install
	$(BIN)/python -m pytest -m slow -s

lint: install
	$(BIN)/ruff check rag tests
	$(BIN)/ruff format --check rag tests
	$(BIN)/mypy rag

clean:
	rm -rf $(VENV) .rag .pytest_cache
