# Everything runs from the project's own virtualenv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: install services up down test lint protos bench bench-search bench-contract bench-segments clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## Create .venv and install the pinned dependencies.

up: install  ## Start every service in embedded mode with demo data; prints the URLs.
	$(PY) -m scripts.stack up --demo

down:  ## Stop what `make up` started.
	@test -x $(PY) && $(PY) -m scripts.stack down || echo "not running"

services:  ## Start PostgreSQL and Redis for the tests (installs them from Debian's packages as root).
	scripts/services up

# Two workers, each running whole files (a file's servers start once): the suite waits on
# processes more than it computes, so two fit the 2 cores CI has.
TEST_WORKERS ?= 2

test: install services  ## Run the whole test suite.
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install  ## ruff check and format check.
	scripts/lint

protos: install  ## Regenerate gen/ from proto/.
	scripts/gen_protos

bench: install  ## Gateway read/create throughput against the SPEC targets.
	$(PY) -m bench.gateway_throughput

bench-search: install  ## Search latency over 1,000,000 generated customers (about 20 minutes).
	$(PY) -m bench.search_latency

bench-contract: install  ## The API contract test with 20 times the examples and sequences, not derandomized (about an hour).
	CRM_CONTRACT_SCALE=20 $(PY) -m pytest -n $(TEST_WORKERS) -p no:cacheprovider tests/gateway/test_fuzz.py

bench-segments: install  ## A 3-condition segment over 1,000,000 customers, and one change's update time.
	$(PY) -m bench.segment_eval --database sqlite
	$(PY) -m bench.segment_eval --database postgresql

clean: down
	rm -rf var
