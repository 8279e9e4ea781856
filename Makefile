# The two commands the README starts with: `make demo` and `make test`.
# Both install what they need themselves (venv, dev dependencies, redis-server).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install redis demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }

demo: install
	$(PY) -m basicai_async demo

lint: install
	$(VENV)/bin/ruff check basicai_async tests benchmarks examples .ci
	$(VENV)/bin/ruff format --check basicai_async tests benchmarks examples .ci

# tests/typecheck_pipeline.py is checked, never run: it fails if a wrong response_type type-checks.
typecheck: install
	$(VENV)/bin/mypy --strict basicai_async tests/typecheck_pipeline.py

# coverage starts before pytest, so the package imported by our own pytest plugin
# (basicai_async.testing, loaded at start-up) is measured from its first line.
unit: install redis
	$(VENV)/bin/coverage erase
	$(VENV)/bin/coverage run -m pytest
	$(VENV)/bin/coverage report --fail-under=90

test: lint typecheck unit

bench: install
	for b in benchmarks/*.py; do $(PY) $$b | tail -1; done

clean:
	rm -rf $(VENV) .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache
