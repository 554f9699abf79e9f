# The two entry points of the README: `make run` and `make test` (which runs `make check`
# first).
# Each sets up .venv from requirements.lock first (again only when the lock, pyproject.toml or
# this file changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# Every extra: the lock pins all of them, and `make run` and `make test` need all of them.
EXTRAS := dev flink export cassandra elasticsearch local media s3 ranking
# uv resolves the lock; it lives in a venv of its own, outside the project's environment.
UV_VERSION := 0.13.9
UV := .tools/bin/uv

.PHONY: run test test-cluster check lock bench bench-search bench-trending bench-replay bench-ingest \
	bench-notifications bench-streaming bench-media bench-ranking

# The dependencies come from the lock, each checked against its hash; the project itself then
# installs without resolving anything, and pip check fails if pyproject.toml asks for what the
# lock lacks (`make lock` mends that). The flink extra brings PyFlink; infra.flink then fetches
# Flink's Kafka connector jars (pinned by hash) into the environment, so the trending job needs
# no download when it starts.
$(STAMP): $(LOCK) pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	$(VENV)/bin/pip check --disable-pip-version-check
	$(VENV)/bin/python -m infra.flink > /dev/null
	touch $(STAMP)

# `make lock` after editing the dependencies in pyproject.toml: versions already in the lock
# are kept where they still fit; `make lock LOCK_ARGS=--upgrade` moves every pin to the newest
# release allowed. The lock is for Python 3.11 on Linux x86_64 (glibc 2.28 or newer).
lock: $(UV)
	$(UV) pip compile pyproject.toml $(addprefix --extra ,$(EXTRAS)) --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command 'make lock' --output-file $(LOCK) --quiet $(LOCK_ARGS)

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

run: $(STAMP)
	$(VENV)/bin/chirp run

# The Redis contract tests and the home-timeline and celebrity end-to-end tests, run again on
# a Valkey Cluster of 3 masters (docs/read-models.md, "Redis Cluster").
CLUSTER_TESTS := tests/integration/test_redis_scripts.py tests/integration/test_lockouts_contract.py \
	tests/integration/test_redis_trends.py tests/integration/test_agent_workers_registry.py \
	tests/integration/test_batch_equivalence.py tests/e2e/test_home_timeline.py \
	tests/e2e/test_celebrities.py

test: $(STAMP) check
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	CHIRP_REDIS_CLUSTER_MASTERS=3 $(VENV)/bin/pytest $(CLUSTER_TESTS)

test-cluster: $(STAMP)
	CHIRP_REDIS_CLUSTER_MASTERS=3 $(VENV)/bin/pytest $(CLUSTER_TESTS) $(PYTEST_ARGS)

# The static checks, configured in pyproject.toml: format and lint (ruff), types (mypy) and
# the import floors (import-linter). Each takes seconds; the first that fails stops the run.
check: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

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

bench-notifications: $(STAMP)
	$(VENV)/bin/python -m bench.notifications $(BENCH_ARGS)

bench-streaming: $(STAMP)
	$(VENV)/bin/python -m bench.streaming $(BENCH_ARGS)

bench-media: $(STAMP)
	$(VENV)/bin/python -m bench.media $(BENCH_ARGS)

bench-ranking: $(STAMP)
	$(VENV)/bin/python -m bench.ranking $(BENCH_ARGS)
