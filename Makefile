# One command each: `make demo` runs the whole pipeline locally, `make test` runs every check.
# Both create the virtual environments they need on first use.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
PORT ?= 4777

.PHONY: install sam demo up test lint typecheck unit clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

# The SAM CLI pins its own boto3 and cfn-lint, so it lives in a virtual environment of its own.
sam: $(SAM_VENV)/.installed

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

demo: install
	$(VENV)/bin/driftline demo --port $(PORT)

up: install
	$(VENV)/bin/driftline local up --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy driftline layers/shared/python functions ml tests

test: install sam lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf .aws-sam .driftline .pytest_cache .mypy_cache .ruff_cache
