"""Search engines for the integration tests: the Elasticsearch API stand-in, or a real one."""

from __future__ import annotations

import os
import shutil

import pytest

from infra.servers import ElasticsearchApiStandIn, free_port
from tests.conftest import new_data_dir

REAL_ELASTICSEARCH_URL = os.environ.get("CHIRP_ELASTICSEARCH_URL")
NO_REAL_ELASTICSEARCH = (
    "CHIRP_ELASTICSEARCH_URL is not set: set it to a real Elasticsearch "
    "(e.g. http://127.0.0.1:9200) to run these tests against it"
)


@pytest.fixture(scope="session")
def elasticsearch_api_stand_in():
    """osmem-server, started once per session: speaks the Elasticsearch API, is not
    Elasticsearch."""
    data_dir = new_data_dir()
    server = ElasticsearchApiStandIn(free_port(), data_dir)
    server.start()
    yield server
    server.process.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
