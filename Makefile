# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup index bench clean

run: setup index
	$(BIN)/python -m bot console

test: setup
	$(BIN)/python -m pytest

setup: $(STAMP)

# Reinstall when the dependencies change; torch stays below 2.14 (the CPU 2.13.0 build here).
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch>=2.13,<2.14"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m embeddings.prepare
	touch $(STAMP)

index: setup
	$(BIN)/python -m embeddings.build

bench: setup
	$(BIN)/python bench/build_speed.py
	$(BIN)/python -m bot eval tests/data/panjin_questions.jsonl
	$(BIN)/python -m bot eval ../shared/bench/cmrc2018_trial.json

clean:
	rm -rf $(VENV) index
