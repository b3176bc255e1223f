# Two commands a new user needs: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m memplan.mediapipe fetch
	$(BIN)/python -m memplan.corpus fetch
	$(BIN)/python -m memplan.alloc
	touch $(STAMP)

run: $(STAMP)
	mkdir -p out
	$(BIN)/memplan plan zoo:resnet50 --json out/resnet50.plan.json --picture out/resnet50.png

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/plan_zoo.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
