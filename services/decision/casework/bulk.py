"""Acting on many cases at once: the open cases of the same poster, with the same text, or of a
spam wave (the same opening words within a day). The moderator sees the cases first and picks
them; each picked case is then claimed and decided on its own through the one function that
records decisions, so each gets its own decision record, notices and audit entries, and one
refusal leaves the others as they are."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from services.decision.audit import chain as auditlog
from services.decision.cases import service as case_service
from services.decision.cases.models import Case
from services.decision.cases.queue_view import waiting_for_poster
from services.decision.decisions import service as decision_service
from services.decision.decisions.domain import DecisionInput, validate_input
from services.decision.errors import DecisionRefused
from services.decision.users.models import User

KINDS = ("author", "text", "wave")
WAVE_PREFIX = 20          # characters of the opening words that make a wave
WAVE_WINDOW = dt.timedelta(hours=24)
BULK_LIMIT = 100


def _normal(text: str | None) -> str:
    return " ".join((text or "").split())


def matching_cases(session: Session, seed: Case, kind: str, now: dt.datetime) -> list[Case]:
    """The open cases like ``seed`` (itself included), oldest first; a poster's reply window
    still running keeps a case out (nothing to decide yet)."""
    if kind not in KINDS:
        raise DecisionRefused("まとめ方の指定が正しくありません。", "by")
    query = sa.select(Case).where(Case.status == "open", ~waiting_for_poster(now))
    if kind == "author":
        if seed.author_id == "unknown":  # the public form's placeholder is nobody's account
            raise DecisionRefused("投稿者が分からない案件はまとめられません。", "by")
        query = query.where(Case.author_id == seed.author_id)
    else:
        seed_words = _normal((seed.post or {}).get("text")).split(" ")[0][:WAVE_PREFIX]
        escaped = seed_words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Case.post["text"].as_string().like(f"%{escaped}%", escape="\\"))
        if kind == "wave":
            query = query.where(Case.created_at >= seed.created_at - WAVE_WINDOW,
                                Case.created_at <= seed.created_at + WAVE_WINDOW)
    candidates = session.scalars(query.order_by(Case.created_at).limit(BULK_LIMIT * 20)).all()
    seed_text = _normal((seed.post or {}).get("text"))
    if kind == "text":
        candidates = [c for c in candidates if _normal((c.post or {}).get("text")) == seed_text]
    elif kind == "wave":
        opening = seed_text[:WAVE_PREFIX]
        candidates = [c for c in candidates if _normal((c.post or {}).get("text"))[:WAVE_PREFIX] == opening]
    return candidates[:BULK_LIMIT]


def decide_many(db: Database, seed_id: str, kind: str, picked: list[str], user: User, data: DecisionInput,
                now: dt.datetime | None = None) -> list[dict]:
    """Claim and decide each picked case that still matches; the result per case says what happened."""
    now = now or utcnow()
    validate_input(data, now)  # what is wrong with the form itself is said once, before any case
    with db.sessions() as session:
        seed = session.get(Case, seed_id)
        if seed is None:
            raise DecisionRefused("案件が見つかりません。", status=404)
        allowed = {c.id for c in matching_cases(session, seed, kind, now)}
    bulk_id = str(uuid.uuid4())
    results = []
    for case_id in dict.fromkeys(picked):
        if case_id not in allowed:
            results.append({"case_id": case_id, "ok": False, "message": "まとめの対象ではなくなりました。"})
            continue
        try:
            case_service.claim_case(db, case_id, user)
        except DecisionRefused as exc:  # someone else holds it, or it was just decided
            results.append({"case_id": case_id, "ok": False, "message": exc.message, "field": exc.field})
            continue
        try:
            decision = decision_service.record_decision(db, case_id, user, dataclasses.replace(data, expected_version=None))
        except DecisionRefused as exc:
            case_service.release_case(db, case_id, user)  # a refused case goes back to the queue
            results.append({"case_id": case_id, "ok": False, "message": exc.message, "field": exc.field})
            continue
        with db.unit_of_work() as uow:
            auditlog.append_audit(uow.session, case_id=case_id, event_type="decision.bulk", actor=user.pseudonym,
                                  payload={"bulk_id": bulk_id, "by": kind, "seed": seed_id,
                                           "decision_id": decision.id, "picked": len(picked)})
            uow.commit()
        results.append({"case_id": case_id, "ok": True, "decision_id": decision.id})
    return results
