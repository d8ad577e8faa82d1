# The Cognito attribute mirror. Every target sets itself up first (idempotently).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# checkov (IaC scanner) pins packages that clash with ours: its own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export PYTHONPATH := $(CURDIR)
export AWS_EC2_METADATA_DISABLED := true

.PHONY: wheel help setup setup-node setup-checkov test unit component integration test-deep lint format mypy pr demo dev bench clean package

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

# A symlinked node_modules is a shared install (git worktrees): npm ci would empty it for everyone.
$(NODE_STAMP): package.json package-lock.json $(wildcard patches/*.patch)
	@if [ -L node_modules ]; then echo "node_modules is a symlink (shared install): skipping npm ci"; \
	else npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); fi

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

setup: $(STAMP) ## Python venv with runtime + dev requirements (idempotent)

setup-checkov: $(CHECKOV_STAMP) ## checkov in its own venv (.venv-checkov), pinned in requirements-checkov.txt

setup-node: $(NODE_STAMP) ## npm ci: osls, serverless-offline, cognito-local, DynamoDB Local

# Coverage of the shipped code; the bar (fail_under) is in pyproject.toml.
COV := --cov=functions --cov=models --cov=cognito_mirror
# pytest-xdist: one worker per core (TEST_WORKERS=2, or 0 for one process); tests that share a local
# service or the packaged templates stay in one worker (tests/support/parallel.py).
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadgroup

unit: setup ## Unit tier: pure logic, no AWS, no moto, sockets off (seconds)
	$(PY) -m pytest tests/unit -q

component: setup ## Component tier: handlers and logic through moto in process, no network
	$(PY) -m pytest tests/component -q $(XDIST)

integration: setup setup-node ## Integration tier: DynamoDB Local and the local stack (starts and stops its own)
	$(PY) -m pytest tests/integration -q $(XDIST)

test: setup setup-node setup-checkov ## Every tier, reliability, deploy and package checks, with the coverage gate
	$(PY) -m pytest tests -q $(COV) $(XDIST)

package: setup setup-node setup-checkov ## Package serverless.yml offline (new + existing pool), cfn-lint, checkov, artifact sizes
	$(PY) -m scripts.package_check

dev: setup setup-node ## Local stack on 127.0.0.1 until Ctrl-C (ports: MIRROR_{DYNAMODB,COGNITO,HTTP,LAMBDA}_PORT)
	$(PY) -m scripts.localstack

demo: setup setup-node ## The main job end to end on the local stack, with a transcript
	$(PY) -m scripts.demo

lint: setup ## ruff (rules and complexity <= 10) + format check + mypy strict
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory mypy

mypy: setup ## mypy strict on the shipped code
	$(PY) -m mypy cognito_mirror functions models scripts

pr: lint test ## Before a pull request: format check, lint with complexity, mypy, then every test

format: setup ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

.PHONY: bench-core
bench: bench-core bench-backfill bench-events bench-events-lag bench-directory bench-freshness ## All benchmarks: table on stdout, JSON in bench/results/ (docs/PERFORMANCE.md)

bench-core: setup setup-node ## Mirror vs GetUser per request: cold start, GET /me, triggers (BENCH_ARGS=--quick)
	$(PY) -m bench.run $(BENCH_ARGS)

clean: ## Remove build and test state (keeps .venv and node_modules)
	rm -rf .serverless .local .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-backfill
bench-backfill: setup setup-node ## Backfill benchmark: Cognito stand-in + DynamoDB Local, 10k, 20k and 100k users, listing-bound (~15 min)
	$(PY) -m bench.backfill_bench

.PHONY: bench-events
bench-events: setup ## User change events: stream handler throughput, batches of 100, PutEvents stand-in
	$(PY) -m bench.events_bench

.PHONY: bench-directory
bench-directory: setup setup-node ## User directory benchmark: find by e-mail, list a tenant vs ListUsers (50k users)
	$(PY) -m bench.directory_bench

.PHONY: bench-events-lag
bench-events-lag: setup setup-node ## User change events on the local stack: write -> consumer lag, p50/p99 (BENCH_LAG_ARGS=--writes N)
	$(PY) -m bench.events_lag $(BENCH_LAG_ARGS)

.PHONY: bench-revocation
bench-revocation: setup setup-node ## Revocation on the local stack: removal from a group -> first 403, p50/p99 (BENCH_REVOCATION_ARGS=--removals N --delivery sync|row)
	$(PY) -m bench.revocation $(BENCH_REVOCATION_ARGS)

.PHONY: bench-freshness
bench-freshness: setup setup-node ## Freshness per writer path and event lag on the local stack, from the shipped EMF metrics (BENCH_FRESHNESS_ARGS=--users N)
	$(PY) -m bench.freshness $(BENCH_FRESHNESS_ARGS)

.PHONY: test-stress
# CI's bounded stress step: load, kills, outages on DynamoDB Local. One test at a time: the load test
# sizes itself to the machine. The template's IAM check is part of `make test`.
test-stress: setup setup-node ## Stress parts (tests/stress: load, kills, outages), default profile
	MIRROR_STRESS=1 $(PY) -m pytest tests/stress -q -p no:cacheprovider --junitxml=.local/stress-report.xml

# Not in CI: the reliability properties at the `stress` hypothesis profile (~17x the examples).
test-deep: setup ## Deep reliability run: tests/reliability at the stress hypothesis profile (long)
	HYPOTHESIS_PROFILE=stress $(PY) -m pytest tests/reliability -q -p no:cacheprovider \
		--hypothesis-show-statistics --junitxml=.local/deep-report.xml

wheel: setup ## Build the reader library's wheel (cognito_mirror only) into dist/
	$(PY) -m pip wheel --no-deps --quiet --wheel-dir dist .
	@ls dist/cognito_attribute_mirror-*.whl
