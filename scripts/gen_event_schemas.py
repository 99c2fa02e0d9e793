"""Refresh the generated payload schemas in docs/asyncapi.yaml from the marshmallow schemas.

    python scripts/gen_event_schemas.py          # rewrite components.schemas in place
    python scripts/gen_event_schemas.py --check  # exit 1 if the document is out of date

The marshmallow schemas in shared/event_schemas.py (and intake's submission schema) are the contract;
the AsyncAPI document carries their JSON Schema form so that consumers in other languages can
validate against it. tests/unit/test_event_docs.py fails when the two drift apart.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"


def payload_schemas() -> dict[str, type]:
    """Document name -> marshmallow schema class for every event payload."""
    from shared import events
    from services.intake.schemas import ReportSubmissionSchema

    schemas = {"ReportSubmittedV1": ReportSubmissionSchema}
    schemas.update({event_type.schema.__name__: event_type.schema for event_type in events.EVENT_TYPES.values()})
    return schemas


def generated_schemas() -> dict:
    """JSON Schemas (OpenAPI 3.1 dialect, i.e. JSON Schema 2020-12) of every payload, with the
    nested schemas they reference."""
    spec = APISpec("modq events", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    for name, schema in payload_schemas().items():
        spec.components.schema(name, schema=schema)
    return spec.to_dict()["components"]["schemas"]


def load_document(path: Path = ASYNCAPI_PATH) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def stale_schema_names(document: dict) -> list[str]:
    """Names of generated schemas whose copy in the document differs (or is missing)."""
    documented = document.get("components", {}).get("schemas", {})
    return sorted(name for name, schema in generated_schemas().items() if documented.get(name) != schema)


def refresh(path: Path = ASYNCAPI_PATH) -> None:
    document = load_document(path)
    # Hand-written schemas (the envelope, dead letters) stay; generated ones are replaced.
    document["components"]["schemas"].update(generated_schemas())
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_schema_names(load_document())
        if stale:
            print(f"docs/asyncapi.yaml is out of date for: {', '.join(stale)}; run python scripts/gen_event_schemas.py")
            return 1
        print("docs/asyncapi.yaml payload schemas are up to date")
        return 0
    refresh()
    print(f"rewrote components.schemas in {ASYNCAPI_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
