"""docs/asyncapi.yaml and docs/events.md against the code: every topic and event type is
documented, every example is a valid message, and the documented schemas, dead-letter records
and envelope match what the code produces."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from jsonschema import Draft202012Validator

from scripts.gen_event_schemas import stale_schema_names
from shared import events
from shared.settings import DEFAULT_TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = DOCS / "asyncapi.yaml"
EVENTS_MD = DOCS / "events.md"
DEAD_LETTER_MESSAGES = {"DeadLetter", "InvalidSubmission"}


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))


def messages(document) -> dict:
    return document["components"]["messages"]


def all_examples(document):
    for message_id, message in messages(document).items():
        for example in message.get("examples", []):
            yield pytest.param(message_id, example, id=f"{message_id}:{example['name']}")


def _document_examples():
    return list(all_examples(yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))))


def validator_for(document: dict, schema: dict) -> Draft202012Validator:
    # The payload schemas refer to '#/components/schemas/...': resolve them against a root
    # that carries the document's components.
    return Draft202012Validator({**schema, "components": document["components"]})


def test_document_is_asyncapi_3(document):
    assert re.fullmatch(r"3\.0\.\d+", str(document["asyncapi"]))
    assert {"info", "channels", "operations", "components"} <= document.keys()


def test_every_topic_has_a_channel_with_its_environment_variable(document):
    channels = document["channels"].values()
    assert {c["address"] for c in channels} == set(DEFAULT_TOPICS.values())
    for channel in channels:
        key = channel["x-modq-topic-key"]
        assert DEFAULT_TOPICS[key] == channel["address"]
        assert channel["x-modq-env"] == f"MODQ_TOPIC_{key.upper()}"


def test_every_event_type_has_a_message_with_examples(document):
    documented = {m["name"]: m for m in messages(document).values()}
    for type_name in [*events.EVENT_TYPES, events.REPORT_SUBMITTED]:
        assert type_name in documented, f"{type_name} is not in docs/asyncapi.yaml"
        assert documented[type_name].get("examples"), f"{type_name} has no example"


def test_operations_and_channels_refer_to_existing_messages(document):
    for channel_id, channel in document["channels"].items():
        for ref in channel["messages"].values():
            assert ref["$ref"].removeprefix("#/components/messages/") in messages(document)
    for operation in document["operations"].values():
        channel_id = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel_id in document["channels"]
        for ref in operation.get("messages", []):
            assert ref["$ref"].split("/")[-1] in document["channels"][channel_id]["messages"]


def test_generated_payload_schemas_match_the_marshmallow_schemas(document):
    assert stale_schema_names(document) == [], "run: python scripts/gen_event_schemas.py"


@pytest.mark.parametrize("message_id,example", _document_examples())
def test_example_is_valid(document, message_id, example):
    message = messages(document)[message_id]
    payload = example["payload"]
    errors = sorted(str(e.message) for e in validator_for(document, message["payload"]).iter_errors(payload))
    assert errors == [], f"{message_id} example against its JSON Schema: {errors}"
    if message_id in DEAD_LETTER_MESSAGES:
        return
    check_event_example(message["name"], payload)
    check_key_convention(message_id, example["x-kafka-key"], payload)


def check_event_example(type_name: str, payload: dict) -> None:
    """The envelope parses with the project's own parser and the data loads through the
    marshmallow schema of its type (parse_event loads known types itself)."""
    raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    envelope = events.parse_event(raw, expected=(type_name,))
    assert envelope.type == type_name and envelope.id == payload["id"]
    if type_name == events.REPORT_SUBMITTED:
        from services.intake.schemas import ReportSubmissionSchema

        ReportSubmissionSchema().load(envelope.data)
    else:
        events.EVENT_TYPES[type_name].schema().load(payload["data"])


def check_key_convention(message_id: str, key: str, payload: dict) -> None:
    if message_id in ("RequesterNotice", "PosterNotice"):
        assert key == payload["data"]["recipient"]["id"], "notices are keyed by recipient id"
    elif message_id in ("ReportReceived", "ReportScored", "DecisionRecorded", "Alert"):
        assert key == payload["subject"] == payload["data"]["case_id"], "case events are keyed by case id"


def test_events_md_examples_are_valid_events():
    text = EVENTS_MD.read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.S)]
    envelopes = [b for b in blocks if "specversion" in b]
    documented_types = {b["type"] for b in envelopes}
    assert documented_types == {*events.EVENT_TYPES, events.REPORT_SUBMITTED}
    for payload in envelopes:
        check_event_example(payload["type"], payload)


def test_events_md_names_every_topic_and_its_variable():
    text = EVENTS_MD.read_text(encoding="utf-8")
    for key, name in DEFAULT_TOPICS.items():
        assert f"`{name}`" in text and f"`{key.upper()}`" in text


def test_events_md_lists_every_payload_field():
    """Each field table mentions every field the marshmallow schema declares."""
    from scripts.gen_event_schemas import payload_schemas

    text = EVENTS_MD.read_text(encoding="utf-8")
    for name, schema in payload_schemas().items():
        for field_name in schema._declared_fields:
            assert f"| `{field_name}` |" in text, f"{name}.{field_name} missing from docs/events.md"


def test_dead_letter_record_matches_the_documented_schema(document):
    """Dead-letter a real record through EventConsumer and validate what it sends."""
    from shared.kafka import EventConsumer
    from shared.settings import KafkaSettings

    sent = []
    producer = SimpleNamespace(send=lambda topic, key, value: sent.append((topic, key, value))
                               or SimpleNamespace(get=lambda timeout: None))
    consumer = EventConsumer(KafkaSettings.from_env(), group_id="modq-notifier", topics=["t"], handler=lambda b: None,
                             producer=producer, client_id="test")
    record = SimpleNamespace(topic="modq.notices.receipts", partition=1, offset=7, value=b"not json")
    consumer.dead_letter(record, "not UTF-8 JSON")
    _, key, value = sent[0]
    body = json.loads(value)
    assert key == record.topic and base64.b64decode(body["value_base64"]) == b"not json"
    schema = {"$ref": "#/components/schemas/DeadLetter"}
    assert list(validator_for(document, schema).iter_errors(body)) == []


def test_invalid_submission_record_matches_the_documented_schema(document):
    from services.intake.worker import Rejected, dead_letter_body

    envelope = events.Envelope(id="e-1", type=events.REPORT_SUBMITTED, source="/sns/x", subject="p-1",
                               time=events.dt.datetime.now(events.dt.timezone.utc), data={})
    rejected = Rejected("invalid submission", {"kind": ["Missing data for required field."]})
    body = json.loads(dead_letter_body(envelope, rejected))
    schema = {"$ref": "#/components/schemas/InvalidSubmission"}
    assert list(validator_for(document, schema).iter_errors(body)) == []


def test_produced_envelope_matches_the_documented_envelope(document):
    envelope = events.make_event(events.ALERT, source="/modq/notifier", subject="c-1", id="a-1", data={
        "alert": "s25_deadline_near", "case_id": "c-1", "detail": "d", "raised_at": "2026-11-27T15:00:00+00:00"})
    produced = json.loads(envelope.to_json())
    schema = {"$ref": "#/components/schemas/CloudEventEnvelope"}
    assert list(validator_for(document, schema).iter_errors(produced)) == []


def test_readme_links_both_documents():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/events.md)" in readme and "(docs/asyncapi.yaml)" in readme


def test_events_md_notices_are_the_texts_the_templates_render():
    """The notices shown in docs/events.md are what the notifier sends for those details."""
    from services.notifier import notices

    text = EVENTS_MD.read_text(encoding="utf-8")
    shown = [b["data"] for b in (json.loads(x) for x in re.findall(r"```json\n(.*?)\n```", text, re.S))
             if "notice_type" in b.get("data", {})]
    assert {n["notice_type"] for n in shown} >= {"ACK", "N1", "N3", "N4", "INQ"}
    for notice in shown:
        assert notice["text_ja"] == notices.render(notice["notice_type"], notice["details"])[0], notice["notice_type"]
        assert notice["legal_basis"] == notices.LEGAL_BASIS[notice["notice_type"]]
        assert "§" not in notice["text_ja"]
