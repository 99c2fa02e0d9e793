import json

import pytest

from shared.events import REPORT_SCORED, InvalidEvent, make_event, parse_event, stable_id


def scored(**over):
    data = {"report_id": "r1", "case_id": "c1", "score": 0.7, "categories": {"insult": 0.7, "none": 0.3},
            "model_version": "m1", "scored_at": "2026-01-01T00:00:00+00:00"}
    data.update(over)
    return data


def test_round_trip_keeps_id_subject_and_data():
    env = make_event(REPORT_SCORED, source="/modq/test", subject="c1", data=scored(), id="e1")
    parsed = parse_event(env.to_json())
    assert (parsed.id, parsed.type, parsed.subject, parsed.source) == ("e1", REPORT_SCORED.name, "c1", "/modq/test")
    assert parsed.data["score"] == 0.7
    raw = json.loads(env.to_json())
    assert raw["specversion"] == "1.0" and raw["datacontenttype"] == "application/json"


def test_stable_id_is_deterministic():
    assert stable_id("a", 1) == stable_id("a", 1) != stable_id("a", 2)


def test_invalid_data_is_refused_when_made():
    with pytest.raises(InvalidEvent):
        make_event(REPORT_SCORED, source="/x", subject="c1", data=scored(score=3.0))


@pytest.mark.parametrize("raw,reason", [
    (b"\xff\xfe", "UTF-8"),
    (b"not json", "UTF-8 JSON"),
    (b"[1,2]", "not a JSON object"),
    (b'{"id":"x"}', "CloudEvent"),
    (b"x" * 1_000_001, "exceeds"),
])
def test_malformed_messages_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(raw)


def test_wrongly_typed_data_is_refused():
    env = make_event(REPORT_SCORED, source="/x", subject="c1", data=scored())
    raw = json.loads(env.to_json())
    raw["data"]["score"] = "high"
    with pytest.raises(InvalidEvent, match="invalid data"):
        parse_event(json.dumps(raw).encode())


def test_unexpected_type_is_refused():
    env = make_event(REPORT_SCORED, source="/x", subject="c1", data=scored())
    with pytest.raises(InvalidEvent, match="unexpected"):
        parse_event(env.to_json(), expected=("jp.modq.other.v1",))
