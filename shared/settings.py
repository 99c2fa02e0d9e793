"""Configuration read from environment variables, one place for every service.

Every value has an embedded default so `make run` works on a fresh machine; production
deployments set the variables (see deploy/). Defaults that are secrets are development
values only and are marked as such.
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
}

# Development-only defaults. Never use them in production: set MODQ_SNS_CLIENTS and
# MODQ_SECRET_KEY from a secret store.
DEV_SNS_CLIENTS = "demo:demo-secret"
DEV_SECRET_KEY = "dev-only-secret-key-change-me"


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


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    session_timeout_ms: int
    heartbeat_interval_ms: int
    client_id_prefix: str = "modq"

    @classmethod
    def from_env(cls) -> "KafkaSettings":
        return cls(
            bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            # Tansu joins a new group in ~session_timeout/2; real Kafka keeps its own defaults
            # unless these are set (see deploy/README.md).
            session_timeout_ms=env_int("MODQ_KAFKA_SESSION_TIMEOUT_MS", 10000),
            heartbeat_interval_ms=env_int("MODQ_KAFKA_HEARTBEAT_INTERVAL_MS", 1000),
        )


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
        upper = service.upper()
        default_db = f"sqlite:///{var_dir() / (service + '.db')}"
        return cls(
            service=service,
            database_url=env(f"MODQ_{upper}_DATABASE_URL", env("MODQ_DATABASE_URL_" + upper, default_db)),
            port=env_int(f"MODQ_{upper}_PORT", DEFAULT_PORTS[service]),
            secret_key=env("MODQ_SECRET_KEY", DEV_SECRET_KEY),
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
    return _parse_sns_clients(env("MODQ_SNS_CLIENTS", DEV_SNS_CLIENTS))


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
