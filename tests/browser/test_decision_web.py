"""The moderators' web view in a real headless Chromium (Debian's), against the decision app
served by a real HTTP server on a free port: sign-in, claim, decide, XSS, roles, CSRF, stale
forms, keyboard shortcuts. Screenshots go to var/screenshots/."""
from __future__ import annotations

import datetime as dt
import re
import threading
import uuid

import pytest

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

from shared.clock import s25_deadline  # noqa: E402
from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event, parse_event  # noqa: E402
from services.decision import handlers  # noqa: E402
from services.decision.users import service as user_service  # noqa: E402
from services.decision.criteria.seed import seed_starter_criteria  # noqa: E402
from tests.support.browser import screenshot  # noqa: E402
from tests.support.databases import make_runtime  # noqa: E402

XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
UTC = dt.timezone.utc
SELECTED = re.compile(r"\bselected\b")

POSTS = {
    "case-decide": ("駅前の○○店の店長は客の財布から金を盗んでいる。みんな気をつけろ", "defamation", 0.91),
    "case-xss": (XSS, "insult", 0.35),
    "case-stale": ("あいつの住所は東京都○○区△△1-2-3、毎朝7時に家を出る", "privacy", 0.88),
    "case-keys": ("明日学校に行ったら全員覚悟しておけ", "threat", 0.97),
    "case-csrf": ("お前みたいなやつは生きる価値がない", "insult", 0.8),
    "case-auditor": ("○○さんは前科持ちだと聞いた", "defamation", 0.6),
}


def report(case_id: str, text: str, *, kind="deletion_request", hours_ago=2.0, reporter="req-1"):
    received = dt.datetime.now(UTC) - dt.timedelta(hours=hours_ago)
    return make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": str(uuid.uuid4()), "case_id": case_id, "kind": kind, "treated_as": kind,
        "received_at": received.isoformat(),
        "deadline_at": s25_deadline(received).isoformat() if kind == "deletion_request" else None,
        "post": {"id": f"p-{case_id}", "url": f"https://sns.example.jp/posts/{case_id}", "author_id": "u-poster",
                 "text": text, "posted_at": received.isoformat(), "media": []},
        "reporter": {"id": reporter, "is_rights_holder": kind == "deletion_request", "contact": "mail:r@example.jp"},
        "reason": "私への誹謗中傷です", "right_infringed": "名誉権" if kind == "deletion_request" else None})


def scored(event, category: str, score: float):
    return make_event(REPORT_SCORED, source="/t", subject=event.subject, data={
        "report_id": event.data["report_id"], "case_id": event.subject, "score": score,
        "categories": {category: score, "none": round(1 - score, 3)}, "model_version": "tiny-1",
        "scored_at": dt.datetime.now(UTC).isoformat()})


def feed(runtime, *events):
    handlers.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    runtime = make_runtime("decision", f"sqlite:///{tmp_path_factory.mktemp('browser') / 'decision.db'}")
    seed_starter_criteria(runtime.db, backdate=True)
    user_service.provision_dev_users(runtime.db)
    for n, (case_id, (text, category, score)) in enumerate(POSTS.items()):
        kind = "deletion_request" if n % 2 == 0 else "report"
        first = report(case_id, text, kind=kind, hours_ago=2 + n * 20)
        feed(runtime, first, scored(first, category, score))
        if n % 3 == 0:
            feed(runtime, report(case_id, text, kind="report", reporter=f"r-{n}"))
    return runtime


@pytest.fixture(scope="module")
def server(runtime):
    from werkzeug.serving import make_server

    from services.decision.app import create_app

    app = create_app(runtime)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(5)


def sign_in(page, server, role="moderator"):
    page.goto(f"{server}/queue")
    expect(page).to_have_url(f"{server}/login?next=%2Fqueue")
    page.fill("input[name=email]", f"{role}@example.jp")
    page.fill("input[name=password]", role)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}/queue")


def test_sign_in_claim_decide_and_the_case_leaves_the_queue(page, server):
    sign_in(page, server)
    expect(page.locator("tr[data-case-id=case-decide]")).to_have_count(1)
    screenshot(page, "queue")
    page.click("tr[data-case-id=case-decide] a")
    expect(page.locator("#post-text")).to_contain_text("店長は客の財布")
    page.click("#claim-button")
    expect(page.locator(".flash")).to_contain_text("案件を担当しました")
    page.check("input[name=measure][value=remove]")
    page.select_option("#clause_id", "D-1")
    page.fill("textarea[name=reason]", "根拠なく窃盗を断定しており名誉毀損に当たる（基準 D-1）")
    screenshot(page, "case")
    page.click("#decide-button")
    expect(page).to_have_url(f"{server}/queue")
    expect(page.locator(".flash")).to_contain_text("決定を記録しました")
    expect(page.locator("tr[data-case-id=case-decide]")).to_have_count(0)


