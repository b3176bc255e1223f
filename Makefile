# Two commands a new user needs: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m memplan.mediapipe fetch
	$(BIN)/python -m memplan.alloc
	touch $(STAMP)

run: $(STAMP)
	mkdir -p out
	$(BIN)/memplan plan zoo:resnet50 --json out/resnet50.plan.json --picture out/resnet50.png

# The study report test renders HTML in headless Chromium, from Debian (no browser download).
# Installed here when missing and we are root; otherwise that test fails saying how to install it.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && apt-get install -y chromium; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get update && sudo apt-get install -y chromium' (tests/test_study_report.py needs it)"; \
	  fi

test: $(STAMP) chromium
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP) chromium
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/plan_zoo.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
