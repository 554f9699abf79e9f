"""Search engines and object stores for the integration tests: API stand-ins (the
Elasticsearch one, the S3 one), or real ones when configured."""

from __future__ import annotations

import os
import shutil

import pytest

from infra.flink import FlinkUnavailable, connector_jars
from infra.servers import ApiStandIn, ElasticsearchApiStandIn, S3ApiStandIn, free_port
from tests.conftest import new_data_dir

REAL_ELASTICSEARCH_URL = os.environ.get("CHIRP_ELASTICSEARCH_URL")
NO_REAL_ELASTICSEARCH = (
    "CHIRP_ELASTICSEARCH_URL is not set: set it to a real Elasticsearch "
    "(e.g. http://127.0.0.1:9200) to run these tests against it"
)

# A bucket of a real S3 (credentials from boto3's own chain: AWS_* variables, a profile...).
REAL_S3_BUCKET = os.environ.get("CHIRP_TEST_S3_BUCKET")
NO_REAL_S3 = (
    "CHIRP_TEST_S3_BUCKET is not set: name a bucket of a real S3 (with credentials in the "
    "environment, and CHIRP_S3_ENDPOINT_URL for another provider) to run these tests on it"
)


def _running(stand_in: type[ApiStandIn]):
    """A stand-in on a free port with a data directory of its own, stopped afterwards."""
    data_dir = new_data_dir()
    server = stand_in(free_port(), data_dir)
    server.start()
    yield server
    server.process.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def elasticsearch_api_stand_in():
    """osmem-server, started once per session: speaks the Elasticsearch API, is not
    Elasticsearch."""
    yield from _running(ElasticsearchApiStandIn)


@pytest.fixture(scope="session")
def s3_api_stand_in():
    """moto's server, started once per session: speaks the S3 API, is not S3."""
    yield from _running(S3ApiStandIn)


@pytest.fixture(scope="session")
def jars():
    """Flink's Kafka connector jars, for the trending job's tests."""
    try:
        return connector_jars()
    except FlinkUnavailable as error:
        pytest.fail(f"the Flink extra is part of the test install (make test): {error}")
