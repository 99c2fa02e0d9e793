"""The deletion criteria (§26): which version and clause govern a measure now, and the
administration of versions (draft, edit clauses, publish; in force 14 days after publication)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import utcnow
from services.decision.audit.chain import append_audit
from services.decision.criteria import amendments, domain
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.errors import DecisionRefused, get_or_refuse


def newest_version_in_force(session: Session, now: dt.datetime) -> CriteriaVersion | None:
    """The newest published version whose 14 days (JST calendar days, §26) have passed."""
    candidates = session.scalars(
        sa.select(CriteriaVersion).where(CriteriaVersion.status == "published",
                                         CriteriaVersion.published_at <= now - domain.CRITERIA_MIN_AGE)
        .order_by(CriteriaVersion.published_at.desc()))
    return next((v for v in candidates if domain.criteria_in_force_since(v.published_at, now)), None)


def clause_in_force(session: Session, clause_id: str, now: dt.datetime) -> Clause:
    """The clause as worded in the newest version published at least 14 days ago."""
    version = newest_version_in_force(session, now)
    if version is None:
        raise DecisionRefused("公表から14日を経過した削除基準がありません（no criteria in force for 14 days）", "clause_id")
    clause = session.get(Clause, (version.version, clause_id))
    if clause is None:
        newer = session.scalar(sa.select(Clause).join(CriteriaVersion).where(
            Clause.clause_id == clause_id, CriteriaVersion.status == "published",
            CriteriaVersion.published_at > version.published_at).limit(1))
        if newer is not None:
            raise DecisionRefused(f"条項 {clause_id} は公表から14日を経過していません（§26: not in force yet）", "clause_id")
        raise DecisionRefused(f"条項 {clause_id} は施行中の削除基準にありません（unknown clause）", "clause_id")
    return clause


def criteria_in_force(session: Session, now: dt.datetime) -> tuple[CriteriaVersion | None, list[Clause]]:
    version = newest_version_in_force(session, now)
    if version is None:
        return None, []
    clauses = session.scalars(sa.select(Clause).where(Clause.version == version.version)
                              .order_by(Clause.clause_id)).all()
    return version, list(clauses)


CLAUSE_FIELDS = ("title", "text", "category", "routes", "measures", "covers_suspension", "examples")


def criteria_versions(session: Session, now: dt.datetime) -> dict:
    """Every version, sorted into in force, upcoming (published, not yet 14 days), past and drafts."""
    in_force, _ = criteria_in_force(session, now)
    versions = session.scalars(sa.select(CriteriaVersion).order_by(CriteriaVersion.created_at.desc())).all()
    published = [v for v in versions if v.status == "published"]
    return {
        "in_force": in_force,
        "upcoming": sorted([v for v in published if not domain.criteria_in_force_since(v.published_at, now)],
                           key=lambda v: v.published_at),
        "past": sorted([v for v in published if in_force is not None and v.version != in_force.version
                        and v.published_at < in_force.published_at], key=lambda v: v.published_at, reverse=True),
        "drafts": [v for v in versions if v.status == "draft"],
    }


def in_force_from(version: CriteriaVersion) -> dt.datetime | None:
    return clock.criteria_in_force_from(version.published_at) if version.published_at else None


def draft_criteria_version(session: Session, new_version: str, actor: str, note: str | None = None,
                           now: dt.datetime | None = None) -> CriteriaVersion:
    """A new draft, starting as a copy of the newest published version."""
    now = now or utcnow()
    new_version = (new_version or "").strip()
    if not new_version or len(new_version) > 32:
        raise DecisionRefused("版の名前を32文字以内で入力してください（version: 1–32 characters）", "version")
    if session.get(CriteriaVersion, new_version) is not None:
        raise DecisionRefused(f"版 {new_version} は既にあります（version exists）", "version", status=409)
    source = session.scalar(sa.select(CriteriaVersion).where(CriteriaVersion.status == "published")
                            .order_by(CriteriaVersion.published_at.desc()).limit(1))
    draft = CriteriaVersion(version=new_version, status="draft", note=(note or "").strip() or None, created_at=now)
    session.add(draft)
    session.flush()
    for clause in session.scalars(sa.select(Clause).where(Clause.version == source.version)) if source else []:
        session.add(Clause(version=new_version, clause_id=clause.clause_id,
                           **{f: getattr(clause, f) for f in CLAUSE_FIELDS}))
    append_audit(session, case_id=None, event_type="criteria.drafted", actor=actor, at=now,
                 payload={"version": new_version, "copied_from": source.version if source else None})
    session.flush()
    return draft


def _draft(session: Session, version: str) -> CriteriaVersion:
    draft = get_or_refuse(session, CriteriaVersion, version, "版が見つかりません（version not found）", "version")
    if draft.status != "draft":
        raise DecisionRefused("公表済みの版は変更できません。新しい版を作成してください（published versions are frozen）",
                              "version", status=409)
    return draft


def save_clause(session: Session, version: str, clause_id: str, fields: dict, actor: str,
                now: dt.datetime | None = None) -> Clause:
    """Create or edit one clause of a draft."""
    _draft(session, version)
    clause_id = (clause_id or "").strip()
    values = domain.clean_clause(clause_id, fields)
    clause = session.get(Clause, (version, clause_id))
    if clause is None:
        clause = Clause(version=version, clause_id=clause_id, **values)
        session.add(clause)
    else:
        for key, value in values.items():
            setattr(clause, key, value)
    append_audit(session, case_id=None, event_type="criteria.clause_saved", actor=actor, at=now,
                 payload={"version": version, "clause_id": clause_id, **values})
    session.flush()
    return clause


def publish_criteria(session: Session, version: str, actor: str, now: dt.datetime | None = None) -> CriteriaVersion:
    """Publish a draft now. It governs measures only 14 days later (§26)."""
    now = now or utcnow()
    draft = _draft(session, version)
    if not session.scalar(sa.select(sa.func.count()).select_from(Clause).where(Clause.version == version)):
        raise DecisionRefused("条項のない版は公表できません（a version needs clauses）", "version")
    draft.status, draft.published_at = "published", now
    amendments.resolve_amendments(session, version, now)  # §26(3): the amendment owed after an urgent measure
    append_audit(session, case_id=None, event_type="criteria.published", actor=actor, at=now,
                 payload={"version": version, "published_at": now.isoformat(),
                          "in_force_from": in_force_from(draft).isoformat()})
    session.flush()
    return draft
