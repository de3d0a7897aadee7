# One command each: `make demo` runs the whole pipeline locally, `make test` runs every check, `make check` the
# quick ones (lint, types, the pure unit tests) in about a minute.
# Both create the virtual environments they need on first use.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
SCAN_VENV := .venv-scan
CHECKOV_VERSION := 3.3.30
SCAN_DIR := .aws-sam/scan
PORT ?= 4777
# Test processes `make test` runs at once: local mode's end-to-end tests mostly wait on its scaled schedules, and
# the other tests' work fills those waits, so one more process than a 2-core machine's cores pays.
TEST_WORKERS ?= 3
# The three virtual environments install side by side (mostly downloads), and lint and types check side by side.
MAKEFLAGS += --jobs=3

.PHONY: install sam scanner scan demo demo-ab up destroy test check lint typecheck unit clean

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
	$(VENV)/bin/driftline demo --fresh --port $(PORT)

# An A/B trial end to end in a few minutes: a weak first model, a better challenger at 50/50 for a minute, the winner.
demo-ab: install
	$(VENV)/bin/driftline demo --ab --fresh --port $(PORT)

up: install
	$(VENV)/bin/driftline local up --port $(PORT)

# Removes the deployed stack and what its runs created (endpoints first, they are billed by the hour); the data
# bucket is kept unless DESTROY_ARGS has --delete-data. `make destroy DESTROY_ARGS="--local"` clears local mode.
DESTROY_ARGS ?=
destroy: install
	$(VENV)/bin/driftline destroy $(DESTROY_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy driftline layers/shared/python functions ml tests

# The quick loop before a commit: no server, subprocess or AWS emulator (tests/unit/conftest.py refuses them).
check: lint typecheck
	$(VENV)/bin/pytest -q tests/unit

# Every check CI runs. The security scan `make scan` prints runs inside it (tests/infra/test_security_scan.py).
# A test module runs whole on one process (loadscope), in the order collected, so the long local-mode modules
# start first; its module-scoped fixtures (one local cloud a module) are set up once.
test: install sam scanner lint typecheck
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

clean:
	rm -rf .aws-sam .driftline .pytest_cache .mypy_cache .ruff_cache
