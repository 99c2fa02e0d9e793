"""The web view's decision form: reading it into a ``DecisionInput``, giving a refused form back
with every input kept, which fields each measure needs, and the summary shown after a decision
of the notices it sets off (the notifier sends them; it alone applies the exemptions)."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from shared import clock
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused

MEASURES_TAKEN = ("remove", "hide", "suspend_account")
ALL_ACTIONS = (*MEASURES_TAKEN, "no_action", "poster_inquiry", "refer_specialist", "delay_other")

# Which inputs each measure uses; the page shows only these once a measure is chosen
# (static/decision-form.js reads them from data-measures).
FIELD_MEASURES = {
    "clause_id": MEASURES_TAKEN,
    "exception_code": MEASURES_TAKEN,
    "visibility": ("remove", "hide"),
    "scope_items": ("remove", "hide"),
    "suspension_until": ("suspend_account",),
    "suspension_permanent": ("suspend_account",),
    "reason": ALL_ACTIONS,
    "facts": (*MEASURES_TAKEN, "poster_inquiry"),
    "requester_reason": ("no_action", "delay_other"),
}
TEXT_FIELDS = ("measure", "clause_id", "exception_code", "visibility", "scope_items", "suspension_until",
               "suspension_permanent", "reason", "facts", "requester_reason", "override_claim")


def measures_attr(field: str) -> str:
    return " ".join(FIELD_MEASURES[field])


def kept_values(form: MultiDict | None) -> dict:
    """What the moderator typed, to fill the form again after a refusal."""
    form = form or MultiDict()
    return {name: form.get(name, "") for name in TEXT_FIELDS}


def _form_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DecisionRefused("停止終了日時の形式が正しくありません（invalid date-time）", "suspension_until") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.legal_zone())
    return parsed.astimezone(dt.timezone.utc)


def decision_input(form: MultiDict) -> DecisionInput:
    """The form as the service reads it. Inputs of fields the chosen measure does not use are
    dropped here, so a value left in a hidden field never reaches the record."""
    measure = form.get("measure") or ""
    if not measure:
        raise DecisionRefused("措置を選んでください。", "measure")
    if measure not in ALL_ACTIONS:
        raise DecisionRefused("措置の指定が正しくありません。", "measure")

    def used(field: str) -> str | None:
        return (form.get(field) or None) if measure in FIELD_MEASURES[field] else None

    raw_items = used("scope_items") or ""
    items = [s.strip() for s in raw_items.replace("、", ",").split(",") if s.strip()]
    version = form.get("version") or ""
    return DecisionInput(
        action=measure, reason=form.get("reason", ""), clause_id=used("clause_id"),
        exception_code=used("exception_code"), facts=used("facts"), requester_reason=used("requester_reason"),
        scope={"items": items, "visibility": used("visibility")},
        suspension_until=_form_datetime(used("suspension_until")),
        suspension_permanent=used("suspension_permanent") == "1",
        expected_version=int(version) if version.isdigit() else None,
        override_claim=form.get("override_claim") == "1")


NOTICE_NAMES = {
    "N1": _l("措置を講じた旨の通知（第25条第1項）"),
    "N2": _l("措置を講じない旨と理由の通知（第25条第1項）"),
    "N3": _l("判断に時間を要する旨の通知（第25条第2項）"),
    "N4": _l("発信者への措置の通知（第27条）"),
    "INQ": _l("発信者への意見照会（第3条第2項第2号）"),
}


def notice_summary(decision, reports) -> list[dict]:
    """The notices a decision calls for, by recipient: one per deletion request it answers
    (not repeats, which the notifier answers by the proviso) and the poster's. The notifier
    still applies the statutory exceptions, so this is what is due, not a delivery receipt."""
    requests = [r for r in reports if r.treated_as == "deletion_request" and not r.is_repeat]
    if decision.final:
        answered = [r for r in requests if r.resolved_by == decision.id]
        kind = "N2" if decision.action == "no_action" else "N1"
        notices = [{"type": kind, "to": _requester_ref(r)} for r in answered]
        if decision.action in MEASURES_TAKEN:
            notices.append({"type": "N4", "to": str(_l("発信者"))})
    else:
        notices = [{"type": "N3", "to": _requester_ref(r)} for r in requests if r.status == "extended"]
        if decision.action == "poster_inquiry":
            notices.append({"type": "INQ", "to": str(_l("発信者"))})
    return [{**n, "name": str(NOTICE_NAMES[n["type"]])} for n in notices]


def _requester_ref(report) -> str:
    return str(_l("申出者（受付番号 %(ref)s）", ref=report.report_id[:8]))
