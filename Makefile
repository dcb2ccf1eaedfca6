# One-command workflows. Everything runs inside a local virtualenv (.venv).
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup repro test clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(VENV)/.installed  ## create .venv and install the pinned requirements

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

repro: setup  ## run the whole default pipeline (dvc repro), then refresh the README table
	dvc repro
	$(PY) stages/readme.py

test: setup  ## run the test suite
	$(PY) -m pytest

clean:  ## remove the virtualenv and caches (keeps data/, models/ and the DVC cache)
	rm -rf $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: readme
readme: setup  ## refresh the README results table from metrics/results.json
	$(PY) stages/readme.py
