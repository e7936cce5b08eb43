# Everything runs from the hash-pinned lock files in requirements/ into .venv.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
DB_NAME ?= payouts
SCREENSHOTS_URL ?= http://127.0.0.1:8000
PGHOST ?= 127.0.0.1
export DJANGO_SETTINGS_MODULE ?= config.settings.base

.PHONY: help install lock services db migrate keys seed run web dispatcher worker bank-worker webhook-worker beat test check lint format \
        typecheck imports docker-lint schema alerts screenshots ledger-check bench capacity bench-smoke chaos chaos-short fuzz clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	python3 -m venv .venv-tools && .venv-tools/bin/pip install -q uv

.venv/.installed: requirements/dev.txt | $(UV)
	$(UV) venv -q --allow-existing --python 3.11 .venv
	$(UV) pip sync -q --python $(PY) requirements/dev.txt
	touch $@

install: .venv/.installed  ## Create .venv from the lock files.

lock: | $(UV)  ## Re-lock requirements/*.txt from pyproject.toml.
	$(UV) pip compile -q pyproject.toml --generate-hashes --python-version 3.11 --no-header -o requirements/main.txt
	$(UV) pip compile -q pyproject.toml --group dev --generate-hashes --python-version 3.11 --no-header -o requirements/dev.txt

services:  ## Start PostgreSQL and Redis when they are down.
	@bash scripts/services.sh

db: services  ## Create the database when it is missing.
	@psql -h $(PGHOST) -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$(DB_NAME)'" | grep -q 1 \
		|| psql -h $(PGHOST) -U postgres -qc "CREATE DATABASE $(DB_NAME)"

migrate: install db  ## Apply migrations.
	$(PY) manage.py migrate --noinput

keys: install  ## Generate the simulator's development webhook keys (git-ignored) when missing.
	$(PY) manage.py fake_bank_keys

seed: migrate keys  ## Create the demo organisation, print its API key, fund it through the bank.
	@mkdir -p var
	@$(PY) manage.py seed_demo | tee var/seed.log
	@tail -n 1 var/seed.log > var/demo-api-key
	$(PY) manage.py fake_bank_send_transfer --inn 7707083893 --amount 100000.00 --document-number DEMO-SEED --once
	$(PY) manage.py ledger_check --record > /dev/null  # the first of beat's periodic checks, at once

run: seed  ## Install, migrate, seed, then run web, worker, beat and the simulated bank.
	@rm -rf var/metrics  # each process's metrics files: a run starts its counters at zero
	@echo "API on http://127.0.0.1:8000/api/docs/ , bank at http://127.0.0.1:8000/fake-bank/ ; demo key: $$(cat var/demo-api-key)"
	.venv/bin/honcho start -f Procfile

web: install  ## The web app alone (API, webhooks, simulated bank) on :8000, reloading on code changes.
	WEB_RELOAD=true .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application

dispatcher: install  ## The dispatcher: hands new payouts to the payouts worker.
	$(PY) manage.py payouts_dispatch

worker: install  ## A Celery worker for the payouts queue.
	.venv/bin/celery -A config worker -Q payouts -c 2 -n payouts@%h -l INFO

bank-worker: install  ## The simulated bank's own Celery worker (its queue: fake_bank).
	.venv/bin/celery -A config worker -Q fake_bank -c 2 -n bank@%h -l INFO

webhook-worker: install  ## The client webhooks' Celery worker (queue webhooks; threads, at the lowest CPU priority).
	scripts/background-cpu.sh .venv/bin/celery -A config worker -Q webhooks -P threads -c 4 -n webhooks@%h -l INFO

beat: install  ## Celery beat (the reconciler's schedule).
	.venv/bin/celery -A config beat -l INFO --schedule var/celerybeat-schedule

test: install services  ## The test suite against the real PostgreSQL and Redis.
	DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/pytest

lint: install  ## ruff check and ruff format --check.
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install  ## Apply ruff's fixes and formatting.
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck: install  ## mypy with the Django and DRF plugins.
	DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/mypy config payouts provider fake_bank webhook_inbox scripts manage.py

imports: install  ## import-linter contracts.
	.venv/bin/lint-imports

docker-lint: install  ## Validate Dockerfile and docker-compose.yml without an engine.
	.venv/bin/hadolint Dockerfile
	"$$($(PY) -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')" -f docker-compose.yml config -q

schema: install  ## Validate the OpenAPI schema.
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

alerts:  ## Validate the Prometheus alert rules and run their unit tests (promtool, from Debian's prometheus).
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts.test.yml

check: lint typecheck imports docker-lint schema alerts test chaos-short  ## Everything CI runs, in CI's order.

ledger-check: install  ## Verify the ledger's invariants against the development database.
	$(PY) manage.py ledger_check

screenshots: install  ## PNGs of the bank's page, Swagger UI and /ops/ into docs/screenshots/ (needs `make run` up).
	$(PY) -m scripts.screenshots --base-url $(SCREENSHOTS_URL) --out docs/screenshots

bench: install services  ## Load-test the API against a bare Django ceiling; writes docs/benchmarks.md (~15 min).
	$(PY) -m bench

capacity: install  ## 64 connections for 30 s against the running `make run`; counts PostgreSQL's connections.
	$(PY) -m bench.capacity

bench-smoke: install services  ## The same at toy sizes and 3-second rounds (~30 s); output under var/bench/.
	$(PY) -m bench --smoke

chaos: install services  ## Faults on a stack of its own: 500 payouts, worker kills, Redis and the bank down (~5 min).
	$(PY) -m chaos

chaos-short: install services  ## The chaos run scaled down (100 payouts, short faults; ~1.5 min); CI runs it.
	$(PY) -m chaos --short

fuzz: install services  ## schemathesis on a stack of its own: >= FUZZ_REQUESTS (10,000) requests, fails on a 5xx or a response off the schema (~5 min).
	$(PY) -m fuzz

clean:  ## Remove the virtualenv, caches and generated files.
	rm -rf .venv .venv-tools .mypy_cache .ruff_cache .pytest_cache var staticfiles
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
