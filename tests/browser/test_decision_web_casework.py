"""The queue, case page and decision form as a trust-and-safety team uses them, in Debian's
Chromium: a refused form keeps its input, the form shows only what the measure needs, reason
templates, one-key submit-and-next with the notices summed up, the queue's explanations,
search and saved filters, cases waiting on the poster kept out of the way, requester standing,
blurred media, the poster's history, readable audit entries, claims and internal notes.
Screenshots go to var/screenshots/."""
from __future__ import annotations

import base64
import datetime as dt
import re
import struct
import uuid
import zlib

import pytest
import sqlalchemy as sa

from tests.browser.test_decision_web import feed, screenshot, server, sign_in  # noqa: F401

from playwright.sync_api import expect  # noqa: E402

from shared.clock import s25_deadline  # noqa: E402
from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event  # noqa: E402
from services.decision.audit.models import AuditEvent  # noqa: E402
from services.decision.cases import service as case_service  # noqa: E402
from services.decision.cases.models import Case  # noqa: E402
from services.decision.criteria.seed import seed_starter_criteria  # noqa: E402
from services.decision.decisions import service as decision_service  # noqa: E402
from services.decision.decisions.domain import DecisionInput  # noqa: E402
from services.decision.users import service as user_service  # noqa: E402
from services.decision.users.models import User  # noqa: E402
from tests.support.databases import make_runtime  # noqa: E402

pytestmark = pytest.mark.browser
UTC = dt.timezone.utc


def png(width=48, height=32) -> str:
    """A small red PNG as a data: URL (the page's CSP allows data: images)."""
    raw = b"".join(b"\x00" + b"\xd0\x20\x20" * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    body = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(body).decode()


def report(case_id, text, *, author="u-alpha", kind="deletion_request", hours_ago=3.0, reporter=None,
           agent_authority=None, media=(), reason_category=None, report_id=None):
    received = dt.datetime.now(UTC) - dt.timedelta(hours=hours_ago)
    return make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": report_id or str(uuid.uuid4()), "case_id": case_id, "kind": kind, "treated_as": kind,
        "received_at": received.isoformat(),
        "deadline_at": s25_deadline(received).isoformat() if kind == "deletion_request" else None,
        "post": {"id": f"p-{case_id}", "url": f"https://sns.example.jp/posts/{case_id}", "author_id": author,
                 "text": text, "posted_at": received.isoformat(), "media": list(media)},
        "reporter": {"id": reporter or f"req-{case_id}", "contact": "mail:r@example.jp",
                     "is_rights_holder": kind == "deletion_request" and not agent_authority,
                     "agent_authority": agent_authority},
        "reason": "私への誹謗中傷です", "reason_category": reason_category,
        "right_infringed": "名誉権" if kind == "deletion_request" else None})


def scored(event, category, score):
    return make_event(REPORT_SCORED, source="/t", subject=event.subject, data={
        "report_id": event.data["report_id"], "case_id": event.subject, "score": score,
        "categories": {category: score, "none": round(1 - score, 3)}, "model_version": "tiny-1",
        "scored_at": dt.datetime.now(UTC).isoformat()})


def add(runtime, case_id, text, category, score, **kw):
    first = report(case_id, text, **kw)
    feed(runtime, first, scored(first, category, score))
    return first


def user(runtime, role):
    with runtime.db.sessions() as s:
        found = s.scalar(sa.select(User).where(User.email == f"{role}@example.jp"))
        s.expunge(found)
        return found


