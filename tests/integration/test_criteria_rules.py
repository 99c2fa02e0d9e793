"""§26 criteria, read closely: the publication date is real (development data says when it is
not), the 14 days are JST calendar days, a clause's measures and routes bind, and the starter
catalogue covers what the request form offers. SQLite and PostgreSQL."""
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from shared import clock
from shared.events import REPORT_RECEIVED, make_event, parse_event
from services.decision.criteria import service as criteria_service
from services.decision import handlers
from services.decision.users import service as user_service
from services.decision.app import create_app
from services.decision.criteria.seed import STARTER_CLAUSES, seed_starter_criteria
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.users.models import User
from tests.conftest import make_runtime

UTC = dt.timezone.utc
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def fresh_install(db_url):
    runtime = make_runtime("decision", db_url)
    user_service.provision_dev_users(runtime.db)
    return runtime


def moderator(runtime):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == "moderator@example.jp"))


# --- the publication date ------------------------------------------------------------------

def test_a_new_installation_publishes_its_criteria_now_and_applies_them_14_days_later(fresh_install):
    now = dt.datetime.now(UTC)
    seed_starter_criteria(fresh_install.db, now=now)
    with fresh_install.db.sessions() as s:
        version = s.get(CriteriaVersion, "2025.1")
        assert version.published_at == now and version.backdated is False
        assert criteria_service.criteria_in_force(s, now)[0] is None
        assert criteria_service.criteria_in_force(s, clock.criteria_in_force_from(now))[0].version == "2025.1"
    app = create_app(fresh_install)
    app.config.update(TESTING=True)
    page = app.test_client().get("/criteria?version=2025.1").get_data(as_text=True)
    assert now.astimezone(JST).strftime("%Y-%m-%d") in page  # the real publication date
    assert "2025-04-01" not in page and "開発用データ" not in page


def test_backdated_development_criteria_say_so_on_the_page(fresh_install):
    seed_starter_criteria(fresh_install.db, backdate=True)
    with fresh_install.db.sessions() as s:
        assert s.get(CriteriaVersion, "2025.1").backdated is True
    app = create_app(fresh_install)
    app.config.update(TESTING=True)
    assert "開発用データ" in app.test_client().get("/criteria").get_data(as_text=True)


# --- the 14 days are calendar days (初日不算入) ---------------------------------------------------

@pytest.mark.parametrize("published,first_usable", [
    (dt.datetime(2025, 6, 1, 10, 0, tzinfo=JST), dt.datetime(2025, 6, 16, 0, 0, tzinfo=JST)),
    (dt.datetime(2025, 6, 1, 0, 0, tzinfo=JST), dt.datetime(2025, 6, 15, 0, 0, tzinfo=JST)),
    (dt.datetime(2025, 6, 1, 23, 59, 59, tzinfo=JST), dt.datetime(2025, 6, 16, 0, 0, tzinfo=JST)),
    (dt.datetime(2025, 5, 31, 15, 0, tzinfo=UTC), dt.datetime(2025, 6, 15, 0, 0, tzinfo=JST)),  # 06-01 00:00 JST
])
def test_criteria_apply_from_the_start_of_the_day_after_14_whole_days(published, first_usable):
    assert clock.criteria_in_force_from(published) == first_usable.astimezone(UTC)


def test_a_clause_is_refused_until_its_14_calendar_days_have_passed(fresh_install):
    published = dt.datetime(2025, 6, 1, 10, 0, tzinfo=JST)
    seed_starter_criteria(fresh_install.db, now=published.astimezone(UTC))
    with fresh_install.db.sessions() as s:
        with pytest.raises(DecisionRefused):
            criteria_service.clause_in_force(s, "D-1", dt.datetime(2025, 6, 15, 10, 0, tzinfo=JST))
        with pytest.raises(DecisionRefused):
            criteria_service.clause_in_force(s, "D-1", dt.datetime(2025, 6, 15, 23, 59, 59, tzinfo=JST))
        assert criteria_service.clause_in_force(s, "D-1", dt.datetime(2025, 6, 16, 0, 0, tzinfo=JST)).clause_id == "D-1"


# --- a clause's measures and routes bind -----------------------------------------------------

def own_detection(case_id):
    now = dt.datetime.now(UTC)
    return make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": str(uuid.uuid4()), "case_id": case_id, "kind": "report", "treated_as": "report",
        "received_at": now.isoformat(), "reporter": None, "reason": "自動検知",
        "post": {"id": f"p-{case_id}", "url": "https://sns.example.jp/posts/9", "author_id": "u-poster",
                 "text": "x", "posted_at": now.isoformat()}})


@pytest.fixture
def hide_only_clause(decision):
    """A clause in force that allows hiding only, and only on requests."""
    with decision.db.unit_of_work() as uow:
        criteria_service.draft_criteria_version(uow.session, "2026.1", "admin")
        criteria_service.save_clause(uow.session, "2026.1", "V-1", {
            "title": "非表示のみ", "text": "申出に基づき非表示にします。", "routes": ["request"], "measures": ["hide"]},
            "admin")
        criteria_service.publish_criteria(uow.session, "2026.1", "admin", now=dt.datetime.now(UTC) - dt.timedelta(days=20))
        uow.commit()
    return "V-1"


@pytest.mark.parametrize("action", ["remove", "hide"])
def test_a_clause_grounds_only_its_measures_and_routes(decision, hide_only_clause, action):
    from services.decision.app import create_app
    from tests.integration.test_decision_http import basic, claim

    handlers.handle_events(decision.db, [parse_event(own_detection("c-own").to_json())])
    claim(decision, "moderator", "c-own")
    app = create_app(decision)
    app.config.update(TESTING=True)
    response = app.test_client().post("/v1/cases/c-own/decisions", headers=basic("moderator"),
                                      json={"measure": action, "clause_id": hide_only_clause, "reason": "x"})
    assert response.status_code == 422, response.get_json()
    assert "clause_id" in str(response.get_json())


def test_a_clause_applies_on_its_own_route_and_measure(decision, hide_only_clause):
    from tests.integration.test_decision_http import decide, open_case

    open_case(decision, case_id="c-req")
    with pytest.raises(DecisionRefused) as refused:
        decide(decision, "c-req", moderator(decision),
               DecisionInput(action="remove", reason="x", clause_id=hide_only_clause))
    assert refused.value.status == 422
    decided = decide(decision, "c-req", moderator(decision),
                     DecisionInput(action="hide", reason="x", clause_id=hide_only_clause))
    assert decided.clause_id == "V-1"


# --- the starter catalogue ----------------------------------------------------------------------

def test_the_starter_criteria_cover_every_right_the_form_offers():
    from services.decision.criteria.seed import RIGHT_CATEGORIES
    from services.intake.forms import RIGHTS

    categories = {c["category"] for c in STARTER_CLAUSES}
    offered = [value for value, _ in RIGHTS if value != "その他"]
    assert set(offered) <= set(RIGHT_CATEGORIES)
    assert {RIGHT_CATEGORIES[r] for r in offered} <= categories
    assert {"copyright", "portrait", "trademark", "csam", "drugs", "fraud", "suicide"} <= categories


def test_every_suspension_clause_says_when_and_for_how_long():
    import re

    suspending = [c for c in STARTER_CLAUSES if c["covers_suspension"]]
    assert suspending
    for clause in suspending:
        assert re.search(r"\d+回|1回目", clause["text"]), clause["clause_id"]
        assert re.search(r"\d+日間|無期限", clause["text"]), clause["clause_id"]
