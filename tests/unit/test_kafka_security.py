"""TLS and SASL settings reach every Kafka client modq builds."""
from __future__ import annotations

import pytest

from shared import kafka as kafka_module
from shared.settings import InsecureSetting, KafkaSettings

SASL_SSL = {"MODQ_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "MODQ_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "MODQ_KAFKA_SASL_USERNAME": "modq-decision", "MODQ_KAFKA_SASL_PASSWORD": "pw",
            "MODQ_KAFKA_SSL_CAFILE": "/etc/modq/kafka-ca.pem"}
EXPECTED = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "modq-decision", "sasl_plain_password": "pw",
            "ssl_cafile": "/etc/modq/kafka-ca.pem", "ssl_check_hostname": True}


@pytest.fixture
def sasl_ssl(monkeypatch):
    for name, value in SASL_SSL.items():
        monkeypatch.setenv(name, value)
    return KafkaSettings.from_env()


def test_settings_read_tls_and_sasl(sasl_ssl):
    options = sasl_ssl.client_options()
    assert {k: options[k] for k in EXPECTED} == EXPECTED


def test_plaintext_is_the_default_and_adds_nothing_else(monkeypatch):
    for name in SASL_SSL:
        monkeypatch.delenv(name, raising=False)
    assert set(KafkaSettings.from_env().client_options()) == {"bootstrap_servers", "security_protocol"}


@pytest.mark.parametrize("change", [{"MODQ_KAFKA_SECURITY_PROTOCOL": "TLS"}, {"MODQ_KAFKA_SASL_PASSWORD": ""},
                                    {"MODQ_KAFKA_SASL_MECHANISM": "GSSAPI"}])
def test_incomplete_or_unknown_security_settings_are_refused(monkeypatch, sasl_ssl, change):
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InsecureSetting):
        KafkaSettings.from_env()


@pytest.mark.parametrize("factory", ["producer", "consumer", "admin", "probe"])
def test_every_client_gets_the_security_settings(monkeypatch, sasl_ssl, factory):
    seen = {}

    class Capture:
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)

        def __getattr__(self, name):
            return lambda *a, **k: []

    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka_module, name, Capture)
    if factory == "producer":
        kafka_module.make_producer(sasl_ssl, "t")
    elif factory == "consumer":
        kafka_module.make_consumer(sasl_ssl, "g", ["t"], "t")
    elif factory == "admin":
        kafka_module.ensure_topics(sasl_ssl, ["t"])
    else:
        kafka_module.BrokerProbe(sasl_ssl).ok()
    assert {k: seen.get(k) for k in EXPECTED} == EXPECTED