def decide_now(runtime, case_id, data: DecisionInput, role="supervisor"):
    who = user(runtime, role)
    case_service.claim_case(runtime.db, case_id, who)
    return decision_service.record_decision(runtime.db, case_id, who, data)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    runtime = make_runtime("decision", f"sqlite:///{tmp_path_factory.mktemp('casework') / 'decision.db'}")
    seed_starter_criteria(runtime.db, backdate=True)
    user_service.provision_dev_users(runtime.db)
    add(runtime, "c-threat", "明日駅前で刺してやる、覚悟しておけ", "threat", 0.93, kind="report", author="u-bravo",
        reason_category="violence")
    add(runtime, "c-insult", "お前は本当に無能だな", "insult", 0.95, kind="report", author="u-charlie")
    add(runtime, "c-agent", "○○社の社長は脱税している", "defamation", 0.7, agent_authority="弁護士（委任状あり）",
        media=[{"id": "m1", "url": png(), "type": "image"}], hours_ago=30)
    add(runtime, "c-form", "駅前の店長は泥棒だ", "defamation", 0.9, report_id="7f3a9c00-1111-4222-8333-444455556666")
    add(runtime, "c-keep", "あいつの住所は東京都○○区", "privacy", 0.6)
    add(runtime, "c-waiting", "この人の電話番号は090-xxxx", "privacy", 0.99, hours_ago=5)
    add(runtime, "c-past", "前に削除された投稿", "insult", 0.5, kind="report", author="u-alpha")
    decide_now(runtime, "c-waiting", DecisionInput(action="poster_inquiry", reason="照会する", facts="番号の公開について"))
    decide_now(runtime, "c-past", DecisionInput(action="suspend_account", reason="繰り返しの侮辱",
                                                exception_code="legal_duty", suspension_permanent=True,
                                                facts="繰り返し侮辱したため"))
    return runtime


def test_a_refused_form_keeps_every_input_and_says_why_in_japanese(page, server):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-keep")
    page.click("#claim-button")
    page.check("input[name=measure][value=remove]")
    page.fill("textarea[name=reason]", "住所の晒し。内部メモ")
    page.fill("textarea[name=facts]", "住所を公開したため削除しました")
    page.fill("input[name=scope_items]", "")
    page.click("#decide-button")  # no clause and no exception code
    error = page.locator("#form-error")
    expect(error).to_contain_text("措置には公表済み基準の条項か例外コードが必要です")
    assert not re.search(r"[A-Za-z§]", error.inner_text()), error.inner_text()
    expect(page.locator("input[name=measure][value=remove]")).to_be_checked()
    expect(page.locator("textarea[name=reason]")).to_have_value("住所の晒し。内部メモ")
    expect(page.locator("textarea[name=facts]")).to_have_value("住所を公開したため削除しました")
    expect(page.locator("div.field.invalid select[name=clause_id]")).to_have_count(1)


def test_the_form_shows_only_what_the_measure_needs(page, server):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-keep")
    page.locator("html[data-case-form=on]").wait_for(state="attached")
    page.check("input[name=measure][value=no_action]")
    expect(page.locator("#clause_id")).to_be_hidden()
    expect(page.locator("input[name=suspension_until]")).to_be_hidden()
    expect(page.locator("textarea[name=requester_reason]")).to_be_visible()
    expect(page.locator("textarea[name=facts]")).to_be_hidden()
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("3")  # the third measure: アカウント停止
    expect(page.locator("input[name=measure][value=suspend_account]")).to_be_checked()
    expect(page.locator("input[name=suspension_until]")).to_be_visible()
    expect(page.locator("#clause_id")).to_be_visible()
    expect(page.locator("textarea[name=requester_reason]")).to_be_hidden()


def test_reason_templates_fill_the_three_texts_apart(page, server, runtime):
    sign_in(page, server, "supervisor")
    page.goto(f"{server}/reason-templates")
    section = page.locator("#t-D-1")
    section.locator("textarea[name=internal_note]").fill("具体的事実の摘示による名誉毀損（D-1）")
    section.locator("textarea[name=requester_text]").fill("お申出の投稿は基準D-1に該当するため削除しました。")
    section.locator("textarea[name=poster_text]").fill("根拠を示さず他人の犯罪を断定する投稿のため削除しました。")
    section.locator("button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("定型文 D-1 を保存しました")
    with runtime.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "reason_template.saved")) == 1
    page.goto(f"{server}/cases/c-form")
    page.locator("html[data-case-form=on]").wait_for(state="attached")
    page.check("input[name=measure][value=remove]")
    page.select_option("#clause_id", "D-1")
    expect(page.locator("textarea[name=reason]")).to_have_value("具体的事実の摘示による名誉毀損（D-1）")
    expect(page.locator("textarea[name=facts]")).to_have_value("根拠を示さず他人の犯罪を断定する投稿のため削除しました。")


def test_moderators_cannot_edit_templates(page, server):
    sign_in(page, server)
    response = page.request.get(f"{server}/reason-templates", headers={"Accept": "text/html"})
    assert response.status == 403


