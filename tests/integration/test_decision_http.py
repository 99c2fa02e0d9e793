"""The decision service through HTTP (Flask test client): criteria administration (§26),
posters' replies to inquiries (§3(2)(ii)), the specialist queue (§24), the exact scope of a
measure in the API, and the English catalogue. SQLite and PostgreSQL."""
import base64
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from shared.events import INQUIRY_DELIVERED, POSTER_REPLY, REPORT_RECEIVED, make_event, parse_event
from services.decision.cases import service as case_service
from services.decision.criteria import service as criteria_service
from services.decision.decisions import service as decision_service
from services.decision import handlers
from services.decision.app import create_app
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused
from services.decision.audit.models import AuditEvent
from services.decision.cases.models import Case
from services.decision.decisions.models import Decision
from services.decision.inquiries.models import PosterInquiry
from services.decision.users.models import User

UTC = dt.timezone.utc
MEDIA = [{"id": "m-1", "url": "https://sns.example.jp/media/1.jpg"},
         {"id": "m-2", "url": "https://sns.example.jp/media/2.jpg"}]


@pytest.fixture
def app(decision):
    app = create_app(decision)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)  # CSRF is exercised in the browser tests
    return app


def basic(role: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{role}@example.jp:{role}".encode()).decode()}


def signed_in(app, role: str):
    client = app.test_client()
    assert client.post("/login", data={"email": f"{role}@example.jp", "password": role}).status_code == 302
    return client


def open_case(runtime, case_id="case-1", request_type="ordinary", media=None, author="u-poster"):
    now = dt.datetime.now(UTC)
    from shared.clock import s25_deadline

    event = make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": str(uuid.uuid4()), "case_id": case_id, "kind": "deletion_request",
        "treated_as": "deletion_request", "received_at": now.isoformat(), "request_type": request_type,
        "deadline_at": s25_deadline(now).isoformat(),
        "post": {"id": f"p-{case_id}", "url": "https://sns.example.jp/posts/1", "author_id": author,
                 "text": "店長は横領している", "posted_at": now.isoformat(), "media": media or []},
        "reporter": {"id": "req-1", "is_rights_holder": True, "contact": "mail:r@example.jp"},
        "reason": "虚偽の事実です", "right_infringed": "名誉権"})
    handlers.handle_events(runtime.db, [parse_event(event.to_json())])


def user(runtime, role) -> User:
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == f"{role}@example.jp"))


def claim(runtime, role: str, case_id="case-1") -> None:
    """Deciding needs the decider's claim (the claim itself is tested through the API below)."""
    case_service.claim_case(runtime.db, case_id, user(runtime, role))


def decide(runtime, case_id: str, who: User, data: DecisionInput):
    """Decide as the queue does: claim the case first; a refused decision gives the claim back,
    so the next person can claim it."""
    case_service.claim_case(runtime.db, case_id, who)
    try:
        return decision_service.record_decision(runtime.db, case_id, who, data)
    except DecisionRefused:
        case_service.release_case(runtime.db, case_id, who)
        raise


def ask_poster(runtime, case_id="case-1") -> str:
    claim(runtime, "moderator", case_id)
    decision = decision_service.record_decision(runtime.db, case_id, user(runtime, "moderator"),
                                       DecisionInput(action="poster_inquiry", reason="発信者の意見を聴く"))
    return decision.id


def delivered(runtime, decision_id, at: dt.datetime, case_id="case-1"):
    from shared.clock import inquiry_deadline

    with runtime.db.sessions() as s:
        inquiry = s.get(PosterInquiry, decision_id)
    end = inquiry_deadline(at, inquiry.request_type)
    event = make_event(INQUIRY_DELIVERED, source="/t", subject=case_id, data={
        "notice_id": inquiry.notice_id, "case_id": case_id, "decision_id": decision_id, "poster_id": "u-poster",
        "request_type": inquiry.request_type, "reply_days": 7, "delivered_at": at.isoformat(),
        "reply_deadline_at": end.isoformat(), "measure_allowed_from": (end + dt.timedelta(microseconds=1)).isoformat()})
    handlers.handle_events(runtime.db, [parse_event(event.to_json())])


def reply_body(decision_id, *, objection, received_at, delivered_at, **over):
    return {"decision_id": decision_id, "poster_id": "u-poster", "objection": objection, "text": "同意しません",
            "received_at": received_at.isoformat(), "delivered_at": delivered_at.isoformat(), **over}


