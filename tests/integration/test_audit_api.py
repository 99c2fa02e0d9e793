"""Audit endpoints: who may read and change what, the streamed exports, the DSA statements'
shape, the hash chain's first broken link, and appeals (SQLite and PostgreSQL)."""
import base64
import datetime as dt
import json
import uuid

import jsonschema
import pytest
import sqlalchemy as sa

from shared.events import APPEAL_SUBMITTED, make_event, parse_event
from services.decision.audit import chain
from services.decision.decisions import service as decision_service
from services.decision.users import service as user_service
from services.decision.app import create_app
from services.decision.audit import records
from services.decision.audit import service as audit_service
from services.decision.audit.models import Appeal
from services.decision.criteria.seed import seed_starter_criteria
from services.decision.decisions.domain import DecisionInput
from services.decision.audit.models import AuditEvent
from services.decision.cases.models import Case
from services.decision.decisions.models import Decision
from services.decision.models import Outbox
from tests.support.databases import make_runtime
from tests.support import audit_scenario as scenario

UTC = dt.timezone.utc
PERIOD = "from=2025-04-01&to=2026-03-31"


@pytest.fixture
def runtime(db_url):
    runtime = make_runtime("decision", db_url)
    seed_starter_criteria(runtime.db, backdate=True)
    user_service.provision_dev_users(runtime.db)
    if "sns" not in scenario.users(runtime):  # the SNS's service account
        with runtime.db.unit_of_work() as uow:
            user_service.create_user(uow.session, "sns@example.jp", "sns", "sns")
            uow.commit()
    return runtime


@pytest.fixture
def client(runtime):
    app = create_app(runtime)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app.test_client()


@pytest.fixture
def small_year(runtime):
    cases = scenario.plan(n=12, seed=7)
    scenario.run(runtime, cases)
    return cases


def basic(role: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{role}@example.jp:{role}".encode()).decode()}


# --- who may do what ----------------------------------------------------------------------

BODIES = {
    "decisions_api.Decisions": {"measure": "no_action", "reason": "該当しない"},
    "inquiries_api.PosterReplies": {"decision_id": "d", "poster_id": "p", "objection": True,
                          "received_at": "2025-06-01T00:00:00+09:00", "delivered_at": "2025-06-01T00:00:00+09:00"},
    "audit.Appeals": {"decision_id": "d", "appellant_id": "p", "reason": "異議"},
    "audit.AppealReview": {"outcome": "reversed", "reason": "取消し"},
}
SIGN_IN = {"users.login", "users.logout"}
# A reader's own view settings (saved queue filters, media blur): they change nothing of a case,
# a decision or the log, so an auditor keeps them like any reader.
OWN_VIEW_SETTINGS = {"casework.save_filter", "casework.delete_filter", "casework.media_setting"}


def post_rules(app):
    return [r for r in app.url_map.iter_rules()
            if "POST" in r.methods and r.endpoint not in SIGN_IN | OWN_VIEW_SETTINGS]


def test_auditor_cannot_change_anything(client, small_year):
    case_id = small_year[0].case_id
    rules = post_rules(client.application)
    assert any(r.rule.startswith("/v1/appeals") for r in rules)
    for rule in rules:
        path = rule.rule.replace("<case_id>", case_id).replace("<appeal_id>", "a").replace("<version>", "2025.1")
        body = BODIES.get(rule.endpoint, {})
        if rule.rule.startswith("/v1/"):
            response = client.post(path, json=body, headers=basic("auditor"))
        else:
            client.post("/login", data={"email": "auditor@example.jp", "password": "auditor"})
            response = client.post(path, data=body)
        assert response.status_code == 403, (rule.rule, response.status_code)
    with client.application.config["RUNTIME"].db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Appeal)) == sum(c.appeal is not None for c in small_year)


@pytest.mark.parametrize("path", ["/v1/audit/decisions", "/v1/audit/decisions?format=csv", "/v1/transparency",
                                  "/v1/dsa/statements", "/v1/audit/verify"])
