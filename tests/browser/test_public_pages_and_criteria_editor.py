"""The public pages (the §28 report, the criteria, intake's /request form) and the administrators'
criteria editor in a real headless Chromium (Debian's), against the decision and intake apps served
by real HTTP servers on free ports. Screenshots go to var/screenshots/."""
from __future__ import annotations

import re
import threading

import pytest

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402

from services.decision.criteria.seed import seed_starter_criteria  # noqa: E402
from services.decision.users import service as user_service  # noqa: E402
from tests.support.browser import screenshot  # noqa: E402
from tests.support.databases import make_runtime  # noqa: E402
from tests.support import audit_scenario as scenario  # noqa: E402



def serve(app):
    from werkzeug.serving import make_server

    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    return http, thread, f"http://127.0.0.1:{http.server_port}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """The decision app and intake's form, each told where the other's public pages are."""
    from services.decision.app import create_app as decision_app
    from services.intake.app import create_app as intake_app

    base = tmp_path_factory.mktemp("public")
    decision = make_runtime("decision", f"sqlite:///{base / 'decision.db'}")
    seed_starter_criteria(decision.db, backdate=True)
    user_service.provision_dev_users(decision.db)
    scenario.run(decision, scenario.plan(n=36, seed=28))  # a year of decisions (April 2025 – March 2026)
    intake = make_runtime("intake", f"sqlite:///{base / 'intake.db'}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODQ_INTAKE_FORM_RATE_LIMIT", "100 per minute")
        running = [serve(decision_app(decision)), serve(intake_app(intake))]
    urls = {"decision": running[0][2], "intake": running[1][2]}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODQ_DECISION_PUBLIC_URL", urls["decision"])
        mp.setenv("MODQ_INTAKE_PUBLIC_URL", urls["intake"])
        yield urls
    for http, thread, _ in running:
        http.shutdown()
        thread.join(5)


def sign_in_as_admin(page, base):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "admin@example.jp")
    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")


# --- the criteria editor ------------------------------------------------------------------------

def test_the_editor_edits_one_clause_at_a_time_keeps_input_and_publishes_after_a_diff(page, servers):
    base = servers["decision"]
    sign_in_as_admin(page, base)
    page.goto(f"{base}/admin/criteria")
    page.fill("#new-version-form input[name=version]", "2026.1")
    page.click("#new-version-form button[type=submit]")
    expect(page.locator("#clause-list li")).to_have_count(17)  # 16 starter clauses and 「条項を追加」
    assert page.locator("form#clause-form").count() == 1
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 1800, height  # one form, not one per clause
    page.click("#clause-link-I-1")
    expect(page.locator("#clause-editor h2")).to_contain_text("I-1")
    # 分類 is a choice among the model's labels, in Japanese
    options = page.locator("#category option").all_inner_texts()
    for name in ("侮辱（insult）", "脅迫・危害の予告（threat）", "プライバシー侵害（privacy）", "名誉毀損（defamation）",
                 "差別的言動（discrimination）", "性的な投稿（sexual）"):
        assert name in options
    assert page.locator("#category").input_value() == "insult"
    page.fill("textarea[name=text]", page.locator("textarea[name=text]").input_value() + "執拗な罵倒を含みます。")
    page.click("#save-clause")
    expect(page.locator(".flash")).to_contain_text("I-1 を保存しました")
    # a new clause with no measure: refused, and nothing typed is lost
    page.click("#add-clause")
    page.fill("input[name=clause_id]", "G-1")
    page.fill("input[name=title]", "選挙運動に関する虚偽")
    page.fill("textarea[name=text]", "候補者について虚偽の事実を示す投稿。")
    page.select_option("#category", "defamation")
    page.click("#save-clause")
    expect(page.locator("#clause-error")).to_contain_text("措置を1つ以上選んでください")
    assert page.locator("input[name=clause_id]").input_value() == "G-1"
    assert page.locator("input[name=title]").input_value() == "選挙運動に関する虚偽"
    assert page.locator("#category").input_value() == "defamation"
    page.check("input[name=measures][value=hide]")
    page.click("#save-clause")
    expect(page.locator(".flash")).to_contain_text("G-1 を保存しました")
    screenshot(page, "criteria-editor")
    page.click("#publish-button")
    expect(page.locator("#change-I-1 ins")).to_contain_text("執拗な罵倒を含みます。")
    expect(page.locator("#change-G-1")).to_contain_text("追加")
    assert page.locator("[id^=change-]").count() == 2
    screenshot(page, "criteria-publish-confirmation")
    page.click("#confirm-publish")
    expect(page.locator(".flash")).to_contain_text("版 2026.1 を公表しました")


def test_an_unchanged_draft_cannot_be_published(page, servers):
    base = servers["decision"]
    sign_in_as_admin(page, base)
    page.goto(f"{base}/admin/criteria")
    page.fill("#new-version-form input[name=version]", "2026.9")
    page.click("#new-version-form button[type=submit]")
    page.click("#publish-button")
    expect(page.locator("#no-changes")).to_be_visible()
    assert page.locator("#confirm-publish").count() == 0


# --- the public pages ---------------------------------------------------------------------------

def test_the_transparency_report_is_a_public_styled_printable_page(page, servers):
    base = servers["decision"]
    page.goto(f"{base}/v1/transparency")  # a browser on the API's address, not signed in
    expect(page).to_have_url(re.compile(r"/transparency$"))
    expect(page.locator("h1")).to_contain_text("第28条に基づく運用状況の公表")
    text = page.inner_text("body")
    for internal in ("null", "MODQ_", "notice_exceptions", "ai_assisted", "N1", "p50"):
        assert internal not in text, internal
    # captions read on one line, not one or two characters a line
    caption = page.locator("caption").first.bounding_box()
    assert caption["width"] > 200 and caption["height"] < 40, caption
    assert page.evaluate("getComputedStyle(document.body).fontFamily").count("Noto") >= 1
    page.click("text=2025年度")
    expect(page.locator(".period")).to_contain_text("2025-04-01 から 2026-04-01 の前日まで")
    assert int(page.locator("section .total strong").first.inner_text()) > 0  # the year's requests
    screenshot(page, "transparency-top", full_page=False)
    screenshot(page, "transparency")
    page.emulate_media(media="print")
    assert page.locator(".public-links").is_hidden()
    screenshot(page, "transparency-print-top", full_page=False)
    screenshot(page, "transparency-print")
    page.emulate_media(media="screen")
    page.click("text=削除基準（第26条）")
    expect(page).to_have_url(re.compile(r"/criteria$"))
    assert "スターター" not in page.inner_text("body")
    page.click("#link-transparency")
    expect(page).to_have_url(re.compile(r"/transparency$"))


def test_the_request_form_states_the_personal_data_policy_links_the_criteria_and_gives_a_short_number(
        page, servers):
    page.goto(f"{servers['intake']}/request")
    expect(page.locator("#personal-data")).to_contain_text("保存する期間")
    screenshot(page, "request-form")
    page.fill("input[name=post_url]", "https://sns.example.jp/posts/p-42")
    page.check("input[name=right][value=名誉権]")
    page.fill("textarea[name=reason]", "私の実名を挙げて、やってもいない犯罪をしたと書いています")
    page.check("input[name=role][value=self]")
    page.fill("input[name=name]", "山田 花子")
    page.fill("input[name=contact]", "hanako@example.jp")
    page.click("button[type=submit]")
    number = page.locator("#receipt-number").inner_text()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", number), number
    screenshot(page, "request-receipt")
    page.click(".links a:has-text('削除基準')")
    expect(page).to_have_url(re.compile(r"/criteria$"))
    expect(page.locator("#link-request")).to_have_attribute("href", re.compile(r"/request$"))
