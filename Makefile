# The two commands of README.md: `make run` (the panel) and `make test` (every test).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: run test lint translations install messages

$(BIN)/vafa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/vafa

translations: $(BIN)/vafa
	$(BIN)/pybabel compile -d translations >/dev/null

run: translations
	$(BIN)/vafa db upgrade
	$(BIN)/vafa run

lint: $(BIN)/vafa
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: translations lint
	tests/system-packages.sh
	$(BIN)/pytest -q -n auto
	tests/with-postgres.sh $(BIN)/pytest -q -n auto

# After changing user-facing text: refresh the catalogs, then translate the new entries.
messages: $(BIN)/vafa
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --omit-header -w 100 -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -w 100 --no-fuzzy-matching
