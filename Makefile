# The Cognito attribute mirror. Every target sets itself up first (idempotently).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export PYTHONPATH := $(CURDIR)
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help setup setup-node test unit integration lint format mypy demo dev bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

setup: $(STAMP) ## Python venv with runtime + dev requirements (idempotent)

setup-node: $(NODE_STAMP) ## npm ci: osls, serverless-offline, cognito-local, DynamoDB Local

unit: setup ## Unit tests (moto, no network)
	$(PY) -m pytest tests/unit -q

test: setup setup-node ## All tests: unit, then integration on the local stack
	$(PY) -m pytest tests -q

lint: setup ## ruff + mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy functions models scripts

format: setup ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean: ## Remove build and test state (keeps .venv and node_modules)
	rm -rf .serverless .local .pytest_cache .mypy_cache .ruff_cache

.PHONY: test-stress
# The deploy template's IAM check (tests/deploy, when present) runs here too.
test-stress: setup setup-node ## Long reliability runs: more hypothesis examples, DynamoDB Local, outages
	MIRROR_STRESS=1 HYPOTHESIS_PROFILE=stress $(PY) -m pytest tests/reliability tests/stress \
		$(wildcard tests/deploy/test_template_security.py) -q -p no:cacheprovider \
		--hypothesis-show-statistics --junitxml=.local/stress-report.xml
