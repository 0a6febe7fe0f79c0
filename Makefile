# make run    set everything up, migrate, load the demo data on first run, serve on http://127.0.0.1:5000
# make test   set everything up and run the whole suite (SQLite; PostgreSQL with CRM_TEST_DATABASE_URL)
# make dev    the same as run, with Flask's development server: reloader and debugger (never in production)
SHELL := /bin/bash
FLASK := .venv/bin/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run dev demo test setup setup-test migrate bench lint translations serve

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

migrate: setup
	@$(FLASK) db upgrade

demo: migrate
	@$(FLASK) seed-demo --if-empty
	@echo
	@echo "Sign in at http://$(HOST):$(PORT)/ with one of the demo accounts (role, email, password):"
	@cat $${CRM_INSTANCE_PATH:-instance}/demo-accounts.txt 2>/dev/null || echo "  (no demo accounts: create one with 'flask --app app users create EMAIL --name NAME --role admin')"
	@echo

# Links in PDFs (the verification QR code), feeds and e-mails name the address the app is served on, unless
# CRM_BASE_URL says otherwise (behind a proxy, its public address).
run dev demo: export CRM_BASE_URL ?= http://$(HOST):$(PORT)

# The production server (gunicorn, settings in deploy/gunicorn.conf.py; CRM_WORKERS overrides the worker count).
run: demo
	@exec .venv/bin/gunicorn --config deploy/gunicorn.conf.py --bind $(HOST):$(PORT) app:app

dev: demo
	@$(FLASK) run --debug --host $(HOST) --port $(PORT)

test: setup-test
	@.venv/bin/pytest

lint: setup
	@.venv/bin/ruff check crm tests app.py migrations deploy
	@.venv/bin/ruff format --check crm tests app.py deploy
	@.venv/bin/mypy

# Over HTTP under gunicorn beside a floor app, SQLite and PostgreSQL: make bench [SIZES=10k,100k,1m] [DBS=sqlite]
bench: setup
	@SIZES="$(SIZES)" DBS="$(DBS)" ROUNDS="$(ROUNDS)" .venv/bin/python -m crm.bench

# Re-extract the strings after changing templates or code, then translate the new French entries
# (scripts/po_fill.py --missing lists them; English is filled from the msgids).
translations: setup
	@.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .
	@.venv/bin/pybabel update -N --no-wrap --ignore-obsolete -i translations/messages.pot -d translations
	@.venv/bin/python scripts/fill_english.py
	@.venv/bin/pybabel compile -d translations >/dev/null