def test_one_key_records_and_opens_the_next_case_with_the_notices_summed_up(page, server, runtime):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-form")
    page.click("#claim-button")
    page.locator("html[data-case-form=on]").wait_for(state="attached")
    page.check("input[name=measure][value=remove]")
    page.select_option("#clause_id", "D-1")
    page.fill("textarea[name=reason]", "窃盗の断定")
    page.fill("textarea[name=facts]", "根拠なく犯罪を断定したため")
    page.locator("textarea[name=reason]").press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/cases/(?!c-form)"))
    summary = page.locator("#decided-summary")
    expect(summary).to_contain_text("決定を記録しました")
    expect(summary).to_contain_text("N1")
    expect(summary).to_contain_text("7f3a9c00")  # the requester's 受付番号
    expect(summary).to_contain_text("N4")
    expect(page.locator("#decided-case-link")).to_have_attribute("href", "/cases/c-form")
    screenshot(page, "case-after-decision")


def test_queue_explains_itself(page, server):
    sign_in(page, server)
    row = page.locator("tr[data-case-id=c-threat]")
    expect(row).to_contain_text("脅迫・暴力予告")
    expect(row).not_to_contain_text("threat")
    expect(row.locator("td.poster")).to_contain_text("u-bravo")
    row.locator("details.why summary").click()
    expect(row.locator("details.why")).to_contain_text("暴力予告の可能性が高い")
    expect(row.locator("details.why")).to_contain_text("分類器スコア")
    agent = page.locator("tr[data-case-id=c-agent]")
    expect(agent.locator("td.deadline")).to_contain_text(re.compile(r"あと\d+日"))
    expect(agent.locator("td.age")).to_contain_text("1日6時間")
    expect(agent.locator("td").nth(3)).to_have_text("1")  # one medium
    # headers stay on one line
    for th in page.locator("#queue thead th").all():
        assert th.bounding_box()["height"] < 40, th.inner_text()
    screenshot(page, "queue-explained")


def test_a_credible_threat_outranks_a_more_confident_insult(page, server, runtime):
    with runtime.db.sessions() as s:
        threat, insult = s.get(Case, "c-threat"), s.get(Case, "c-insult")
        assert threat.priority > insult.priority
    sign_in(page, server)
    ids = page.locator("#queue tbody tr[data-case-id]").evaluate_all("rows => rows.map(r => r.dataset.caseId)")
    assert ids.index("c-threat") < ids.index("c-insult")


def test_cases_waiting_for_the_poster_stay_out_of_the_list_and_of_n(page, server):
    sign_in(page, server)
    expect(page.locator("tr[data-case-id=c-waiting]")).to_have_count(0)
    page.check("#waiting")
    page.click("#filters button[type=submit]")
    expect(page.locator("tr[data-case-id=c-waiting]")).to_have_count(1)
    for _ in range(3):
        page.goto(f"{server}/queue/next")
        assert "/cases/c-waiting" not in page.url


def test_search_and_saved_filters(page, server):
    sign_in(page, server)
    page.locator("html[data-shortcuts=on]").wait_for(state="attached")
    page.keyboard.press("/")
    page.keyboard.type("u-bravo")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=u-bravo"))
    expect(page.locator("#queue tbody tr[data-case-id]")).to_have_count(1)
    expect(page.locator("tr[data-case-id=c-threat]")).to_have_count(1)
    page.fill("#search", "脱税")
    page.click("#filters button[type=submit]")
    expect(page.locator("tr[data-case-id=c-agent]")).to_have_count(1)
    expect(page.locator("#queue tbody tr[data-case-id]")).to_have_count(1)
    page.fill("#search", "%")
    page.click("#filters button[type=submit]")
    expect(page.locator("#queue tbody tr[data-case-id]")).to_have_count(0)
    page.fill("#search", "u-bravo")
    page.click("#filters button[type=submit]")
    page.fill("#save-filter input[name=name]", "暴力予告の投稿者")
    page.click("#save-filter button[type=submit]")
    page.goto(f"{server}/queue")
    page.click("text=暴力予告の投稿者")
    expect(page).to_have_url(re.compile(r"q=u-bravo"))
    expect(page.locator("#queue tbody tr[data-case-id]")).to_have_count(1)


def test_search_by_request_number(page, server, runtime):
    add(runtime, "c-byid", "受付番号で探す投稿", "insult", 0.3, report_id="abcd1234-0000-4000-8000-000000000000")
    sign_in(page, server)
    page.goto(f"{server}/queue?q=abcd1234")
    expect(page.locator("#queue tbody tr[data-case-id]")).to_have_count(1)
    expect(page.locator("tr[data-case-id=c-byid]")).to_have_count(1)


