"""Pure rules of the criteria (criteria/domain.py), the audit chain (audit/domain.py) and the
roles (users/roles.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from services.decision.audit import domain as chain
from services.decision.criteria import domain as criteria
from services.decision.errors import DecisionRefused
from services.decision.users import roles

CLAUSE = {"title": " 名誉毀損 ", "text": "本文", "routes": ["request"], "measures": ["remove"],
          "category": "", "examples": ["例", "  ", None]}


def test_a_clean_clause_is_trimmed():
    assert criteria.clean_clause("D-1", CLAUSE) == {
        "title": "名誉毀損", "text": "本文", "category": None, "routes": ["request"], "measures": ["remove"],
        "covers_suspension": False, "examples": ["例"]}


@pytest.mark.parametrize("clause_id, changes, field", [
    ("d-1", {}, "clause_id"), ("", {}, "clause_id"), ("D" * 33, {}, "clause_id"),
    ("D-1", {"title": ""}, "title"), ("D-1", {"text": " "}, "text"),
    ("D-1", {"routes": []}, "routes"), ("D-1", {"routes": ["rumour"]}, "routes"),
    ("D-1", {"measures": ["no_action"]}, "measures"),
    ("D-1", {"covers_suspension": True}, "covers_suspension"),
    ("D-1", {"measures": ["suspend_account"]}, "covers_suspension"),
    ("D-1", {"category": "c" * 33}, "category"),
])
def test_a_clause_is_refused_with_the_field_at_fault(clause_id, changes, field):
    with pytest.raises(DecisionRefused) as info:
        criteria.clean_clause(clause_id, {**CLAUSE, **changes})
    assert info.value.field == field


def test_criteria_are_in_force_fourteen_jst_days_after_publication():
    published = dt.datetime(2025, 6, 1, 3, 0, tzinfo=dt.timezone.utc)  # 12:00 JST on 1 June
    from_ = dt.datetime(2025, 6, 15, 15, 0, tzinfo=dt.timezone.utc)  # 00:00 JST on 16 June
    assert not criteria.criteria_in_force_since(published, from_ - dt.timedelta(microseconds=1))
    assert criteria.criteria_in_force_since(published, from_)
    assert not criteria.criteria_in_force_since(None, from_)
    assert criteria.CRITERIA_MIN_AGE <= from_ - published


def test_the_chain_hash_covers_every_field_and_the_key():
    at = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    entry = {"seq": 1, "case_id": "c", "event_type": "e", "actor": "a", "at": at, "payload": chain.canonical({"b": 1})}
    keyed = chain.chain_hash(chain.GENESIS, **entry, key=b"k")
    assert keyed == chain.chain_hash(chain.GENESIS, **entry, key=b"k")
    assert keyed != chain.chain_hash(chain.GENESIS, **entry, key=b"other")
    assert keyed != chain.chain_hash(chain.GENESIS, **entry, key=None)
    assert keyed != chain.chain_hash("1" * 64, **entry, key=b"k")
    for field, value in (("seq", 2), ("case_id", None), ("event_type", "f"), ("actor", "b"),
                         ("at", at + dt.timedelta(seconds=1)), ("payload", chain.canonical({"b": 2}))):
        assert keyed != chain.chain_hash(chain.GENESIS, **{**entry, field: value}, key=b"k"), field
    same_instant = at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert keyed == chain.chain_hash(chain.GENESIS, **{**entry, "at": same_instant}, key=b"k")


def test_canonical_json_is_sorted_compact_and_keeps_japanese():
    assert chain.canonical({"b": "削除", "a": 1}) == '{"a":1,"b":"削除"}'


def test_role_rules():
    assert all(roles.may(role, roles.CAN_DECIDE) for role in ("moderator", "specialist", "supervisor", "admin"))
    assert not roles.may("auditor", roles.CAN_DECIDE) and roles.may("auditor", roles.CAN_AUDIT)
    assert not roles.may("sns", roles.CAN_READ_QUEUE) and roles.may("sns", roles.CAN_HAND_IN_REPLIES)
    assert not roles.may("moderator", roles.CAN_OVERRIDE_CLAIM) and roles.may("supervisor", roles.CAN_OVERRIDE_CLAIM)
    assert not roles.may(None, roles.CAN_READ_QUEUE)
    every_rule = (roles.CAN_DECIDE, roles.CAN_READ_QUEUE, roles.CAN_SEE_CONTACTS, roles.CAN_AUDIT, roles.CAN_ADMIN,
                  roles.CAN_HAND_IN_REPLIES, roles.CAN_OVERRIDE_CLAIM, roles.CAN_SUBMIT_APPEALS, roles.CAN_READ_APPEALS)
    assert all(rule <= set(roles.ROLES) for rule in every_rule)
