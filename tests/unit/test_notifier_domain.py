"""The notifier's pure rules (services/notifier/domain.py), without a database."""
from __future__ import annotations

from services.notifier import domain


def test_the_measures_that_restrict_a_post_are_every_measure_but_no_action():
    assert set(domain.MEASURES_TAKEN) == {"remove", "hide", "suspend_account"}


def test_an_excerpt_is_one_line_and_cut_with_an_ellipsis():
    assert domain.excerpt("あ\nい  う") == "あ い う"
    assert domain.excerpt("x" * 61) == "x" * 60 + "…"
    assert domain.excerpt("  ") is None and domain.excerpt(None) is None


def test_originals_come_before_repeats_then_by_receipt():
    refs = [{"kind": "deletion_request", "is_repeat": True, "received_at": "2026-06-01"},
            {"kind": "report", "received_at": "2026-05-01"},
            {"kind": "deletion_request", "is_repeat": False, "received_at": "2026-06-03"},
            {"kind": "deletion_request", "is_repeat": False, "received_at": "2026-06-02"}]
    ordered = domain.deletion_requests_in_order({"requests": refs})
    assert [(r["is_repeat"], r["received_at"]) for r in ordered] == [
        (False, "2026-06-02"), (False, "2026-06-03"), (True, "2026-06-01")]


def test_the_scope_of_a_measure_in_words():
    assert domain.scope_text(None) is None and domain.scope_text({}) is None
    assert domain.scope_text({"items": ["画像1", "画像2"], "visibility": "japan_only"}) == \
        "一部（画像1、画像2）／日本国内からの閲覧のみ制限"


def test_the_short_inquiry_window_only_when_every_request_allows_it():
    election = {"request_type": "election", "right_infringed": "名誉権"}
    assert domain.inquiry_request_type([election]) == "election"
    assert domain.inquiry_request_type([election, {"request_type": "ordinary"}]) == "ordinary"
    assert domain.inquiry_request_type([{"request_type": "election", "right_infringed": "プライバシー権"}]) == "ordinary"


def test_same_content_is_the_same_post_or_nearly_the_same_text():
    assert domain.same_content({"post_id": "p1"}, {"id": "p1", "text": "全く別"})
    assert domain.same_content({"post_id": "p1", "post_text": "お前なんか消えろ"}, {"id": "p2", "text": "お前なんか 消えろ"})
    assert domain.same_content({"post_text": "お前なんか消えろ！！"}, {"id": "p2", "text": "お前なんか消えろ！"})
    assert not domain.same_content({"post_text": "今日はいい天気"}, {"id": "p2", "text": "お前なんか消えろ"})
    assert not domain.same_content({"post_text": ""}, {"id": "p2", "text": ""})


def test_requests_for_the_same_right_in_other_widths_are_the_same_request():
    assert domain.same_request_key("名誉権") == domain.same_request_key("名誉 権")
