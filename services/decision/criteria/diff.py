"""What a draft of the criteria changes against the published version it would follow, clause
by clause and, for wording, character by character (Japanese has no spaces to split words on).

Publishing asks for this first: an administrator confirms the changes they see, and a draft that
changes nothing is refused (an unchanged copy would only restart the 14 days of §26 for nothing).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.decision.errors import DecisionRefused
from services.decision.criteria.models import Clause, CriteriaVersion

CLAUSE_FIELDS = ("title", "text", "category", "routes", "measures", "covers_suspension", "examples")
WORDED_FIELDS = ("title", "text")  # long wording: shown as an inline character diff


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object
    spans: tuple[tuple[str, str], ...] = ()  # ("equal" | "delete" | "insert", text) for worded fields


@dataclass(frozen=True)
class ClauseChange:
    clause_id: str
    kind: str  # added | removed | changed
    title: str
    fields: tuple[FieldChange, ...] = ()
    text: str = ""  # an added clause's wording


def clause_values(clause: Clause) -> dict:
    return {f: getattr(clause, f) for f in CLAUSE_FIELDS}


def wording_spans(before: str, after: str) -> tuple[tuple[str, str], ...]:
    matcher = difflib.SequenceMatcher(None, before or "", after or "", autojunk=False)
    spans = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            spans.append(("delete", before[i1:i2]))
        if op in ("insert", "replace"):
            spans.append(("insert", after[j1:j2]))
        if op == "equal":
            spans.append(("equal", before[i1:i2]))
    return tuple(spans)


def _field_changes(before: dict, after: dict) -> tuple[FieldChange, ...]:
    changes = []
    for name in CLAUSE_FIELDS:
        old, new = before.get(name), after.get(name)
        if name in ("routes", "measures"):
            old, new = sorted(old or []), sorted(new or [])
        if old != new:
            spans = wording_spans(old or "", new or "") if name in WORDED_FIELDS else ()
            changes.append(FieldChange(name, old, new, spans))
    return tuple(changes)


def diff_clauses(before: list[Clause], after: list[Clause]) -> list[ClauseChange]:
    """The clauses added, removed or changed from ``before`` to ``after``, in clause id order."""
    old, new = {c.clause_id: c for c in before}, {c.clause_id: c for c in after}
    changes = []
    for clause_id in sorted(old.keys() | new.keys()):
        if clause_id not in old:
            changes.append(ClauseChange(clause_id, "added", new[clause_id].title, text=new[clause_id].text))
        elif clause_id not in new:
            changes.append(ClauseChange(clause_id, "removed", old[clause_id].title))
        else:
            fields = _field_changes(clause_values(old[clause_id]), clause_values(new[clause_id]))
            if fields:
                changes.append(ClauseChange(clause_id, "changed", new[clause_id].title, fields))
    return changes


def newest_published(session: Session) -> CriteriaVersion | None:
    """The version a new one follows: the one in force, or the one about to be (published, its
    14 days running). A draft starts as its copy."""
    return session.scalar(sa.select(CriteriaVersion).where(CriteriaVersion.status == "published")
                          .order_by(CriteriaVersion.published_at.desc()).limit(1))


def _clauses(session: Session, version: str) -> list[Clause]:
    return list(session.scalars(sa.select(Clause).where(Clause.version == version).order_by(Clause.clause_id)))


def changes_to_publish(session: Session, draft: str) -> tuple[CriteriaVersion | None, list[ClauseChange]]:
    """(the version the draft would follow, the draft's changes against it)."""
    base = newest_published(session)
    return base, diff_clauses(_clauses(session, base.version) if base else [], _clauses(session, draft))


def refuse_unchanged(session: Session, draft: str) -> None:
    base, changes = changes_to_publish(session, draft)
    if base is not None and not changes:
        raise DecisionRefused(f"この版は公表済みの版 {base.version} と同じ内容です。条項を変更してから公表してください"
                              "（nothing changed）", "version", status=409)
