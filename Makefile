# Chatty: `make run` serves it, `make test` tests it (README, SPEC §8).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/chatty
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint bench install install-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements-test.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	exec $(VENV)/bin/daphne -b $(HOST) -p $(PORT) chatty.asgi:application

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The whole suite twice: on the embedded defaults (SQLite, in-process layer and presence),
# then on PostgreSQL + Redis; the tests that need both for real run in the second pass.
test: install-test
	bash scripts/test-services.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not needs_postgres" -q
	DATABASE_URL=$(TEST_PG_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -q

bench: install-test
	$(PY) bench/run_all.py
