# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-serve check clean browser serve fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rxpolicy eval examples/hollandzorg/benzodiazepine-chronic.yaml --policy hollandzorg

# The workbench's browser test drives Debian's chromium through chromedriver (no browser download). Installed
# here when missing and possible (root with apt-get); when it cannot be, the test is skipped with the reason.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
			>/dev/null) || echo "make browser: chromium could not be installed; the workbench browser test will be skipped"; \
	else echo "make browser: chromium is missing and cannot be installed here; the workbench browser test will be skipped"; fi

test: $(STAMP) browser
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

bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py

serve: $(STAMP)
	$(BIN)/rxpolicy serve

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache
