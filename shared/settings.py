"""Configuration read from environment variables, one place for every service.

Every value has an embedded default so `make run` works on a fresh machine; production
deployments set the variables (see deploy/). Secrets are the exception: their development
values are used only when MODQ_DEV_MODE=1 (set by `make run` and the tests); without it a
service refuses to start on an unset or development secret and names the variable to set.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_PORTS = {"intake": 8001, "classifier": 8002, "decision": 8003, "notifier": 8004}

# Topic names: configurable, these are the defaults documented in docs/events.md.
DEFAULT_TOPICS = {
    "reports_submitted": "modq.reports.submitted",
    "reports_received": "modq.reports.received",
    "reports_scored": "modq.reports.scored",
    "decisions_recorded": "modq.decisions.recorded",
    "notices_requester": "modq.notices.requester",
    "notices_poster": "modq.notices.poster",
    "notices_receipts": "modq.notices.receipts",
    "poster_replies": "modq.poster.replies",
    "inquiries_delivered": "modq.inquiries.delivered",
    "alerts": "modq.alerts",
    "appeals": "modq.appeals",
    "deadletter": "modq.deadletter",
    "audit_heads": "modq.audit.heads",
}

# Development-only values, used only with MODQ_DEV_MODE=1. Production sets every one of them
# from a secret store (see deploy/README.md).
DEV_MODE_VARIABLE = "MODQ_DEV_MODE"
DEV_SNS_CLIENTS = "demo:demo-secret"
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key-change-me"
DEV_AUDIT_KEY = "dev-only-audit-key-change-me"
DEV_NOTIFIER_API_TOKEN = "dev-notifier-token-change-me"
DEV_SECRETS = {"MODQ_SECRET_KEY": DEV_SECRET_KEY, "MODQ_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY,
               "MODQ_AUDIT_KEY": DEV_AUDIT_KEY, "MODQ_SNS_CLIENTS": DEV_SNS_CLIENTS,
               "MODQ_NOTIFIER_API_TOKENS": DEV_NOTIFIER_API_TOKEN}
# Which service needs which secret besides MODQ_SECRET_KEY.
SERVICE_SECRETS = {"intake": ("MODQ_SNS_CLIENTS", "MODQ_PSEUDONYM_KEY"), "classifier": ("MODQ_SNS_CLIENTS",),
                   "decision": ("MODQ_PSEUDONYM_KEY", "MODQ_AUDIT_KEY"), "notifier": ("MODQ_NOTIFIER_API_TOKENS",)}
MIN_SECRET_LENGTH = 16


class InsecureSetting(RuntimeError):
    """A secret is unset or holds its development value outside development mode."""


def dev_mode() -> bool:
    return (env(DEV_MODE_VARIABLE) or "").strip().lower() in ("1", "true", "yes")


def secret(name: str) -> str:
    """The value of a secret variable; its development value only in development mode."""
    dev_value = DEV_SECRETS[name]
    value = env(name)
    if dev_mode():
        return value or dev_value
    if value is None:
        raise InsecureSetting(f"{name} is not set: set it from a secret store "
                              f"(or {DEV_MODE_VARIABLE}=1 on a development machine)")
    if _holds_dev_value(name, value, dev_value):
        raise InsecureSetting(f"{name} holds the development value: set a random one from a secret store")
    if name in ("MODQ_SECRET_KEY", "MODQ_PSEUDONYM_KEY", "MODQ_AUDIT_KEY") and len(value) < MIN_SECRET_LENGTH:
        raise InsecureSetting(f"{name} is shorter than {MIN_SECRET_LENGTH} characters: set a random one")
    return value


def _holds_dev_value(name: str, value: str, dev_value: str) -> bool:
    if name == "MODQ_SNS_CLIENTS":
        dev_secret = dev_value.split(":", 1)[1]
        parsed = _parse_sns_clients(value)
        return any(dev_secret in secrets for secrets in parsed.values())
    if name == "MODQ_NOTIFIER_API_TOKENS":
        return dev_value in {t.strip() for t in value.split(",")}
    return value == dev_value


def check_secrets(service: str) -> None:
    """Refuse to start ``service`` on unset or development secrets (outside development mode)."""
    for name in ("MODQ_SECRET_KEY", *SERVICE_SECRETS.get(service, ())):
        secret(name)


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def var_dir() -> Path:
    path = Path(env("MODQ_VAR_DIR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def topic(key: str) -> str:
    """The configured name of a topic, e.g. topic('reports_received')."""
    return env(f"MODQ_TOPIC_{key.upper()}", DEFAULT_TOPICS[key])


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# kafka-python's keyword -> the variable that sets it (deploy/README.md, "Kafka security").
KAFKA_SECURITY_ENV = {
    "ssl_cafile": "MODQ_KAFKA_SSL_CAFILE", "ssl_certfile": "MODQ_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "MODQ_KAFKA_SSL_KEYFILE", "ssl_password": "MODQ_KAFKA_SSL_PASSWORD",
    "sasl_plain_username": "MODQ_KAFKA_SASL_USERNAME", "sasl_plain_password": "MODQ_KAFKA_SASL_PASSWORD",
}


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    session_timeout_ms: int
    heartbeat_interval_ms: int
    client_id_prefix: str = "modq"
    # TLS and SASL, passed to every producer, consumer and admin client (client_options()).
    security: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_env(cls) -> "KafkaSettings":
        return cls(
            bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            # Tansu joins a new group in ~session_timeout/2; real Kafka keeps its own defaults
            # unless these are set (see deploy/README.md).
            session_timeout_ms=env_int("MODQ_KAFKA_SESSION_TIMEOUT_MS", 10000),
            heartbeat_interval_ms=env_int("MODQ_KAFKA_HEARTBEAT_INTERVAL_MS", 1000),
            security=MappingProxyType(kafka_security_from_env()),
        )

    def client_options(self) -> dict:
        """Keyword arguments for kafka-python's clients: where the brokers are and how to reach them."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.security}


def kafka_security_from_env() -> dict:
    protocol = (env("MODQ_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") or "").upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise InsecureSetting(f"MODQ_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}")
    options: dict[str, object] = {"security_protocol": protocol}
    options.update({key: env(name) for key, name in KAFKA_SECURITY_ENV.items() if env(name)})
    if protocol.startswith("SASL_"):
        mechanism = (env("MODQ_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512") or "").upper()
        if mechanism not in KAFKA_SASL_MECHANISMS:
            raise InsecureSetting(f"MODQ_KAFKA_SASL_MECHANISM must be one of {', '.join(KAFKA_SASL_MECHANISMS)}")
        if not (options.get("sasl_plain_username") and options.get("sasl_plain_password")):
            raise InsecureSetting("SASL needs MODQ_KAFKA_SASL_USERNAME and MODQ_KAFKA_SASL_PASSWORD")
        options["sasl_mechanism"] = mechanism
    if protocol in ("SSL", "SASL_SSL"):
        # Off only for a test broker with a self-made certificate; never in production.
        options["ssl_check_hostname"] = env("MODQ_KAFKA_SSL_CHECK_HOSTNAME", "1") == "1"
    return options


@dataclass(frozen=True)
class ServiceSettings:
    service: str
    database_url: str
    port: int
    secret_key: str
    kafka: KafkaSettings = field(default_factory=KafkaSettings.from_env)
    outbox_poll_seconds: float = 0.1
    consumer_batch_size: int = 64
    consumer_batch_ms: int = 50
    consumer_max_attempts: int = 3        # tries of one failing event before it is parked
    consumer_retry_backoff_ms: int = 100  # doubled after each try
    pending_max_seconds: float = 900.0    # how long an event may wait for its partner

    @classmethod
    def for_service(cls, service: str) -> "ServiceSettings":
        check_secrets(service)
        upper = service.upper()
        default_db = f"sqlite:///{var_dir() / (service + '.db')}"
        return cls(
            service=service,
            database_url=env(f"MODQ_{upper}_DATABASE_URL", env("MODQ_DATABASE_URL_" + upper, default_db)),
            port=env_int(f"MODQ_{upper}_PORT", DEFAULT_PORTS[service]),
            secret_key=secret("MODQ_SECRET_KEY"),
            outbox_poll_seconds=env_float("MODQ_OUTBOX_POLL_SECONDS", 0.1),
            consumer_batch_size=env_int(f"MODQ_{upper}_BATCH_SIZE", 64),
            consumer_batch_ms=env_int(f"MODQ_{upper}_BATCH_MS", 50),
            consumer_max_attempts=env_int("MODQ_CONSUMER_MAX_ATTEMPTS", 3),
            consumer_retry_backoff_ms=env_int("MODQ_CONSUMER_RETRY_BACKOFF_MS", 100),
            pending_max_seconds=env_float("MODQ_PENDING_MAX_SECONDS", 900.0),
        )


def sns_clients() -> Mapping[str, tuple[str, ...]]:
    """SNS client id -> valid secrets (two may be valid during a rotation).

    Format: ``id:secret[|secret2],id2:secret`` in MODQ_SNS_CLIENTS. Read on every signed
    request, so parsed once per value of the variable.
    """
    return _parse_sns_clients(secret("MODQ_SNS_CLIENTS"))


def secure_cookies() -> bool:
    """Cookies only over HTTPS (MODQ_SECURE_COOKIES); on by default outside development mode."""
    return env("MODQ_SECURE_COOKIES", "0" if dev_mode() else "1") == "1"


def pseudonym_key() -> str:
    """Keys pseudonyms (moderators', requesters') and the DSA statements' ids: a key apart from
    the session key, so rotating one does not change the other."""
    return secret("MODQ_PSEUDONYM_KEY")


def audit_key() -> str:
    """Keys the audit log's chain. The databases never hold it, so whoever can write the audit
    table cannot recompute a valid chain."""
    return secret("MODQ_AUDIT_KEY")


@functools.lru_cache(maxsize=8)
def _parse_sns_clients(raw: str) -> Mapping[str, tuple[str, ...]]:
    clients: dict[str, tuple[str, ...]] = {}
    for item in raw.split(","):
        if ":" not in item:
            continue
        client_id, secrets = item.split(":", 1)
        clients[client_id.strip()] = tuple(s for s in secrets.split("|") if s)
    return MappingProxyType(clients)


def service_url(service: str) -> str:
    return env(f"MODQ_{service.upper()}_URL", f"http://127.0.0.1:{env_int(f'MODQ_{service.upper()}_PORT', DEFAULT_PORTS[service])}")


def public_url(service: str) -> str:
    """Where the public reaches a service's pages (``MODQ_<SERVICE>_PUBLIC_URL``, e.g. the intake
    form's https address); the service's own address when unset (development)."""
    return (env(f"MODQ_{service.upper()}_PUBLIC_URL") or service_url(service)).rstrip("/")