def test_case_page_standing_media_history_audit(page, server):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-agent")
    expect(page.locator("td.standing")).to_contain_text("代理人")
    expect(page.locator("td.standing")).to_contain_text("弁護士（委任状あり）")
    image = page.locator("#media img")
    expect(image).to_have_css("filter", re.compile(r"blur.*grayscale"))
    screenshot(page, "case-page")
    page.locator("#media .media-cover").click()
    expect(image).to_have_css("filter", "none")
    expect(page.locator("#poster-suspended")).to_contain_text("アカウント停止中")
    expect(page.locator("#poster-history")).to_contain_text("アカウント停止")
    history = page.locator("#audit-history")
    expect(history).to_contain_text("分類器が採点")
    expect(history).not_to_contain_text("report.scored")
    page.goto(f"{server}/cases/c-threat")
    expect(page.locator("table")).to_contain_text("violence")  # the reporter's own words stay
    expect(page.locator(".scores")).to_contain_text("脅迫・暴力予告")


def test_media_setting_shows_media_as_they_are(page, server):
    sign_in(page, server, "specialist")
    page.goto(f"{server}/cases/c-agent")
    page.click("#media-setting button")
    expect(page.locator("#media img")).to_have_css("filter", "none")
    page.click("#media-setting button")
    expect(page.locator("#media img")).to_have_css("filter", re.compile("blur"))


def test_claim_shows_the_holder_and_release_gives_it_back(page, server, browser):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-insult")
    page.click("#claim-button")
    expect(page.locator("#claim-holder")).to_contain_text("自分")
    other = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP").new_page()
    sign_in(other, server, "supervisor")
    expect(other.locator("tr[data-case-id=c-insult]")).to_contain_text("担当中: moderator")
    other.goto(f"{server}/cases/c-insult")
    expect(other.locator("#case-holder")).to_contain_text("moderator")
    page.click("#release-button")
    expect(page.locator(".flash")).to_contain_text("担当を解除しました")
    other.goto(f"{server}/queue")
    expect(other.locator("tr[data-case-id=c-insult]")).not_to_contain_text("担当中")
    other.context.close()


def test_internal_notes_are_kept_and_audited(page, server, runtime, browser):
    sign_in(page, server)
    page.goto(f"{server}/cases/c-threat")
    page.fill("#note-form textarea", "警察への通報を検討。<b>太字</b>")
    page.click("#note-form button")
    expect(page.locator("ul.notes")).to_contain_text("警察への通報を検討。<b>太字</b>")
    expect(page.locator("ul.notes")).to_contain_text("moderator")
    expect(page.locator("#audit-history")).to_contain_text("内部メモを追加")
    with runtime.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == "c-threat", AuditEvent.event_type == "case.note_added")) == 1
    page.click("#note-form button")  # empty: the browser's own check keeps it
    auditor = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP").new_page()
    sign_in(auditor, server, "auditor")
    auditor.goto(f"{server}/cases/c-threat")
    expect(auditor.locator("ul.notes")).to_contain_text("警察への通報を検討")
    expect(auditor.locator("#note-form")).to_have_count(0)
    token = auditor.locator("input[name=csrf_token]").first.get_attribute("value")
    response = auditor.request.post(f"{server}/cases/c-threat/notes", headers={"Accept": "text/html"},
                                    form={"csrf_token": token, "text": "auditor note"})
    assert response.status == 403
    auditor.context.close()


def test_a_supervisor_assigns_a_case_and_n_hands_it_only_to_the_assignee(page, server, runtime, browser):
    sign_in(page, server, "supervisor")
    page.goto(f"{server}/cases/c-threat")
    page.select_option("#assign-form select", label="specialist")
    page.click("#assign-form button")
    expect(page.locator("#assignee")).to_have_text("specialist")
    expect(page.locator("#audit-history")).to_contain_text("担当者を割り当て")
    page.goto(f"{server}/queue")
    expect(page.locator("tr[data-case-id=c-threat]")).to_contain_text("割当: specialist")
    moderator = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP").new_page()
    sign_in(moderator, server, "moderator")
    moderator.goto(f"{server}/queue/next")
    assert "/cases/c-threat" not in moderator.url
    moderator.context.close()
    specialist = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP").new_page()
    sign_in(specialist, server, "specialist")
    specialist.goto(f"{server}/queue?assigned=me")
    expect(specialist.locator("#queue tbody tr[data-case-id]")).to_have_count(1)
    specialist.goto(f"{server}/queue/next")
    expect(specialist).to_have_url(f"{server}/cases/c-threat")
    specialist.context.close()
    response = page.request.post(f"{server}/cases/c-threat/assign", headers={"Accept": "text/html"}, form={
        "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value"), "assignee": "999"})
    assert response.status == 200 and "割り当てられる担当者ではありません" in response.text()