def queue_ids(app, view=None, role="moderator"):
    url = "/v1/cases?limit=50" + (f"&view={view}" if view else "")
    return [c["id"] for c in app.test_client().get(url, headers=basic(role)).get_json()["cases"]]


def audit_types(runtime, case_id="case-1"):
    with runtime.db.sessions() as s:
        return [e.event_type for e in s.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id))]


# --- §3(2)(ii): posters' replies -------------------------------------------------------

def test_silent_poster_makes_the_case_ready_after_the_window(decision, app):
    open_case(decision)
    decision_id = ask_poster(decision)
    assert queue_ids(app, "ready") == []
    delivered(decision, decision_id, dt.datetime.now(UTC) - dt.timedelta(days=9))
    assert queue_ids(app, "ready") == ["case-1"]
    page = signed_in(app, "moderator").get("/queue").get_data(as_text=True)
    assert "判断可能" in page
    case_page = signed_in(app, "moderator").get("/cases/case-1").get_data(as_text=True)
    assert "期間満了・異議なし" in case_page


def test_objection_in_time_is_shown_and_keeps_the_case_from_ready(decision, app):
    open_case(decision)
    decision_id = ask_poster(decision)
    sent = dt.datetime.now(UTC) - dt.timedelta(days=8)
    response = app.test_client().post("/v1/cases/case-1/poster-replies", headers=basic("sns"), json=reply_body(
        decision_id, objection=True, delivered_at=sent, received_at=sent + dt.timedelta(days=1), reply_id="r-1"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["late"] is False
    again = app.test_client().post("/v1/cases/case-1/poster-replies", headers=basic("sns"), json=reply_body(
        decision_id, objection=True, delivered_at=sent, received_at=sent + dt.timedelta(days=1), reply_id="r-1"))
    assert again.status_code == 201 and again.get_json()["id"] == "r-1"
    assert queue_ids(app, "ready") == []
    page = signed_in(app, "moderator").get("/cases/case-1").get_data(as_text=True)
    assert "異議あり" in page and "同意しません" in page
    assert audit_types(decision).count("poster.reply") == 1


def test_late_objection_is_logged_and_changes_nothing(decision, app):
    open_case(decision)
    decision_id = ask_poster(decision)
    sent = dt.datetime.now(UTC) - dt.timedelta(days=10)
    delivered(decision, decision_id, sent)
    response = app.test_client().post("/v1/cases/case-1/poster-replies", headers=basic("sns"), json=reply_body(
        decision_id, objection=True, delivered_at=sent, received_at=dt.datetime.now(UTC)))
    assert response.status_code == 201 and response.get_json()["late"] is True
    assert "poster.late_objection" in audit_types(decision)
    assert queue_ids(app, "ready") == ["case-1"]
    assert "期限後の回答" in signed_in(app, "moderator").get("/cases/case-1").get_data(as_text=True)


def test_two_day_window_for_election_requests(decision, app):
    open_case(decision, request_type="election")
    decision_id = ask_poster(decision)
    delivered(decision, decision_id, dt.datetime.now(UTC) - dt.timedelta(days=3))
    assert queue_ids(app, "ready") == ["case-1"]


def test_reply_from_the_kafka_topic_is_recorded_once(decision):
    open_case(decision)
    decision_id = ask_poster(decision)
    now = dt.datetime.now(UTC)
    event = make_event(POSTER_REPLY, source="/sns", subject="case-1", data={
        "case_id": "case-1", "decision_id": decision_id, "poster_id": "u-poster", "objection": True, "text": "",
        "received_at": now.isoformat(), "delivered_at": (now - dt.timedelta(hours=1)).isoformat()})
    stray = make_event(POSTER_REPLY, source="/sns", subject="case-1", data={**event.data, "decision_id": "nope"})
    for _ in range(2):
        handlers.handle_events(decision.db, [parse_event(e.to_json()) for e in (event, stray)])
    with decision.db.sessions() as s:
        assert s.get(PosterInquiry, decision_id).outcome == "objected"
    assert audit_types(decision).count("poster.reply") == 1


@pytest.mark.parametrize("role,body,status,field", [
    ("moderator", {}, 403, None),
    ("sns", {"decision_id": "unknown"}, 404, "decision_id"),
    ("sns", {"poster_id": "someone-else"}, 422, "poster_id"),
    ("sns", {"objection": "perhaps"}, 400, "objection"),
    ("sns", {"received_at": "2026-01-01T00:00:00"}, 400, "received_at"),
    ("sns", {"received_at": "2000-01-01T00:00:00+09:00"}, 422, "received_at"),
])
def test_bad_replies_get_a_clear_4xx(decision, app, role, body, status, field):
    open_case(decision)
    decision_id = ask_poster(decision)
    now = dt.datetime.now(UTC)
    payload = {**reply_body(decision_id, objection=True, received_at=now, delivered_at=now), **body}
    response = app.test_client().post("/v1/cases/case-1/poster-replies", headers=basic(role), json=payload)
    assert response.status_code == status, response.get_json()
    if field:
        assert field in str(response.get_json()["fields"])
    assert app.test_client().post("/v1/cases/case-1/poster-replies", json=payload).status_code == 401


# --- §24: the specialist queue -----------------------------------------------------------

def test_referred_case_sits_in_the_specialist_queue_and_records_who_reviewed(decision, app):
    open_case(decision)
    open_case(decision, case_id="case-2")
    claim(decision, "moderator")
    decision_service.record_decision(decision.db, "case-1", user(decision, "moderator"),
                            DecisionInput(action="refer_specialist", reason="専門的判断が必要"))
    assert queue_ids(app, "specialist") == ["case-1"]
    assert "専門員の調査中" in signed_in(app, "moderator").get("/queue?view=specialist").get_data(as_text=True)
    claim(decision, "specialist")
    response = app.test_client().post("/v1/cases/case-1/decisions", headers=basic("specialist"), json={
        "measure": "remove", "clause_id": "D-1", "reason": "名誉毀損に当たる"})
    assert response.status_code == 201 and response.get_json()["specialist_reviewed"] is True
    page = signed_in(app, "auditor").get("/cases/case-1").get_data(as_text=True)
    assert "専門員が確認" in page and "（specialist）" in page
    assert queue_ids(app, "specialist") == []


# --- §3(2)(i), §2(9): exact scope, Japan-only, suspensions ------------------------------

@pytest.mark.parametrize("body,check", [
    ({"measure": "hide", "clause_id": "P-1", "scope": {"visibility": "japan_only"}},
     lambda d: d.scope == {"whole_post": True, "items": [], "visibility": "japan_only"}),
    ({"measure": "remove", "clause_id": "P-1", "scope": {"items": ["m-2"]}},
     lambda d: d.scope["items"] == ["m-2"] and d.scope["whole_post"] is False),
    ({"measure": "suspend_account", "clause_id": "T-1", "suspension_permanent": True},
     lambda d: d.suspension_permanent and d.suspension_until is None),
    ({"measure": "suspend_account", "clause_id": "T-1", "suspension_until": "2099-01-31T00:00:00+09:00"},
     lambda d: not d.suspension_permanent and d.suspension_until.year == 2099),
])
def test_api_records_the_exact_scope(decision, app, body, check):
    open_case(decision, media=MEDIA)
    assert app.test_client().post("/v1/cases/case-1/claim", headers=basic("moderator")).status_code == 200
    response = app.test_client().post("/v1/cases/case-1/decisions", headers=basic("moderator"),
                                      json={"reason": "基準に該当", **body})
    assert response.status_code == 201, response.get_json()
    with decision.db.sessions() as s:
        assert check(s.get(Decision, response.get_json()["id"]))


@pytest.mark.parametrize("body,status,field", [
    ({"measure": "hide", "clause_id": "P-1", "scope": {"visibility": "worldwide"}}, 400, "visibility"),
    ({"measure": "hide", "clause_id": "P-1", "scope": {"colour": "red"}}, 400, "colour"),
    ({"measure": "remove", "clause_id": "P-1", "scope": {"items": ["m-9"]}}, 400, "scope.items"),
    ({"measure": "suspend_account", "clause_id": "T-1", "suspension_permanent": True,
      "suspension_until": "2099-01-31T00:00:00+09:00"}, 400, "suspension_until"),
    ({"measure": "suspend_account", "clause_id": "T-1", "suspension_until": "2099-01-31T00:00:00"}, 400,
     "suspension_until"),
])
def test_api_refuses_a_bad_scope_with_the_field(decision, app, body, status, field):
    open_case(decision, media=MEDIA)
    claim(decision, "moderator")
    response = app.test_client().post("/v1/cases/case-1/decisions", headers=basic("moderator"),
                                      json={"reason": "基準に該当", **body})
    assert response.status_code == status, response.get_json()
    assert field in str(response.get_json()["fields"])
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").status == "open"


def test_web_form_records_japan_only_and_partial_scope(decision, app):
    open_case(decision, media=MEDIA)
    client = signed_in(app, "moderator")
    assert client.post("/cases/case-1/claim").status_code == 302
    response = client.post("/cases/case-1/decide", data={
        "measure": "hide", "clause_id": "P-1", "reason": "住所の晒し", "visibility": "japan_only",
        "scope_items": "m-1、m-2"})
    assert response.status_code == 302 and response.location.endswith("/queue")
    with decision.db.sessions() as s:
        d = s.scalar(sa.select(Decision))
        assert d.scope == {"whole_post": False, "items": ["m-1", "m-2"], "visibility": "japan_only"}
    page = client.get("/cases/case-1").get_data(as_text=True)
    assert "日本国内のみ制限" in page and "m-1, m-2" in page


def test_web_form_without_a_measure_comes_back_with_the_input_instead_of_failing(decision, app):
    open_case(decision)
    client = signed_in(app, "moderator")
    claim(decision, "moderator")
    response = client.post("/cases/case-1/decide", data={"reason": "残しておく判断メモ", "facts": "投稿者向け"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "措置を選んでください" in page
    assert "残しておく判断メモ</textarea>" in page and "投稿者向け</textarea>" in page


def test_web_form_refusals_are_in_japanese_only(decision, app):
    open_case(decision)
    client = signed_in(app, "moderator")
    claim(decision, "moderator")
    response = client.post("/cases/case-1/decide", data={"measure": "remove", "reason": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "措置には公表済み基準の条項か例外コードが必要です" in page
    assert "clause_id or exception_code" not in page and "§26;" not in page


# --- §26: the criteria catalogue ---------------------------------------------------------

def test_admin_drafts_edits_and_publishes_a_version_that_takes_effect_in_14_days(decision, app):
    admin = signed_in(app, "admin")
    response = admin.post("/admin/criteria", data={"version": "2026.1", "note": "事例の追加"})
    assert response.location.endswith("/admin/criteria/2026.1")
    edit = admin.get("/admin/criteria/2026.1").get_data(as_text=True)
    assert "D-1" in edit and "T-1" in edit  # a copy of the version in force
    assert admin.post("/admin/criteria/2026.1/clauses", data={
        "clause_id": "D-1", "title": "名誉毀損（改定）", "text": "改定した本文", "category": "defamation",
        "routes": ["request", "report"], "measures": ["remove", "hide"],
        "examples": "例1\n例2"}).status_code == 302
    assert admin.post("/admin/criteria/2026.1/clauses", data={
        "clause_id": "G-1", "title": "選挙運動に関する虚偽", "text": "候補者についての虚偽の情報。", "routes": ["request"],
        "measures": ["remove", "suspend_account"], "covers_suspension": "1"}).status_code == 302
    bad = admin.post("/admin/criteria/2026.1/clauses", data={"clause_id": "Z-1", "title": "", "text": "x"},
                     follow_redirects=True)
    assert "見出し" in bad.get_data(as_text=True)
    published = admin.post("/admin/criteria/2026.1/publish", data={"confirmed": "2026.1"},
                           follow_redirects=True).get_data(as_text=True)
    assert "14日後" in published
    public = app.test_client().get("/criteria").get_data(as_text=True)
    from shared.clock import criteria_in_force_from

    in_force = criteria_in_force_from(dt.datetime.now(UTC)).astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert "2025.1" in public and "2026.1" in public and in_force.strftime("%Y-%m-%d") in public
    assert "改定した本文" in app.test_client().get("/criteria?version=2026.1").get_data(as_text=True)
    frozen = admin.post("/admin/criteria/2026.1/clauses", data={
        "clause_id": "D-1", "title": "x", "text": "x", "routes": ["request"], "measures": ["remove"]},
        follow_redirects=True)
    assert "変更できません" in frozen.get_data(as_text=True)
    open_case(decision)
    claim(decision, "moderator")
    response = app.test_client().post("/v1/cases/case-1/decisions", headers=basic("moderator"),
                                      json={"measure": "remove", "clause_id": "G-1", "reason": "x"})
    assert response.status_code == 400 and "14日" in response.get_json()["error"]


def test_published_version_becomes_the_one_in_force_after_14_days(decision):
    with decision.db.unit_of_work() as uow:
        criteria_service.draft_criteria_version(uow.session, "2026.1", "admin")
        criteria_service.save_clause(uow.session, "2026.1", "G-1", {
            "title": "選挙運動に関する虚偽", "text": "候補者についての虚偽の情報。", "routes": ["request"],
            "measures": ["remove"]}, "admin")
        criteria_service.publish_criteria(uow.session, "2026.1", "admin", now=dt.datetime.now(UTC) - dt.timedelta(days=15))
        uow.commit()
    with decision.db.sessions() as s:
        versions = criteria_service.criteria_versions(s, dt.datetime.now(UTC))
        assert versions["in_force"].version == "2026.1"
        assert [v.version for v in versions["past"]] == ["2025.1"]


@pytest.mark.parametrize("role", ["moderator", "auditor", "specialist"])
def test_only_admins_manage_the_criteria(app, role):
    client = signed_in(app, role)
    assert client.get("/admin/criteria").status_code == 403
    assert client.post("/admin/criteria", data={"version": "x"}).status_code == 403


# --- English ------------------------------------------------------------------------------

def test_english_catalogue(decision, app):
    open_case(decision)
    client = signed_in(app, "moderator")
    queue = client.get("/queue?lang=en").get_data(as_text=True)
    assert "Moderation queue" in queue and "Next case" in queue and "対応キュー" not in queue
    case = client.get("/cases/case-1").get_data(as_text=True)  # the choice sticks for the session
    assert "Record decision" in case and "Ask the poster's opinion (§3(2)(ii))" in case
    assert "対応キュー" in client.get("/queue?lang=ja").get_data(as_text=True)


def test_every_template_string_has_an_english_translation():
    from services.decision.translations.update import PO, source_strings
    from babel.messages.pofile import read_po

    catalog = read_po(PO.open("rb"))
    missing = [m for m in source_strings() if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == []
    assert PO.with_suffix(".mo").stat().st_mtime >= PO.stat().st_mtime - 1


def test_counts_come_from_one_query(decision):
    open_case(decision)
    with decision.db.sessions() as s:
        counts = case_service.queue_counts(s)
    assert counts == {"open": 1, "requests": 1, "near_deadline": 0, "blocked_notices": 0, "specialist": 0,
                      "ready": 0}


def test_earlier_cases_are_listed_per_poster_but_never_for_an_unknown_author(decision, app):
    open_case(decision, case_id="known-1", author="u-alice")
    open_case(decision, case_id="known-2", author="u-alice")
    open_case(decision, case_id="form-1", author="unknown")
    open_case(decision, case_id="form-2", author="unknown")
    client = signed_in(app, "moderator")
    known = client.get("/cases/known-2").get_data(as_text=True)
    assert "/cases/known-1" in known
    unknown = client.get("/cases/form-2").get_data(as_text=True)
    assert "/cases/form-1" not in unknown


def test_the_queue_search_finds_a_case_by_the_requests_receipt_number(decision, app, tmp_path):
    """From intake's API through report.received to the queue: the 受付番号 a requester reads
    out (lower case, with the hyphen, O for 0) finds the case; an older event without one still
    projects."""
    from services.intake.app import create_app as intake_app
    from tests.support.databases import make_runtime
    from tests.support.helpers import report_body, signed

    intake = make_runtime("intake", f"sqlite:///{tmp_path / 'intake.db'}")
    raw, headers = signed(report_body("deletion_request", post_id="p-receipt", rights_holder=True))
    accepted = intake_app(intake).test_client().post("/v1/reports", data=raw, headers=headers).get_json()
    number = accepted["receipt_number"]
    with intake.db.engine.connect() as conn:
        payloads = conn.execute(sa.text("SELECT payload FROM outbox")).scalars().all()
    events = [parse_event(p if isinstance(p, (bytes, str)) else bytes(p)) for p in payloads]
    assert [e.data["receipt_number"] for e in events] == [number]
    handlers.handle_events(decision.db, events)
    open_case(decision, "case-older")  # no receipt_number in its event
    client = signed_in(app, "moderator")
    typed = f"{number[:5]}-{number[5:]}".lower().replace("0", "o")
    for query in (number, typed):
        html = client.get("/queue", query_string={"q": query}).get_data(as_text=True)
        assert f'data-case-id="{accepted["case_id"]}"' in html and 'data-case-id="case-older"' not in html, query
    other = "".join("Z" if c != "Z" else "Y" for c in number)
    assert 'data-case-id="' not in client.get("/queue", query_string={"q": other}).get_data(as_text=True)
    assert 'data-case-id="case-older"' in client.get("/queue").get_data(as_text=True)
