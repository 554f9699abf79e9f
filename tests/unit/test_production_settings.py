"""The production settings (`CHIRP_*`) reach each client as the arguments it takes: topic
replication and min.insync.replicas, Kafka TLS and SASL for kafka-python, aiokafka, Faust and
the Flink job, Elasticsearch's API key and CA, Cassandra's replication, consistency, data
centre and login. The defaults add nothing the local single-broker stack would not take."""

from __future__ import annotations

import asyncio
import ssl

import certifi
import faust
import pytest
from aiokafka import AIOKafkaConsumer
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaConsumer
from pydantic import ValidationError

from infra.kafka_security import (
    aiokafka_security,
    faust_credentials,
    flink_kafka_properties,
    kafka_python_security,
)
from infra.settings import Settings
from projections.cassandra_tweet_store import CassandraTweetStore
from projections.elasticsearch_search import elasticsearch_client
from projections.read_models import cassandra_options, elasticsearch_security
from streams.admin import new_topic
from streams.topics import topic_registry
from streams.trending import TrendingJob

CA = certifi.where()  # any PEM bundle of CA certificates will do for building contexts
SASL_SSL = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "chirp",
    "kafka_sasl_password": 'pa"ss',
    "kafka_ssl_cafile": CA,
}


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_defaults_suit_the_local_single_broker_and_add_no_security():
    local = settings()
    assert kafka_python_security(local) == {}
    assert aiokafka_security(local) == {}
    assert faust_credentials(local) is None
    assert flink_kafka_properties(local) == {}
    for topic in topic_registry(local).all():
        request = new_topic(topic)
        assert (request.replication_factor, request.topic_configs) == (1, {})


def test_topics_are_created_with_the_configured_replication_and_min_insync_replicas():
    registry = topic_registry(
        settings(partitions=12, topic_replication_factor=3, topic_min_insync_replicas=2)
    )
    requests = {topic.name: new_topic(topic) for topic in registry.all()}
    assert requests["tweets"].num_partitions == 12
    assert requests["trending-topics"].num_partitions == 1  # one partition keeps rows in order
    for request in requests.values():
        assert request.replication_factor == 3
        assert request.topic_configs == {"min.insync.replicas": "2"}


def test_settings_that_could_never_work_are_refused_at_start():
    with pytest.raises(ValidationError, match="CHIRP_KAFKA_SASL_USERNAME"):
        settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="cannot exceed"):
        settings(topic_replication_factor=2, topic_min_insync_replicas=3)
    with pytest.raises(ValidationError, match="CHIRP_CASSANDRA_DATACENTER"):
        settings(cassandra_replication_strategy="NetworkTopologyStrategy")


def test_kafka_python_clients_get_tls_and_sasl_and_take_them():
    options = kafka_python_security(settings(**SASL_SSL))
    assert options == {
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": CA,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "chirp",
        "sasl_plain_password": 'pa"ss',
    }
    # The names are kafka-python's own: a client is built with them (it connects later).
    consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:1", api_version=(2, 6, 0), **options)
    try:
        assert consumer.config["security_protocol"] == "SASL_SSL"
    finally:
        consumer.close()


def test_a_client_certificate_goes_to_kafka_python_with_its_key():
    options = kafka_python_security(
        settings(
            kafka_security_protocol="SSL",
            kafka_ssl_certfile="/etc/chirp/client.pem",
            kafka_ssl_keyfile="/etc/chirp/client.key",
        )
    )
    assert options == {
        "security_protocol": "SSL",
        "ssl_check_hostname": True,
        "ssl_certfile": "/etc/chirp/client.pem",
        "ssl_keyfile": "/etc/chirp/client.key",
    }


def test_aiokafka_consumers_get_a_verifying_tls_context_and_sasl():
    options = aiokafka_security(settings(**SASL_SSL, kafka_sasl_mechanism="PLAIN"))
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "chirp",
        "sasl_plain_password": 'pa"ss',
    }

    async def build() -> str:
        consumer = AIOKafkaConsumer(
            bootstrap_servers="127.0.0.1:1", **aiokafka_security(settings(**SASL_SSL))
        )
        return consumer._client._security_protocol

    assert asyncio.run(build()) == "SASL_SSL"