def test_moderators_cannot_read_exports(client, path):
    assert client.get(path, headers=basic("moderator")).status_code == 403
    assert client.get(path).status_code == 401
    assert client.get(path, headers=basic("auditor")).status_code == 200


# --- the decision log ---------------------------------------------------------------------

def test_records_carry_what_each_decision_was_made_on(client, small_year):
    body = client.get(f"/v1/audit/decisions?{PERIOD}&limit=1000", headers=basic("auditor")).get_json()
    decided = [c for c in small_year if c.decision_id]
    by_id = {d["decision_id"]: d for d in body["decisions"]}
    for case in decided:
        record = by_id[case.decision_id]
        assert record["route"] == case.route and record["ai"]["assisted"] == case.scored
        assert record["decided_by"]["pseudonym"].startswith("mod-") and "@" not in json.dumps(record["decided_by"])
        assert record["decided_at"].endswith("+09:00")
        if case.clause:
            assert record["clause"]["id"] == case.clause and record["clause"]["text"]
    reversals = [d for d in body["decisions"] if d["action"] == "reversal"]
    assert {r["reverses"] for r in reversals} == {c.decision_id for c in small_year if c.appeal == "reversed"}
    assert all(by_id[r["reverses"]]["reversed_by"] == r["decision_id"] for r in reversals)


def test_filters(client, small_year):
    def ids(query):
        """Final decisions only: the plan keeps the ids of those (steps are decisions too)."""
        body = client.get(f"/v1/audit/decisions?{PERIOD}&limit=1000&{query}", headers=basic("auditor")).get_json()
        return {d["decision_id"] for d in body["decisions"] if d["final"]}

    decided = [c for c in small_year if c.decision_id]
    assert ids("route=own_detection&reversal=false") == {c.decision_id for c in decided if c.route == "own_detection"}
    assert ids("measure=remove") == {c.decision_id for c in decided if c.measure == "remove"}
    assert ids("ai=true&reversal=false") == {c.decision_id for c in decided if c.scored}
    assert ids("clause=D-1") == {c.decision_id for c in decided if c.clause == "D-1"}
    assert len(ids("reversal=true")) == sum(c.appeal == "reversed" for c in small_year)
    assert client.get("/v1/audit/decisions?from=yesterday", headers=basic("auditor")).status_code == 400


def bulk_decisions(runtime, n: int) -> None:
    """Many decisions written directly: the export is about reading them back, not deciding."""
    at = dt.datetime(2025, 6, 1, tzinfo=UTC)
    with runtime.db.unit_of_work() as uow:
        moderator = scenario.users(runtime)["moderator"]
        for i in range(n):
            uow.session.add(Case(id=f"bulk-{i}", post_id=f"bp-{i}", author_id=f"u-{i}", post={"id": f"bp-{i}"},
                                 status="decided", created_at=at, updated_at=at, reason_categories=[]))
        uow.session.flush()
        uow.session.add_all([Decision(id=f"d-{i:05d}", case_id=f"bulk-{i}", action="hide", final=True, measure="hide",
                                      reason="=HYPERLINK(\"x\")", scope={}, decided_by=moderator.id,
                                      decided_by_role="moderator", decided_at=at + dt.timedelta(seconds=i))
                             for i in range(n)])
        uow.commit()


Context = records.ChunkContext


