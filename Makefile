# Two entry points: `make run` (dashboard + copy engine on the embedded default)
# and `make test` (the whole suite on PostgreSQL, Redis and headless Chromium).
SHELL := /bin/bash
PY_VERSION := $(shell cat .python-version)
# pyenv's shim honours .python-version; python3.12 on PATH works without pyenv.
PYTHON := $(shell command -v python$(PY_VERSION) || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Browser libraries: installed from npm by the lock file, copied under static/vendor/
# (git-ignored) for Django's static files. Without npm the pages still render their
# tables (no charts), so a missing npm warns and does not stamp (tried again next time).
NODE_STAMP := static/vendor/.installed
VENDOR := static/vendor
NPM ?= npm
# `make run PORT=8080` serves on another port.
PORT ?= 8000
# Rithmic's SDK pins websockets<15, which project-x-py's SignalR client
# (websockets>=15) rules out: installed without its dependencies, which
# pyproject.toml lists itself (the Rithmic tests run it on websockets 15).
RITHMIC_SDK := async-rithmic==1.6.6

.PHONY: run test install services lint bench deploy-check

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python $(PY_VERSION) not found (pyenv or python$(PY_VERSION))" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet '.[test]'
	$(BIN)/pip install --quiet --no-deps $(RITHMIC_SDK)
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		$(NPM) ci --no-audit --no-fund --loglevel=error && \
		mkdir -p $(VENDOR)/uplot && \
		cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css \
			node_modules/uplot/LICENSE $(VENDOR)/uplot/ && \
		touch $(NODE_STAMP); \
	else \
		echo "$(NPM) not found: pilot charts are left out (tables still shown)" >&2; \
	fi

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo --host 127.0.0.1:$(PORT)
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT) --noreload

services:
	bash deploy/ensure_services.sh

# Browser tests run in a pytest process of their own (see tests/test_browser_live_feed.py).
test: $(STAMP) $(NODE_STAMP) services
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS)
	# A hung browser (a forked live server whose sockets stall) fails in 15 min, not CI's 90.
	timeout 900 $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Django's deployment checks with the production settings the README documents
# ("Deployment behind TLS"); a throwaway secret, no database connection needed.
deploy-check: $(STAMP)
	HTTPS=true ALLOWED_HOSTS=copytrade.example.com \
	DATABASE_URL=postgres://copytrade@db.internal:5432/copytrade \
	REDIS_URL=redis://redis.internal:6379/0 \
	SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(60))") \
	DJANGO_SETTINGS_MODULE=copytrade.settings.base \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

# Copy engine benchmark on scratch databases (never db.sqlite3 or DATABASE_URL):
# a temporary SQLite file, then PostgreSQL when the server answers. One JSON
# document each on stdout (recipes not echoed, so it parses).
# BENCH_ARGS e.g. "--events 100 --followers 20 --profile 30".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/copytrade_bench
bench: $(STAMP)
	@$(BIN)/python manage.py bench_engine $(BENCH_ARGS)
	@$(BIN)/python manage.py bench_engine --database-url $(BENCH_DATABASE_URL) --skip-unreachable $(BENCH_ARGS)
