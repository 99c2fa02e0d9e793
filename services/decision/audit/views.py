"""Audit endpoints (JSON API, HTTP Basic or bearer token like the rest of /v1).

Reading (auditor, supervisor, admin): the decision log export, the §28 report, DSA statements.
Appeals: the SNS's service account (role ``sns``) or an admin submits them; a moderator other
than the one who decided reviews them. Auditors change nothing anywhere.
"""
from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa
from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort

from shared.db import utcnow
from shared.settings import pseudonym_key
from shared.web import ApiBlueprint
from services.decision.audit import chain, dsa, notice_figures, periods, records, render, service, transparency
from services.decision.audit.schemas import (AppealInSchema, AppealListSchema, AppealOutSchema, AppealQuerySchema,
                                             AppealReviewSchema, DsaQuerySchema, ExportQuerySchema,
                                             TransparencyQuerySchema, VerifyQuerySchema, VerifyResultSchema)
from services.decision.criteria.models import Clause
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db
from services.decision.users.auth import api_user, require_api_role
from services.decision.users.roles import CAN_AUDIT, CAN_DECIDE, CAN_READ_APPEALS, CAN_SUBMIT_APPEALS

blp = ApiBlueprint("audit", __name__, url_prefix="/v1", description="Audit, transparency report, DSA, appeals",
                   template_folder="templates")

FLUSH_EVERY = 200  # CSV rows per chunk sent to the client


def _period(args, *, default_year: bool):
    try:
        if default_year:
            return periods.resolve(args.get("from_"), args.get("to"), utcnow())
        return (periods.parse_bound(args.get("from_"), end=False), periods.parse_bound(args.get("to"), end=True))
    except periods.BadPeriod as exc:
        abort(400, message=str(exc), errors={"query": {"from/to": [str(exc)]}})


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


# --- the audit log's chain --------------------------------------------------

@blp.route("/audit/verify")
class Verify(MethodView):
    @require_api_role(CAN_AUDIT)
    @blp.arguments(VerifyQuerySchema, location="query")
    @blp.response(200, VerifyResultSchema)
    def get(self, args):
        """Verify the audit log's keyed hash chain over a period; gives the first broken link. With
        ``head_seq`` and ``head_hash`` (a head published earlier) also names a truncated or rewritten log."""
        if (args["head_seq"] is None) != (args["head_hash"] is None):
            abort(400, message="give head_seq and head_hash together",
                  errors={"query": {"head_hash": ["give head_seq and head_hash together"]}})
        head = (args["head_seq"], args["head_hash"]) if args["head_seq"] is not None else None
        with current_db().sessions() as session:
            return chain.verify_chain(session, args.get("from_"), args.get("to"), published_head=head)


# --- the decision log -------------------------------------------------------------------------

@blp.route("/audit/decisions")
class AuditDecisions(MethodView):
    @require_api_role(CAN_AUDIT)
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "JSON page, JSON Lines or CSV stream of decision records"}})
    def get(self, args):
        """Decision records with what each was decided on; JSON pages (cursor) or a streamed JSONL/CSV export."""
        start, end = _period(args, default_year=False)
        selection = records.RecordFilter(start=start, end=end, measure=args["measure"], clause=args["clause"],
                                         route=args["route"], ai=args["ai"], reversal=args["reversal"])
        head = _audit_head_header()  # whoever keeps the export keeps the log's head with it
        if args["format"] == "jsonl":
            return Response(_jsonl(selection), mimetype="application/x-ndjson",
                            headers={**_attachment("decisions.jsonl"), **head})
        if args["format"] == "csv":
            return Response(_csv(selection, args["bom"]), mimetype="text/csv",
                            headers={**_attachment("decisions.csv"), **head})
        with current_db().sessions() as session:
            try:
                items, next_cursor = records.page(session, selection, args["cursor"], args["limit"])
            except ValueError as exc:
                abort(400, message=str(exc), errors={"query": {"cursor": [str(exc)]}})
        return {"decisions": items, "next_cursor": next_cursor, "count": len(items)}, 200, head


def _audit_head_header() -> dict:
    with current_db().sessions() as session:
        head = chain.current_head(session)
    return {"X-Modq-Audit-Head": f"{head['seq']}:{head['hash']}"} if head else {}


def _jsonl(selection: records.RecordFilter):
    """Generated while the response is sent: one chunk of rows in memory at a time."""
    db = current_db()

    def generate():
        with db.sessions() as session:
            for record in records.iter_records(session, selection):
                yield json.dumps(record, ensure_ascii=False) + "\n"
    return generate()