def test_a_new_urgent_case_is_announced_on_an_open_queue_page(page, server, runtime):
    sign_in(page, server)
    page.goto(f"{server}/queue?poll=2")
    page.locator("html[data-urgent-push=on]").wait_for(state="attached")
    expect(page.locator("#urgent-push")).to_be_hidden()
    add(runtime, "c-new-threat", "<b>今夜</b>お前の家に火をつける", "threat", 0.96, kind="report", author="u-delta")
    add(runtime, "c-new-mild", "ちょっと言い過ぎでは", "insult", 0.4, kind="report", author="u-echo")
    push = page.locator("#urgent-push")
    expect(push).to_be_visible(timeout=10_000)
    expect(push).to_contain_text("<b>今夜</b>お前の家に火をつける")  # shown as text
    expect(push).not_to_contain_text("ちょっと言い過ぎでは")
    expect(page.locator("#urgent-count")).to_have_text("1")
    assert page.locator("#urgent-list b").count() == 0
    response = page.request.get(f"{server}/queue/urgent?since=yesterday")
    assert response.status == 400


def test_bulk_action_on_a_spam_wave_previews_then_decides_each_case_on_its_own(page, server, runtime):
    spam = "今だけ無料！ここをクリック http://spam.example/"
    for n in range(3):
        add(runtime, f"c-spam-{n}", f"{spam} #{n}", "insult", 0.3, kind="report", author=f"u-spam-{n}",
            hours_ago=1 + n)
    add(runtime, "c-spam-old", f"{spam} 昔の", "insult", 0.3, kind="report", author="u-spam-x", hours_ago=60)
    sign_in(page, server)
    page.goto(f"{server}/cases/c-spam-0")
    page.click("#bulk-links >> text=スパムの波")
    rows = page.locator("#bulk-cases tbody tr[data-case-id]")
    expect(rows).to_have_count(3)  # the one from 60 hours ago is not part of this wave
    page.uncheck("tr[data-case-id=c-spam-2] input[name=case_ids]")
    page.check("#bulk-form input[name=measure][value=remove]")
    page.fill("#bulk-form textarea[name=reason]", "スパムの一斉投稿")
    page.click("#bulk-submit")  # no clause: refused for the whole form, input kept
    expect(page.locator("#form-error")).to_contain_text("条項か例外コード")
    expect(page.locator("#bulk-form textarea[name=reason]")).to_have_value("スパムの一斉投稿")
    expect(page.locator("tr[data-case-id=c-spam-2] input[name=case_ids]")).not_to_be_checked()
    page.select_option("#bulk-form #clause_id", "X-1")
    page.fill("#bulk-form textarea[name=facts]", "同じ宣伝を繰り返し投稿したため")
    page.click("#bulk-submit")
    expect(page.locator("#bulk-results")).to_contain_text("2 件を記録")
    with runtime.db.sessions() as s:
        statuses = {c.id: c.status for c in s.scalars(sa.select(Case).where(Case.id.like("c-spam-%")))}
        assert statuses == {"c-spam-0": "decided", "c-spam-1": "decided", "c-spam-2": "open", "c-spam-old": "open"}
        from services.decision.decisions.models import Decision
        decisions = s.scalars(sa.select(Decision).where(Decision.case_id.in_(["c-spam-0", "c-spam-1"]))).all()
        assert len({d.id for d in decisions}) == 2 and all(d.clause_id == "X-1" for d in decisions)
        bulk_entries = s.scalars(sa.select(AuditEvent).where(AuditEvent.event_type == "decision.bulk")).all()
        assert sorted(e.case_id for e in bulk_entries) == ["c-spam-0", "c-spam-1"]
    page.goto(f"{server}/cases/c-spam-1")
    expect(page.locator("#audit-history")).to_contain_text("まとめて対応の一件として決定")
