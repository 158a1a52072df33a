# Two commands do all the set-up on a fresh machine with Python >= 3.11:
#   make run    screens the bundled example inputs with the embedded default policy
#   make test   runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/swisscheese: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: $(BIN)/swisscheese
	$(BIN)/swisscheese scan --examples --output out/verdicts.jsonl

lint: $(BIN)/swisscheese
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(BIN)/swisscheese
	$(BIN)/python bench/guard_overhead.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