def _csv(selection: records.RecordFilter, bom: bool):
    db = current_db()

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write(render.BOM if bom else "")
        writer.writerow(records.CSV_COLUMNS)
        with db.sessions() as session:
            for n, record in enumerate(records.iter_records(session, selection), 1):
                writer.writerow(records.csv_row(record))
                if n % FLUSH_EVERY == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()
    return generate()


# --- §28 report -------------------------------------------------------------------------------

@blp.route("/transparency")
class Transparency(MethodView):
    @require_api_role(CAN_AUDIT)
    @blp.arguments(TransparencyQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "the §28 report as JSON, CSV or a Japanese HTML page"}})
    def get(self, args):
        """The §28 transparency report over a period (default: the year a report is due for; until 31 May, the year just ended; JST)."""
        start, end = _period(args, default_year=True)
        with current_db().sessions() as session:
            report = transparency.generate(session, start, end, notice_stats=notice_figures.fetch(start, end))
        if args["format"] == "csv":
            return Response(render.csv_text(report, args["bom"]), mimetype="text/csv",
                            headers=_attachment("transparency.csv"))
        if args["format"] == "html":
            return Response(render.html(report), mimetype="text/html")
        return Response(json.dumps(report, ensure_ascii=False, indent=1), mimetype="application/json")


# --- DSA statements of reasons ----------------------------------------------------------------

@blp.route("/dsa/statements")
class DsaStatements(MethodView):
    @require_api_role(CAN_AUDIT)
    @blp.arguments(DsaQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "statements of reasons (EU Transparency Database fields)"}})
    def get(self, args):
        """Each measure in the period as a DSA statement of reasons, without personal data."""
        start, end = _period(args, default_year=True)
        generate = _statements(records.RecordFilter(start=start, end=end, reversal=False))
        if args["format"] == "jsonl":
            return Response((json.dumps(s, ensure_ascii=False) + "\n" for s in generate()),
                            mimetype="application/x-ndjson", headers=_attachment("statements.jsonl"))
        statements = list(generate())
        return {"period": periods.describe(start, end), "count": len(statements), "statements": statements}


def _statements(selection: records.RecordFilter):
    db, secret = current_db(), pseudonym_key()  # DSA ids are keyed apart from the session key

    def generate():
        with db.sessions() as session:
            categories = dict(session.execute(sa.select(Clause.clause_id, Clause.category)).all())
            for record in records.iter_records(session, selection):
                statement = dsa.statement(record, secret, categories)
                if statement is not None:
                    yield statement
    return generate


# --- appeals ----------------------------------------------------------------------------------

def _refused(exc: DecisionRefused):
    abort(exc.status, message=exc.message, errors={"json": {exc.field: [exc.message]}} if exc.field else None)


@blp.route("/appeals")
class Appeals(MethodView):
    @require_api_role(CAN_SUBMIT_APPEALS)
    @blp.arguments(AppealInSchema, location="json")
    @blp.response(201, AppealOutSchema)
    def post(self, body):
        """A poster contests a measure (SNS service account or admin). Idempotent on ``appeal_id``."""
        try:
            appeal = service.submit_appeal(current_db(), decision_id=body["decision_id"], appellant_id=body["appellant_id"],
                                           reason=body["reason"], appeal_id=body.get("appeal_id")
                                           or request.headers.get("Idempotency-Key"))
        except DecisionRefused as exc:
            _refused(exc)
        return service.appeal_view(appeal)

    @require_api_role(CAN_READ_APPEALS)
    @blp.arguments(AppealQuerySchema, location="query")
    @blp.response(200, AppealListSchema)
    def get(self, args):
        """Appeals, oldest first (moderators to review them, auditors to read them)."""
        with current_db().sessions() as session:
            return {"appeals": [service.appeal_view(a) for a in service.list_appeals(session, args["status"],
                                                                                      args["limit"])]}


@blp.route("/appeals/<appeal_id>/review")
class AppealReview(MethodView):
    @require_api_role(CAN_DECIDE)
    @blp.arguments(AppealReviewSchema, location="json")
    @blp.response(200, AppealOutSchema)
    def post(self, body, appeal_id):
        """Uphold or reverse; the moderator who made the decision may not review it (403)."""
        try:
            appeal = service.review_appeal(current_db(), appeal_id, api_user(), outcome=body["outcome"], reason=body["reason"])
        except DecisionRefused as exc:
            _refused(exc)
        return service.appeal_view(appeal)
