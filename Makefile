# untwine: `make run` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
RUN_DIR ?= runs/demo

.PHONY: run test test-fast setup setup-test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test,ray]"
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

run: setup
	$(VENV)/bin/untwine demo --out $(RUN_DIR)

test: setup-test
	$(PY) -m pytest -q

test-fast: setup-test
	$(PY) -m pytest -q -m "not integration"

bench: setup
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/dsprites_io.py

clean:
	rm -rf $(VENV) runs .pytest_cache
