# One command each: `make demo` runs the whole pipeline locally, `make test` runs every check.
# Both create the virtual environments they need on first use.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
SCAN_VENV := .venv-scan
CHECKOV_VERSION := 3.3.30
SCAN_DIR := .aws-sam/scan
PORT ?= 4777

.PHONY: install sam scanner scan demo up test lint typecheck unit clean

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

# The policy scanner's dependencies clash with the SAM CLI's and the dev environment's: a third environment.
scanner: $(SCAN_VENV)/.installed

$(SCAN_VENV)/.installed:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

# Scans template.yaml and the CloudFormation SAM makes of it (the roles, queues and rules SAM generates);
# fails on any finding that is neither fixed nor waived on its resource. Settings: .checkov.yaml.
scan: install scanner
	$(VENV)/bin/python tests/infra/transformed_template.py $(SCAN_DIR)/transformed-template.json
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --config-file .checkov.yaml \
		-f template.yaml -f $(SCAN_DIR)/transformed-template.json

demo: install
	$(VENV)/bin/driftline demo --port $(PORT)

up: install
	$(VENV)/bin/driftline local up --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy driftline layers/shared/python functions ml tests

test: install sam lint typecheck scan
	$(VENV)/bin/pytest

clean:
	rm -rf .aws-sam .driftline .pytest_cache .mypy_cache .ruff_cache
