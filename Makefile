# `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install check test test-slow wheel-smoke demo bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,check]'
	touch $(STAMP)

install: $(STAMP)

# Lint and types: zero ruff findings, zero mypy errors.
check: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy

# The whole default suite (slow simulation tests excluded; see test-slow).
test: $(STAMP)
	bash scripts/system-deps.sh
	$(PY) -m pytest -m "not slow" -n 2 -q

test-slow: $(STAMP)
	bash scripts/system-deps.sh
	$(PY) -m pytest -m slow -q

# Build the wheel, install it in a fresh venv (not .venv) and run the pipeline from it.
wheel-smoke:
	PYTHON=$(PYTHON) bash scripts/wheel-smoke.sh

# The main job, end to end, on the shipped example protocols; outputs in demo-output/.
demo: $(STAMP)
	bash scripts/system-deps.sh
	bash scripts/demo.sh

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

docs: $(STAMP)
	$(PY) -m bitframe.protocol.docs docs/protocol-reference.md
	$(VENV)/bin/bitframe schema --out docs/protocol.schema.json --force
	$(PY) -m bitframe.analyse.results docs/results.schema.json
	$(PY) -m bitframe.report.synthesis docs/programme-results.schema.json

clean:
	rm -rf $(VENV) demo-output .pytest_cache .hypothesis
