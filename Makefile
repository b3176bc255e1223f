# Two commands a new user needs: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench fuzz fuzz-long clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m memplan.graph.mediapipe fetch
	$(BIN)/python -m memplan.graph.corpus fetch
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
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP) chromium
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Coverage-guided fuzzing (atheris) of the importers and readers, FUZZ_SECONDS per target;
# crashes land in tests/fuzz_crashes/<target>/, replayed by tests/test_fuzz_crashes.py.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[fuzz]"
	for t in onnx tflite problem plan; do \
	  mkdir -p .fuzz-corpus/$$t tests/fuzz_crashes/$$t && \
	  PYTHONPATH=tests $(BIN)/python -c "from fuzz_atheris import seeds; seeds('$$t', '.fuzz-corpus/$$t')" && \
	  PYTHONPATH=tests $(BIN)/python tests/fuzz_atheris.py $$t -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=tests/fuzz_crashes/$$t/ .fuzz-corpus/$$t || exit 1; \
	done

# The hypothesis surfaces for FUZZ_MINUTES in all, counted (figures in BENCHMARKS.md, TESTING).
FUZZ_MINUTES ?= 30
fuzz-long: $(STAMP)
	PYTHONPATH=tests nice -n 10 $(BIN)/python tests/fuzz_long.py --minutes $(FUZZ_MINUTES) --out fuzz-report.json

bench: $(STAMP)
	$(BIN)/python benchmarks/plan_zoo.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .fuzz-corpus fuzz-report.json