def test_faust_gets_credentials_that_become_the_same_aiokafka_arguments():
    credentials = faust_credentials(settings(**SASL_SSL))
    assert isinstance(credentials, SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert (auth["sasl_mechanism"], auth["sasl_plain_username"]) == ("SCRAM-SHA-512", "chirp")
    assert auth["sasl_plain_password"] == 'pa"ss'
    assert isinstance(auth["ssl_context"], ssl.SSLContext)

    tls_only = faust_credentials(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=CA))
    assert isinstance(tls_only, SSLCredentials)
    assert credentials_to_aiokafka_auth(tls_only)["security_protocol"] == "SSL"

    app = faust.App(
        "production-settings",
        broker="kafka://127.0.0.1:1",
        broker_credentials=credentials,
        topic_replication_factor=3,
    )
    assert app.conf.broker_credentials is credentials
    assert app.conf.topic_replication_factor == 3


def test_the_trending_job_reads_and_writes_kafka_with_the_same_login():
    properties = flink_kafka_properties(settings(**SASL_SSL))
    assert properties == {
        "properties.security.protocol": "SASL_SSL",
        "properties.ssl.truststore.type": "PEM",
        "properties.ssl.truststore.location": CA,
        "properties.sasl.mechanism": "SCRAM-SHA-512",
        "properties.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule"
        ' required username="chirp" password="pa\\"ss";',
    }
    job = TrendingJob.from_settings(settings(**SASL_SSL))
    tables = [statement for statement in job.statements() if "'connector' = 'kafka'" in statement]
    assert len(tables) == 2  # the source and the sink
    for statement in tables:
        assert "'properties.security.protocol' = 'SASL_SSL'," in statement
        assert "'properties.sasl.mechanism' = 'SCRAM-SHA-512'," in statement


def test_elasticsearch_logs_in_with_the_api_key_and_checks_the_configured_ca():
    options = elasticsearch_security(
        settings(elasticsearch_api_key="ZWxhc3RpYzpzZWNyZXQ=", elasticsearch_ca_certs=CA)
    )
    assert options == {"api_key": "ZWxhc3RpYzpzZWNyZXQ=", "ca_certs": CA}

    async def headers() -> dict:
        client = elasticsearch_client("https://search.example:9200", **options)
        try:
            return dict(client._headers)
        finally:
            await client.close()

    assert asyncio.run(headers())["authorization"] == "ApiKey ZWxhc3RpYzpzZWNyZXQ="
    assert elasticsearch_security(settings()) == {}


def test_cassandra_replicates_per_data_centre_and_logs_in():
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT

    options = cassandra_options(
        settings(
            cassandra_replication_strategy="NetworkTopologyStrategy",
            cassandra_replication_factor=3,
            cassandra_datacenter="eu-west",
            cassandra_username="chirp",
            cassandra_password="secret",
        )
    )
    assert options.keyspace_replication() == ("{'class': 'NetworkTopologyStrategy', 'eu-west': 3}")
    arguments = options.cluster_arguments()
    profile = arguments["execution_profiles"][EXEC_PROFILE_DEFAULT]
    assert profile.consistency_level == ConsistencyLevel.LOCAL_QUORUM
    assert profile.load_balancing_policy._child_policy.local_dc == "eu-west"
    assert arguments["auth_provider"].username == "chirp"
    # The driver takes them (it connects on first use).
    store = CassandraTweetStore(["127.0.0.1:9042"], "chirp", options)
    assert store._cluster.auth_provider.password == "secret"


def test_cassandra_defaults_to_one_local_node():
    options = cassandra_options(settings())
    assert options.keyspace_replication() == "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    assert "auth_provider" not in options.cluster_arguments()
