# shipyard — the first command is `make demo`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help venv demo test test-fast clean-demo

help:
	@echo "make demo       create .venv if missing, install shipyard[local], run the offline demo"
	@echo "make venv       only create .venv and install shipyard[local] (~7 min the first time)"
	@echo "make test       run the test suite (includes slow tests with the real local model)"
	@echo "make test-fast  run the tests that need no model (-m 'not slow')"

# Idempotent: returns at once when .venv already has shipyard[local].
venv:
	@SHIPYARD_VENV=$(VENV) $(PYTHON) scripts/demo.py setup

demo:
	@SHIPYARD_VENV=$(VENV) $(PYTHON) scripts/demo.py run

test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

# Demo copies live under the system temp dir as shipyard-demo-*; remove them.
clean-demo:
	rm -rf $${TMPDIR:-/tmp}/shipyard-demo-*
