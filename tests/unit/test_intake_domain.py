"""Intake's pure rules (services/intake/domain.py), without a database."""
from __future__ import annotations

import datetime as dt

from shared import clock
from services.intake import domain
from services.intake.domain import Accepted, SignatureReplayed, Submission
from tests.support.helpers import report_body

NOW = dt.datetime(2026, 6, 2, 3, 0, tzinfo=dt.timezone.utc)


def submission(body=None, key="k1", signature=None, client="demo") -> Submission:
    return Submission(body or report_body(), client, key, "http", NOW, signature)


def test_a_deletion_request_needs_the_rights_holder_and_the_right():
    assert domain.classify_submission(report_body("deletion_request", rights_holder=True)) == ("deletion_request", None)
    treated, note = domain.classify_submission(report_body("deletion_request", rights_holder=False))
    assert treated == "report" and "権利者本人" in note
    treated, note = domain.classify_submission(report_body("deletion_request", rights_holder=True, right_infringed=" "))
    assert treated == "report" and "侵害された権利" in note
    assert domain.classify_submission(report_body()) == ("report", None)


def test_the_same_right_in_other_widths_and_spacing_is_the_same_request():
    assert domain.same_request_key("名誉権") == domain.same_request_key(" 名誉 権 ")
    assert domain.same_request_key("Privacy") == domain.same_request_key("ｐｒｉｖａｃｙ")
    assert domain.same_request_key("名誉権") != domain.same_request_key("プライバシー権")


def test_the_evidence_hash_does_not_depend_on_key_order():
    assert domain.evidence_hash({"id": "p", "text": "t"}) == domain.evidence_hash({"text": "t", "id": "p"})
    assert domain.evidence_hash({"id": "p", "text": "t"}) != domain.evidence_hash({"id": "p", "text": "u"})


def test_a_new_deletion_request_starts_the_s25_clock_and_a_second_one_is_a_repeat():
    body = report_body("deletion_request", post_id="p-1", reporter_id="u-1", rights_holder=True)
    first, second, other_right = domain.new_reports(
        [submission(body), submission(body, "k2"), submission({**body, "right_infringed": "プライバシー権"}, "k3")],
        set())
    assert first.case_id == second.case_id == domain.case_id_for_post("p-1")
    assert first.deadline_at == clock.s25_deadline(NOW) and first.received_at == NOW
    assert (first.is_repeat, second.is_repeat, other_right.is_repeat) == (False, True, False)
    assert set(first.row()) == set(domain.COLUMNS) and first.row()["post"] is body["post"]  # not copied


def test_a_deletion_request_stored_before_makes_the_new_one_a_repeat():
    body = report_body("deletion_request", post_id="p-1", reporter_id="u-1", rights_holder=True)
    earlier = {(domain.case_id_for_post("p-1"), "u-1", domain.same_request_key("名誉権"))}
    (record,) = domain.new_reports([submission(body)], earlier)
    assert record.is_repeat and domain.result_of(record)["is_repeat"] is True


def test_a_batch_writes_a_key_once_refuses_a_replayed_signature_and_returns_stored_results():
    stored_record = domain.new_report(submission(key="old"))
    batch = [submission(key="old"), submission(key="a", signature="s1"), submission(key="b", signature="s1"),
             submission(key="a", signature="s2"), submission(key=None)]
    outcomes, fresh, later = domain.plan_batch(batch, {("demo", "old"): stored_record})
    assert outcomes[0] == Accepted(domain.result_of(stored_record), created=False)
    assert isinstance(outcomes[2], SignatureReplayed)
    assert fresh == [1, 4] and later == {3: 1}
    outcomes[1] = Accepted({"report_id": "r-a"}, created=True)
    domain.settle_later(batch, outcomes, later, store_again=lambda again: [])
    assert outcomes[3] == Accepted({"report_id": "r-a"}, created=False)


def test_a_later_duplicate_of_a_replay_is_judged_on_its_own():
    batch = [submission(key="a", signature="s1"), submission(key="a", signature="s2")]
    outcomes = [SignatureReplayed(), None]
    domain.settle_later(batch, outcomes, {1: 0}, store_again=lambda again: [Accepted({"n": len(again)}, True)])
    assert outcomes[1] == Accepted({"n": 1}, True)


def test_a_signature_is_kept_twice_the_timestamp_tolerance():
    assert domain.signature_expiry(submission()) is None
    assert domain.signature_expiry(submission(signature="s")) - NOW == dt.timedelta(seconds=600)