def test_xss_in_a_post_stays_text(page, server):
    sign_in(page, server)
    expect(page.locator("tr[data-case-id=case-xss] td.post")).to_contain_text("<script>window.__xss=1</script>")
    page.goto(f"{server}/cases/case-xss")
    expect(page.locator("#post-text")).to_have_text(XSS)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#post-text img, #post-text script").count() == 0


def test_auditor_reads_but_cannot_decide(page, server):
    sign_in(page, server, "auditor")
    page.goto(f"{server}/cases/case-auditor")
    expect(page.locator("#post-text")).to_be_visible()
    expect(page.locator("#decision-form")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"{server}/cases/case-auditor/decide", headers={"Accept": "text/html"}, form={
        "csrf_token": token, "measure": "no_action", "reason": "x"})
    assert response.status == 403
    assert "権限がありません" in response.text()


def test_signed_out_visitor_is_sent_to_the_login_page(page, server):
    page.goto(f"{server}/cases/case-auditor")
    expect(page).to_have_url(f"{server}/login?next=%2Fcases%2Fcase-auditor")
    expect(page.locator("h1")).to_have_text("ログイン")


def test_form_without_csrf_token_is_refused(page, server, runtime):
    sign_in(page, server)
    page.goto(f"{server}/cases/case-csrf")
    page.evaluate("document.querySelector('#decision-form input[name=csrf_token]').remove()")
    page.check("input[name=measure][value=no_action]")
    page.fill("textarea[name=reason]", "問題なし")
    page.click("#decide-button")
    expect(page.locator("main")).to_contain_text("確認用トークン")
    with runtime.db.sessions() as s:
        from services.decision.cases.models import Case

        assert s.get(Case, "case-csrf").status == "open"


def test_stale_form_is_refused_with_a_clear_message(page, server, runtime):
    sign_in(page, server)
    page.goto(f"{server}/cases/case-stale")
    page.click("#claim-button")  # deciding needs the claim
    expect(page.locator(".flash")).to_contain_text("案件を担当しました")
    page.check("input[name=measure][value=hide]")
    page.select_option("#clause_id", "P-1")
    page.fill("textarea[name=reason]", "住所の晒し")
    feed(runtime, report("case-stale", POSTS["case-stale"][0], kind="report", reporter="late-reporter"))
    page.click("#decide-button")
    # the page comes back (409) with the refusal and every input as typed, ready to resubmit
    expect(page).to_have_url(f"{server}/cases/case-stale/decide")
    expect(page.locator(".flash.error")).to_contain_text("案件が更新されました")
    expect(page.locator("#case-status")).to_have_text("未対応")
    expect(page.locator("input[name=measure][value=hide]")).to_be_checked()
    expect(page.locator("#clause_id")).to_have_value("P-1")
    expect(page.locator("textarea[name=reason]")).to_have_value("住所の晒し")


def test_keyboard_shortcuts(page, server):
    sign_in(page, server)
    rows = page.locator("#queue tbody tr[data-href]")
    page.locator("html[data-shortcuts=on]").wait_for(state="attached")  # keys.js has loaded
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(SELECTED)
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(SELECTED)
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(SELECTED)
    expect(rows.nth(1)).not_to_have_class(SELECTED)
    target = rows.nth(0).get_attribute("data-href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(server + target)
    page.locator("html[data-shortcuts=on]").wait_for(state="attached")
    page.keyboard.press("c")
    expect(page.locator(".flash")).to_contain_text("案件を担当しました")
    page.goto(f"{server}/queue")
    page.locator("html[data-shortcuts=on]").wait_for(state="attached")
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/cases/"))


def test_english_view(page, server):
    sign_in(page, server)
    page.goto(f"{server}/queue?lang=en")
    expect(page.locator("h1")).to_have_text("Moderation queue")
    screenshot(page, "queue-en")
    page.goto(f"{server}/cases/case-keys")
    expect(page.locator("#decide-button")).to_contain_text("Record decision")
    page.goto(f"{server}/criteria?lang=ja")
    screenshot(page, "criteria")
