# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench check clean fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rxpolicy eval examples/hollandzorg/benzodiazepine-chronic.yaml --policy hollandzorg

test: $(STAMP)
	$(BIN)/rxpolicy fmt --check rules
	$(BIN)/rxpolicy check
	$(BIN)/ruff check interpreter tests benchmarks
	PYTHONPATH=interpreter $(BIN)/lint-imports
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

# The long fuzzing campaign (docs/fuzzing.md): new inputs every run, FUZZ_SCALE (default 25) times the examples
# `make test` tries; prints inputs tried and passed per property.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz --hypothesis-show-statistics

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_evaluate.py
	$(BIN)/python benchmarks/bench_cold.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache
