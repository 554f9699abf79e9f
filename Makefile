# The two entry points of the README: `make run` and `make test`.
# Each sets up .venv from pyproject.toml first (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-search

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/chirp run

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m bench.timeline $(BENCH_ARGS)

bench-search: $(STAMP)
	$(VENV)/bin/python -m bench.search $(BENCH_ARGS)
