"""What the case page shows: the case and its reports with each requester's standing, the
poster's history (past measures, a suspension in force), readable audit entries, internal
notes, the claim's holder, and the decision form (kept as typed after a refusal)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock

from services.decision import labels
from services.decision.audit.models import AuditEvent
from services.decision.cases import domain, queue_view, service
from services.decision.cases.models import Case, CaseReport
from services.decision.casework import service as casework
from services.decision.criteria.service import criteria_in_force
from services.decision.decisions.domain import EXCEPTION_CODES
from services.decision.decisions.models import Decision
from services.decision.inquiries.models import PosterInquiry, PosterReply
from services.decision.users.models import User

UNKNOWN_AUTHOR = "unknown"  # what intake's public form records when the post's author is not known


def poster_history(session: Session, case: Case, now: dt.datetime) -> dict:
    """The author's other cases with the measure each ended in, and any suspension in force.
    The public form cannot always name the poster ("unknown"): such cases are not one person's."""
    if case.author_id == UNKNOWN_AUTHOR:
        return {"cases": [], "suspension": None, "measures": 0}
    earlier = session.scalars(sa.select(Case).where(Case.author_id == case.author_id, Case.id != case.id)
                              .order_by(Case.created_at.desc()).limit(20)).all()
    decisions = session.scalars(
        sa.select(Decision).join(Case, Case.id == Decision.case_id)
        .where(Case.author_id == case.author_id).order_by(Decision.decided_at)).all()
    reversed_ids = {d.reverses for d in decisions if d.reverses}
    standing = [d for d in decisions if d.id not in reversed_ids and not d.reverses]
    last = {}
    for d in standing:
        if d.final:
            last[d.case_id] = d
    suspension = next((d for d in reversed(standing) if d.action == "suspend_account"
                       and (d.suspension_permanent or (d.suspension_until and d.suspension_until > now))), None)
    rows = [{"case": e, "decision": last.get(e.id)} for e in earlier]
    measures = sum(1 for d in last.values() if d.action in ("remove", "hide", "suspend_account"))
    return {"cases": rows, "suspension": suspension, "measures": measures}


def audit_entries(session: Session, case_id: str) -> list[dict]:
    events = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id)
                             .order_by(AuditEvent.seq)).all()
    return [{"seq": e.seq, "at": e.at, "label": labels.audit_label(e.event_type), "event_type": e.event_type,
             "actor": labels.actor_label(e.actor)} for e in events]


def _deciders(session: Session, decisions) -> dict:
    """Pseudonym of whoever recorded each decision (moderators' names stay out of the record)."""
    ids = {d.decided_by for d in decisions}
    users = session.scalars(sa.select(User).where(User.id.in_(ids))).all() if ids else []
    return {u.id: u.pseudonym for u in users}


def case_context(session: Session, case: Case, viewer_id: int, now: dt.datetime) -> dict:
    reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id)
                              .order_by(CaseReport.received_at)).all()
    decisions = session.scalars(sa.select(Decision).where(Decision.case_id == case.id)
                                .order_by(Decision.decided_at)).all()
    version, clauses = criteria_in_force(session, now)
    holder = session.get(User, case.claimed_by) if queue_view.claim_live(case, now) else None
    return {
        "case": case, "reports": reports, "decisions": decisions, "history": audit_entries(session, case.id),
        "poster": poster_history(session, case, now), "clauses": clauses, "criteria_version": version,
        "now": now, "deciders": _deciders(session, decisions),
        "inquiries": session.scalars(sa.select(PosterInquiry).where(PosterInquiry.case_id == case.id)
                                     .order_by(PosterInquiry.sent_at)).all(),
        "replies": session.scalars(sa.select(PosterReply).where(PosterReply.case_id == case.id)
                                   .order_by(PosterReply.received_at)).all(),
        "ready": service.is_ready_to_decide(case, now),
        "is_near": domain.is_near_deadline(case.next_deadline_at, now, clock.warning_window()),
        "holder": queue_view.display_name(holder) if holder else None,
        "held_by_me": holder is not None and holder.id == viewer_id,
        "notes": [{"note": n, "author": queue_view.display_name(u)} for n, u in casework.notes_of(session, case.id)],
        "templates": casework.reason_templates(session),
        "reveal_media": casework.reveals_media(session, viewer_id),
        "exception_codes": EXCEPTION_CODES,
        **_assignment(session, case),
    }


def _assignment(session: Session, case: Case) -> dict:
    given = casework.assignments(session, [case.id]).get(case.id)
    assignee = session.get(User, given) if given else None
    return {"assignee": assignee, "assignee_name": queue_view.display_name(assignee) if assignee else None,
            "assignees": [(u.id, queue_view.display_name(u)) for u in casework.assignees(session)]}
