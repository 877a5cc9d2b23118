# The two commands of the README. Both create .venv and install the project (once per change of
# pyproject.toml), then build the book or run every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test check-book lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/juno-calib book

# The built book in headless Chromium (after `make book`): tables, offline math, images, outputs,
# headings of every chapter; one screenshot per chapter in _build/screenshots/.
check-book: $(STAMP)
	$(BIN)/pytest tests/browser

test: $(STAMP)
	$(BIN)/ruff check --output-format concise juno_calib tests benchmarks
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_response.py
	$(BIN)/python benchmarks/bench_ensemble.py

clean:
	rm -rf _build .pytest_cache
