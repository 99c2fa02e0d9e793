"""Team work around a case: reason templates per clause (operator-edited), moderators' internal
notes on a case, assignments, saved queue filters and each moderator's viewing settings.

Notes and template edits go into the audit log; none of this ever reaches a notice by itself
(a template only fills the form, and the moderator submits what the form then says)."""
from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import utcnow
from services.decision.audit import chain as auditlog
from services.decision.casework.models import CaseAssignment, CaseNote, ReasonTemplate, SavedFilter, ViewerSetting
from services.decision.errors import DecisionRefused
from services.decision.users.models import User

NOTE_MAX = 5000
TEMPLATE_MAX = 5000
# Templates for the answers that cite no clause (措置なし and the extensions) sit beside the clauses'.
ACTION_TEMPLATE_KEYS = ("no_action", "poster_inquiry", "refer_specialist", "delay_other")
TEMPLATE_FIELDS = ("internal_note", "requester_text", "poster_text")
FILTER_KEYS = ("kind", "category", "view", "near_deadline", "mine", "assigned", "q", "waiting")


# --- assignment ---------------------------------------------------------------------------

ASSIGNABLE_ROLES = ("moderator", "specialist", "supervisor", "admin")


def assignees(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.role.in_(ASSIGNABLE_ROLES), User.active.is_(True))
                                .order_by(User.email)))


def assign(session: Session, case_id: str, assignee_id: int | None, actor: User,
           now: dt.datetime | None = None) -> None:
    """Give the case to ``assignee_id`` (None takes the assignment away); audited."""
    now = now or utcnow()
    current = session.get(CaseAssignment, case_id)
    if assignee_id is None:
        if current is not None:
            session.delete(current)
    else:
        assignee = session.get(User, assignee_id)
        if assignee is None or assignee.role not in ASSIGNABLE_ROLES or not assignee.active:
            raise DecisionRefused("割り当てられる担当者ではありません。", "assignee")
        if current is None:
            current = CaseAssignment(case_id=case_id, user_id=assignee_id, assigned_by=actor.pseudonym,
                                     assigned_at=now)
            session.add(current)
        current.user_id, current.assigned_by, current.assigned_at = assignee_id, actor.pseudonym, now
    assignee_pseudonym = session.get(User, assignee_id).pseudonym if assignee_id else None
    auditlog.append_audit(session, case_id=case_id, event_type="case.assigned", actor=actor.pseudonym, at=now,
                          payload={"assignee": assignee_pseudonym})
    session.flush()


def end_assignment(session: Session, case_id: str, *, actor: str, why: str, now: dt.datetime) -> None:
    """An assignment is for deciding the case: it ends when the case is decided, and a case
    that a new report reopens goes back to the shared queue rather than to whoever had it
    before (they may be away, and the new report may need someone else). Audited."""
    current = session.get(CaseAssignment, case_id)
    if current is None:
        return
    session.delete(current)
    auditlog.append_audit(session, case_id=case_id, event_type="case.assignment_ended", actor=actor, at=now,
                          payload={"assignee_id": current.user_id, "why": why})


def assignments(session: Session, case_ids) -> dict[str, int]:
    ids = list(case_ids)
    if not ids:
        return {}
    rows = session.execute(sa.select(CaseAssignment.case_id, CaseAssignment.user_id)
                           .where(CaseAssignment.case_id.in_(ids))).all()
    return dict(rows)


def assigned_to(user_id: int):
    """A queue condition: the cases given to this user."""
    from services.decision.cases.models import Case

    return sa.exists().where(CaseAssignment.case_id == Case.id, CaseAssignment.user_id == user_id)


# --- reason templates ---------------------------------------------------------------------

def reason_templates(session: Session) -> dict[str, dict]:
    rows = session.scalars(sa.select(ReasonTemplate)).all()
    return {t.key: {f: getattr(t, f) for f in TEMPLATE_FIELDS} for t in rows}


def save_reason_template(session: Session, key: str, fields: dict, actor: str,
                         now: dt.datetime | None = None) -> ReasonTemplate:
    now = now or utcnow()
    key = (key or "").strip()
    if not key or len(key) > 32:
        raise DecisionRefused("定型文の対象（条項ID）を指定してください。", "key")
    values = {f: (fields.get(f) or "").strip() for f in TEMPLATE_FIELDS}
    too_long = [f for f, v in values.items() if len(v) > TEMPLATE_MAX]
    if too_long:
        raise DecisionRefused(f"定型文は{TEMPLATE_MAX}文字以内です。", too_long[0])
    template = session.get(ReasonTemplate, key)
    if template is None:
        template = ReasonTemplate(key=key, updated_by=actor, updated_at=now)
        session.add(template)
    for field, value in values.items():
        setattr(template, field, value)
    template.updated_by, template.updated_at = actor, now
    auditlog.append_audit(session, case_id=None, event_type="reason_template.saved", actor=actor, at=now,
                          payload={"key": key, **values})
    session.flush()
    return template


# --- internal notes -----------------------------------------------------------------------

def add_note(session: Session, case_id: str, user: User, text: str, now: dt.datetime | None = None) -> CaseNote:
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise DecisionRefused("メモの内容を入力してください。", "text")
    if len(text) > NOTE_MAX:
        raise DecisionRefused(f"メモは{NOTE_MAX}文字以内です。", "text")
    note = CaseNote(id=str(uuid.uuid4()), case_id=case_id, author_id=user.id, text=text, created_at=now)
    session.add(note)
    auditlog.append_audit(session, case_id=case_id, event_type="case.note_added", actor=user.pseudonym, at=now,
                          payload={"note_id": note.id, "text": text})
    session.flush()
    return note


def notes_of(session: Session, case_id: str) -> list[tuple[CaseNote, User]]:
    return list(session.execute(sa.select(CaseNote, User).join(User, User.id == CaseNote.author_id)
                                .where(CaseNote.case_id == case_id).order_by(CaseNote.created_at)).tuples())


# --- saved filters and settings -----------------------------------------------------------

def filter_query(args) -> str:
    """The queue's filters as a query string (only the known keys, in a fixed order)."""
    return urlencode([(k, args.get(k)) for k in FILTER_KEYS if args.get(k)])


def save_filter(session: Session, user: User, name: str, args) -> SavedFilter:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DecisionRefused("絞り込みの名前を100文字以内で入力してください。", "name")
    query = filter_query(args)
    saved = session.scalar(sa.select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name))
    if saved is None:
        saved = SavedFilter(user_id=user.id, name=name, query=query)
        session.add(saved)
    saved.query = query
    session.flush()
    return saved


def saved_filters(session: Session, user_id: int) -> list[SavedFilter]:
    return list(session.scalars(sa.select(SavedFilter).where(SavedFilter.user_id == user_id)
                                .order_by(SavedFilter.name)))


def delete_filter(session: Session, user_id: int, filter_id: int) -> None:
    session.execute(sa.delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.user_id == user_id))


def reveals_media(session: Session, user_id: int) -> bool:
    setting = session.get(ViewerSetting, user_id)
    return bool(setting and setting.reveal_media)


def set_reveal_media(session: Session, user_id: int, reveal: bool) -> None:
    setting = session.get(ViewerSetting, user_id) or ViewerSetting(user_id=user_id)
    setting.reveal_media = reveal
    session.add(setting)
    session.flush()
