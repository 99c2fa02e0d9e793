"""deploy/prometheus/alerts.yaml: well-formed rule groups, and every modq metric they name is
one the workers export (a renamed metric would silently never fire)."""
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import shared.kafka  # noqa: F401  (registers the consumer metrics)
import shared.parking  # noqa: F401
import shared.runtime  # noqa: F401

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"


def exported_names() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        names |= {metric.name, f"{metric.name}_total" if metric.type == "counter" else metric.name}
    return names


def test_every_alert_names_metrics_the_code_exports():
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {"ModqEventParked", "ModqPendingEventOld"} <= {rule["alert"] for rule in rules}
    exported = exported_names()
    for rule in rules:
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]
        for name in re.findall(r"\bmodq_[a-z_]+", rule["expr"]):
            assert name in exported, (rule["alert"], name)
