"""Counts for the §28 yearly report: notices by type, legal basis, measure and §25(2) item;
exceptions (notices not sent) by type and reason; held notices by type."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.notifier.models import Notice, NoticeException


def notice_stats(session: Session, start: dt.datetime | None, end: dt.datetime | None) -> dict:
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "notices": _sent_notices(session, start, end),
        "exceptions": _exceptions(session, start, end),
        "held": _held(session, start, end),
    }


def _within(column, start, end):
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _sent_notices(session, start, end) -> list[dict]:
    columns = (Notice.notice_type, Notice.legal_basis, Notice.measure, Notice.delay_item)
    # A notice counts as sent unless it was held, never reached its recipient, or failed
    # until a person had to act (and was not delivered after all).
    reached = sa.and_(Notice.status.not_in(("held", "unreachable")),
                      sa.or_(Notice.escalated_at.is_(None), Notice.status == "delivered"))
    rows = session.execute(sa.select(*columns, sa.func.count()).where(
        reached, *_within(Notice.issued_at, start, end)).group_by(*columns)
        .order_by(*columns)).all()
    return [{"notice_type": t, "legal_basis": b, "measure": m, "delay_item": i, "count": c} for t, b, m, i, c in rows]


def _exceptions(session, start, end) -> list[dict]:
    columns = (NoticeException.notice_type, NoticeException.reason_code, NoticeException.legal_basis)
    rows = session.execute(sa.select(*columns, sa.func.count()).where(
        *_within(NoticeException.recorded_at, start, end)).group_by(*columns).order_by(*columns)).all()
    return [{"notice_type": t, "reason_code": r, "legal_basis": b, "count": c} for t, r, b, c in rows]


def _held(session, start, end) -> list[dict]:
    rows = session.execute(sa.select(Notice.notice_type, sa.func.count()).where(
        Notice.status == "held", *_within(Notice.issued_at, start, end)).group_by(Notice.notice_type)
        .order_by(Notice.notice_type)).all()
    return [{"notice_type": t, "count": c} for t, c in rows]
