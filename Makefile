# The two entry points of the README: `make run` and `make test`.
# Each sets up .venv from pyproject.toml first (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-search bench-trending bench-replay bench-ingest

# The flink extra brings PyFlink; infra.flink then fetches Flink's Kafka connector jars (pinned
# by hash) into the environment, so the trending job needs no download when it starts.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,flink]'
	$(VENV)/bin/python -m infra.flink > /dev/null
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/chirp run

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m bench.timeline $(BENCH_ARGS)

bench-search: $(STAMP)
	$(VENV)/bin/python -m bench.search $(BENCH_ARGS)

bench-trending: $(STAMP)
	$(VENV)/bin/python -m bench.trending $(BENCH_ARGS)

bench-replay: $(STAMP)
	$(VENV)/bin/python -m bench.replay $(BENCH_ARGS)

bench-ingest: $(STAMP)
	$(VENV)/bin/python -m bench.ingest $(BENCH_ARGS)