def test_streaming_a_few_thousand_decisions(client, runtime, monkeypatch):
    n = 3000
    bulk_decisions(runtime, n)
    monkeypatch.setattr(records, "CHUNK", 250)
    chunks = []
    monkeypatch.setattr(records, "ChunkContext", lambda session, ids: chunks.append(len(ids)) or Context(session, ids))
    response = client.get(f"/v1/audit/decisions?{PERIOD}&format=jsonl", headers=basic("auditor"))
    assert response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == n and json.loads(lines[-1])["decision_id"] == f"d-{n - 1:05d}"
    assert chunks == [250] * (n // 250)  # never more than one chunk of decisions in memory

    response = client.get(f"/v1/audit/decisions?{PERIOD}&format=csv&bom=1", headers=basic("auditor"))
    assert response.is_streamed  # (before reading: reading buffers the body)
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.decode("utf-8").startswith("\ufeff")
    rows = raw.decode("utf-8-sig").splitlines()
    assert len(rows) == n + 1 and rows[0].startswith("decision_id,")
    assert "'=HYPERLINK" in rows[1]  # a formula-like text is neutralised for spreadsheets

    seen, cursor = [], ""
    while True:
        body = client.get(f"/v1/audit/decisions?{PERIOD}&limit=700&cursor={cursor}", headers=basic("auditor")).get_json()
        seen += [d["decision_id"] for d in body["decisions"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == n


# --- the hash chain -------------------------------------------------------------------------

def test_a_row_tampered_through_sql_is_the_first_broken_link(client, runtime, small_year):
    assert client.get("/v1/audit/verify", headers=basic("auditor")).get_json()["intact"] is True
    with runtime.db.sessions() as s:
        target = s.scalar(sa.select(AuditEvent.seq).where(AuditEvent.event_type == "decision.remove")
                          .order_by(AuditEvent.seq).limit(1))
        total = s.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with runtime.db.engine.begin() as conn:  # e.g. someone softening a recorded reason
        conn.execute(sa.text("UPDATE audit_events SET payload = REPLACE(payload, '基準に該当するため', '問題なし') "
                             "WHERE seq = :seq"), {"seq": target})
    result = client.get("/v1/audit/verify", headers=basic("auditor")).get_json()
    assert {k: result[k] for k in ("intact", "checked", "first_broken_seq", "problem")} == {
        "intact": False, "checked": target - 1, "first_broken_seq": target,
        "problem": "entry content does not match its keyed hash"}
    assert total > target  # later rows are intact, and the earliest damage is what is reported


def test_verify_command_exits_1_on_a_tampered_row(runtime, monkeypatch, capsys):
    from services.decision import cli

    scenario.feed(runtime, [scenario.received_event(scenario.plan(n=1)[0], scenario.plan(n=1)[0].reports[0])])
    with runtime.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1"))
    monkeypatch.setenv("MODQ_DECISION_DATABASE_URL", runtime.db.url)
    assert cli.verify([]) == 1
    assert json.loads(capsys.readouterr().out)["first_broken_seq"] == 1


# --- DSA statements of reasons ---------------------------------------------------------------

ENUM = lambda *values: {"type": "string", "enum": list(values)}  # noqa: E731
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 5000}
STATEMENT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["puid", "decision_ground", "category", "content_type", "application_date", "decision_facts",
                 "source_type", "automated_detection", "automated_decision", "territorial_scope"],
    "properties": {
        "puid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,500}$"},
        "decision_visibility": {"type": "array", "minItems": 1, "items": ENUM(
            "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
            "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
            "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
            "DECISION_VISIBILITY_OTHER")},
        "end_date_visibility_restriction": {"oneOf": [DATE, {"type": "null"}]},
        "decision_account": ENUM("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"),
        "end_date_account_restriction": {"oneOf": [DATE, {"type": "null"}]},
        "decision_ground": ENUM("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"),
        "illegal_content_legal_ground": TEXT, "illegal_content_explanation": TEXT,
        "incompatible_content_ground": TEXT, "incompatible_content_explanation": TEXT,
        "incompatible_content_illegal": ENUM("Yes", "No"),
        "category": {"type": "string", "pattern": "^STATEMENT_CATEGORY_[A-Z_]+$"},
        "content_type": {"type": "array", "minItems": 1, "items": ENUM(
            "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
            "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER")},
        "content_date": DATE, "application_date": DATE, "decision_facts": TEXT,
        "source_type": ENUM("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
                            "SOURCE_VOLUNTARY"),
        "automated_detection": ENUM("Yes", "No"),
        "automated_decision": ENUM("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY",
                                   "AUTOMATED_DECISION_NOT_AUTOMATED"),
        "territorial_scope": {"type": "array", "minItems": 1, "uniqueItems": True,
                              "items": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    },
    "allOf": [
        {"oneOf": [{"required": ["decision_visibility"]}, {"required": ["decision_account"]}]},
        {"if": {"properties": {"decision_ground": {"const": "DECISION_GROUND_ILLEGAL_CONTENT"}}},
         "then": {"required": ["illegal_content_legal_ground", "illegal_content_explanation"]},
         "else": {"required": ["incompatible_content_ground", "incompatible_content_explanation"]}},
    ],
}


def test_dsa_statements_match_the_schema_and_hold_no_personal_data(client, small_year):
    body = client.get(f"/v1/dsa/statements?{PERIOD}", headers=basic("auditor")).get_json()
    measured = [c for c in small_year if c.measure in ("remove", "hide", "suspend_account")]
    assert body["count"] == len(measured) > 0
    for statement in body["statements"]:
        jsonschema.validate(statement, STATEMENT_SCHEMA)
    sources = {s["source_type"] for s in body["statements"]}
    assert sources <= {"SOURCE_ARTICLE_16", "SOURCE_VOLUNTARY", "SOURCE_TYPE_OTHER_NOTIFICATION"}
    text = json.dumps(body, ensure_ascii=False)
    for case in small_year:  # no account, post, requester, moderator or free text
        for personal in (case.author_id, f"post-{case.case_id}", "sns.example.jp", "reporter-", "mod-", "@",
                         "投稿本文", "基準に該当するため"):
            assert personal not in text
    assert len({s["puid"] for s in body["statements"]}) == len(measured)


# --- appeals ------------------------------------------------------------------------------

def a_measure(runtime, scored=False) -> tuple[str, str]:
    case = scenario.plan(n=1)[0]
    case.scored, case.measure, case.clause, case.decided_by = scored, "remove", "D-1", "moderator"
    case.step = case.appeal = None
    case.decided_at = dt.datetime.now(UTC)
    scenario.run(runtime, [case])
    return case.decision_id, case.author_id


def test_appeal_is_reviewed_by_another_moderator_and_reversal_is_a_new_decision(client, runtime):
    decision_id, poster = a_measure(runtime)
    body = {"decision_id": decision_id, "appellant_id": poster, "reason": "違反していません", "appeal_id": "ap-1"}
    created = client.post("/v1/appeals", json=body, headers=basic("sns"))
    assert created.status_code == 201 and created.get_json()["status"] == "open"
    assert client.post("/v1/appeals", json=body, headers=basic("sns")).get_json()["id"] == "ap-1"  # idempotent
    assert client.post("/v1/appeals", json={**body, "appeal_id": "ap-2", "appellant_id": "someone"},
                       headers=basic("sns")).status_code == 403
    assert client.post("/v1/appeals", json=body, headers=basic("moderator")).status_code == 403

    review = {"outcome": "reversed", "reason": "文脈上、名誉毀損に当たらない"}
    same = client.post("/v1/appeals/ap-1/review", json=review, headers=basic("moderator"))
    assert same.status_code == 403 and "別の担当者" in same.get_json()["error"]
    done = client.post("/v1/appeals/ap-1/review", json=review, headers=basic("supervisor"))
    assert done.status_code == 200 and done.get_json()["status"] == "reversed"
    assert client.post("/v1/appeals/ap-1/review", json=review, headers=basic("specialist")).status_code == 409

    with runtime.db.sessions() as s:
        original = s.get(Decision, decision_id)
        reversal = s.scalar(sa.select(Decision).where(Decision.reverses == decision_id))
        events = [parse_event(o.payload) for o in s.scalars(sa.select(Outbox))]
    assert original.action == "remove" and original.measure == "remove"  # never edited
    assert reversal.action == "reversal" and reversal.final and reversal.decided_by_role == "supervisor"
    published = [e.data for e in events if e.data.get("decision_id") == reversal.id]
    assert len(published) == 1 and published[0]["action"] == "reversal" and published[0]["reverses"] == decision_id
    assert client.post("/v1/appeals", json={**body, "appeal_id": "ap-3"}, headers=basic("sns")).status_code == 409


def test_appeals_arrive_on_kafka_once_and_refusals_are_logged(runtime):
    decision_id, poster = a_measure(runtime, scored=True)

    def event(appeal_id, appellant):
        return parse_event(make_event(APPEAL_SUBMITTED, source="/sns", subject=decision_id, id=appeal_id, data={
            "appeal_id": appeal_id, "decision_id": decision_id, "appellant_id": appellant, "reason": "異議",
            "submitted_at": dt.datetime.now(UTC).isoformat()}).to_json())

    good, bad = event(str(uuid.uuid4()), poster), event(str(uuid.uuid4()), "not-the-poster")
    audit_service.handle_appeal_events(runtime.db, [good, bad])
    audit_service.handle_appeal_events(runtime.db, [good, bad])
    with runtime.db.sessions() as s:
        appeals = s.scalars(sa.select(Appeal)).all()
        refused = s.scalars(sa.select(AuditEvent).where(AuditEvent.event_type == "appeal.refused")).all()
        assert [(a.channel, a.status) for a in appeals] == [("kafka", "open")]
        assert len(refused) == 1
        assert chain.verify_chain(s)["intact"]


def test_only_measures_can_be_appealed(runtime):
    case = scenario.plan(n=1)[0]
    case.measure, case.clause, case.decided_at = "no_action", None, dt.datetime.now(UTC)
    case.step = case.appeal = None
    scenario.run(runtime, [case])
    from services.decision.errors import DecisionRefused

    with pytest.raises(DecisionRefused, match="措置"):
        audit_service.submit_appeal(runtime.db, decision_id=case.decision_id, appellant_id=case.author_id, reason="x")


def test_decision_input_still_refuses_reversal_as_a_plain_action(runtime):
    """Reversals go through appeals only; the moderators' decision form cannot make one."""
    from services.decision.errors import DecisionRefused

    case = scenario.plan(n=1)[0]
    scenario.feed(runtime, [scenario.received_event(case, case.reports[0])])
    with pytest.raises(DecisionRefused):
        decision_service.record_decision(runtime.db, case.case_id, scenario.users(runtime)["moderator"],
                                DecisionInput(action="reversal", reason="x"))


# --- the public §28 page ------------------------------------------------------------------------

INTERNAL_NAMES = ("null", "None", "MODQ_", "notice_exceptions", "ai_assisted", "N1", "N4", "p50", "s25_", "exception:",
                  "unspecified", "own_detection", "suspend_account")


def test_the_report_is_public_as_a_styled_japanese_page_without_internal_names(client, small_year):
    page = client.get("/transparency?year=2025")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "情報流通プラットフォーム対処法第28条に基づく運用状況の公表" in body and "2025-04-01" in body
    assert '<link rel="stylesheet" href="/static/transparency.css">' in body and "<style" not in body  # the CSP
    assert "@media print" in client.get("/static/transparency.css").get_data(as_text=True)
    for name in INTERNAL_NAMES:
        assert name not in body, name
    # Free text (the reasons of §25(2) item iii, written by moderators) is counted, not quoted.
    if any(c.step == "delay_other" for c in small_year):
        assert "確認に時間を要しているため" not in body
    assert 'href="/criteria"' in body and "/request" in body
    assert client.get("/transparency?year=1999").status_code == 404
    assert client.get("/transparency?year=abc").status_code == 404


def test_a_browser_asking_for_the_api_report_is_sent_to_the_public_page(client):
    browser = client.get("/v1/transparency", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 303 and browser.location.endswith("/transparency")
    assert client.get("/v1/transparency", headers={"Accept": "application/json"}).status_code == 401
    assert client.get("/v1/transparency?format=html", headers={"Accept": "text/html", **basic("moderator")}
                      ).status_code == 403
    detailed = client.get(f"/v1/transparency?{PERIOD}&format=html", headers=basic("auditor"))
    assert detailed.status_code == 200 and "transparency.css" in detailed.get_data(as_text=True)


def test_the_criteria_page_links_the_request_form_and_the_report_without_internal_notes(client):
    page = client.get("/criteria").get_data(as_text=True)
    assert 'id="link-transparency" href="/transparency"' in page or 'href="/transparency" id="link-transparency"' in page
    assert "/request" in page and "初版（スターター基準）" not in page and "スターター" not in page
