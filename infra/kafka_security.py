"""How each Kafka client library is told to reach the brokers securely: the keyword arguments
(or properties) that `CHIRP_KAFKA_*` settings become for kafka-python (the producer, admin
and plain consumers), aiokafka (the agents' and the replay's consumers), Faust and the Flink
job's Kafka connector. PLAINTEXT, the default, adds nothing."""

from __future__ import annotations

import ssl
from typing import Any

from infra.settings import Settings

_TLS = ("SSL", "SASL_SSL")


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    """kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient keyword arguments."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in _TLS:
        options |= {
            "ssl_check_hostname": True,
            "ssl_cafile": _path(settings.kafka_ssl_cafile),
            "ssl_certfile": _path(settings.kafka_ssl_certfile),
            "ssl_keyfile": _path(settings.kafka_ssl_keyfile),
        }
    if protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": _password(settings),
        }
    return {name: value for name, value in options.items() if value is not None}


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """aiokafka's AIOKafkaConsumer and AIOKafkaProducer keyword arguments (TLS as an
    SSLContext, which aiokafka takes instead of file names)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in _TLS:
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": _password(settings),
        }
    return options


def faust_credentials(settings: Settings):
    """Faust's `broker_credentials`: None for PLAINTEXT, else SSL or SASL credentials (Faust
    derives the protocol from their kind and whether they carry an SSLContext)."""
    from faust.auth import SASLCredentials, SSLCredentials

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = kafka_ssl_context(settings) if protocol in _TLS else None
    if protocol == "SSL":
        return SSLCredentials(context)
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=_password(settings),
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS that checks the brokers' certificates (against kafka_ssl_cafile, else the system's
    CAs) and their host names, presenting the client certificate if one is configured."""
    context = ssl.create_default_context(cafile=_path(settings.kafka_ssl_cafile))
    if settings.kafka_ssl_certfile is not None:
        context.load_cert_chain(str(settings.kafka_ssl_certfile), _path(settings.kafka_ssl_keyfile))
    return context


# The JAAS login module of each SASL mechanism, for the Java client inside Flink.
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def flink_kafka_properties(settings: Settings) -> dict[str, str]:
    """The Flink Kafka connector's `properties.*` options (Kafka's Java client names): the CA
    as a PEM trust store, at the same path on the machines that run the job. No client
    certificate: mutual TLS is for the Python clients only (docs/deploy.md)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    properties: dict[str, str] = {"security.protocol": protocol}
    if protocol in _TLS and settings.kafka_ssl_cafile is not None:
        properties |= {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(settings.kafka_ssl_cafile),
        }
    if protocol.startswith("SASL"):
        username = _jaas_quote(settings.kafka_sasl_username or "")
        password = _jaas_quote(_password(settings) or "")
        properties |= {
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.jaas.config": f"{_LOGIN_MODULES[settings.kafka_sasl_mechanism]} required "
            f"username={username} password={password};",
        }
    return {f"properties.{name}": value for name, value in properties.items()}


def _jaas_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _password(settings: Settings) -> str | None:
    secret = settings.kafka_sasl_password
    return secret.get_secret_value() if secret is not None else None


def _path(path) -> str | None:
    return str(path) if path is not None else None
