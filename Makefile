# Two commands on a fresh machine: `make demo` (the main job on the shipped default) and
# `make test` (the suite). Both install into .venv first; torch is pinned to the CPU build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/l2m-edge demo

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow --timeout 3600 -o faulthandler_timeout=3500

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
