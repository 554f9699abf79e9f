"""One local stack per test session, shared by every integration and end-to-end test."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from operations.stack import LocalStack
from streams.topics import topic_registry
from tests.support.event_log import EventLog
from tests.support.figures import REPORTED
from tests.support.processes import processes_in_groups

# Tests hash many passwords: argon2id stays, with a cost a 2-core machine clears quickly.
TEST_PASSWORD_COST = {"CHIRP_PASSWORD_TIME_COST": "1", "CHIRP_PASSWORD_MEMORY_KIB": "8192"}
# A celebrity threshold a test can cross with a handful of followers.
CELEBRITY_THRESHOLD = 5
LOWERED_THRESHOLD = 3
FANOUT_LAG_BOUND_SECONDS = 1.0
# Small caches, so that a few hundred tweets already page past them into the store.
HOME_TIMELINE_CAP = 100
RECENT_CAP = 50
TEST_SETTINGS = {
    "CHIRP_CELEBRITY_THRESHOLD": str(CELEBRITY_THRESHOLD),
    "CHIRP_CELEBRITY_THRESHOLD_LOWERED": str(LOWERED_THRESHOLD),
    "CHIRP_FANOUT_LAG_BOUND_SECONDS": str(FANOUT_LAG_BOUND_SECONDS),
    "CHIRP_HOME_TIMELINE_CAP": str(HOME_TIMELINE_CAP),
    "CHIRP_RECENT_CAP": str(RECENT_CAP),
    # Workloads write far faster than a person: no write limits, but in
    # tests/integration/test_rate_limits.py, which runs an API of its own.
    "CHIRP_RATE_LIMIT_TWEETS_PER_MINUTE": "0",
    "CHIRP_RATE_LIMIT_FOLLOWS_PER_HOUR": "0",
    "CHIRP_RATE_LIMIT_LIKES_PER_HOUR": "0",
    # ...and sign up and fail logins by the hundred, all from 127.0.0.1: no login
    # or sign-up limits, but in tests/integration/test_login_limits.py.
    "CHIRP_LOGIN_FAILURES_PER_USERNAME": "0",
    "CHIRP_LOGIN_FAILURES_PER_IP": "0",
    "CHIRP_SIGNUP_PER_IP_PER_HOUR": "0",
    # A deleted tweet's media go a second after it, looked for twice a second.
    "CHIRP_MEDIA_DELETE_GRACE_SECONDS": "1",
    "CHIRP_MEDIA_SWEEP_SECONDS": "0.5",
}


def pytest_terminal_summary(terminalreporter) -> None:
    """What the fault and fuzzing tests measured, in every run's output (CI's included)."""
    if REPORTED:
        terminalreporter.section("figures measured by the tests")
        for test, line in REPORTED:
            terminalreporter.write_line(f"{line}  [{test}]")


def new_data_dir() -> Path:
    """A fresh data directory that PostgreSQL's unprivileged user can reach (pytest's is 0700)."""
    return Path(tempfile.mkdtemp(prefix="chirp-test-"))


@pytest.fixture
def data_dir():
    """A data directory of the test's own, removed afterwards (restart and crash tests)."""
    path = new_data_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_on(
    data_dir: Path, *, durable: bool | None = None, **api_environment: str
) -> tuple[LocalStack, str]:
    """A whole local stack on `data_dir` (servers, agents, API): (stack, API base URL). The
    caller stops it; on a failed start, what started is stopped here."""
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True, durable=durable)
    try:
        stack.start()
        stack.start_agents(**TEST_SETTINGS)
        return stack, stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS, **api_environment)
    except BaseException:
        stack.stop()
        raise


@contextmanager
def own_stack(**api_environment: str):
    """A whole local stack of its own (servers, agents, API): for tests that stop, break or
    restart parts of it. Yields (stack, API base URL); everything it started is stopped."""
    data_dir = new_data_dir()
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        stack.start()
        stack.start_agents(**TEST_SETTINGS)
        yield stack, stack.start_api(**TEST_PASSWORD_COST, **(TEST_SETTINGS | api_environment))
    finally:
        groups = stack.pids()
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert not processes_in_groups(groups)


@pytest.fixture(scope="session")
def stack():
    data_dir = new_data_dir()
    local = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    local.start()
    yield local
    # Every server and API process leads its own process group: after stop, none may remain.
    groups = local.pids()
    local.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    leftovers = processes_in_groups(groups)
    assert not leftovers, f"processes of the test stack left running: {leftovers}"


@pytest.fixture(scope="session")
def agents(stack):
    """The projection worker of the session stack."""
    return stack.start_agents(**TEST_SETTINGS)


@pytest.fixture(scope="session")
def api_url(stack, agents) -> str:
    return stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS)


@pytest.fixture(scope="session")
def client_factory(api_url):
    return lambda: httpx.Client(base_url=api_url, timeout=30)


@pytest.fixture
def client(client_factory):
    with client_factory() as http:
        yield http


@pytest.fixture(scope="session")
def event_log(stack):
    log = EventLog(
        stack.settings.bootstrap_servers, topic_registry(stack.settings), stack.settings.postgres
    )
    yield log
    log.close()
