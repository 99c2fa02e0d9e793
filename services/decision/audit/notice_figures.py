"""The notice figures of the §28 report come from the notifier, which owns the notices: what
was sent, what was held, what never reached its recipient and every exception with its legal
reason. This adapter reads the notifier's ``/v1/notices/stats`` and shapes it for the report;
the decision service never derives notice counts from its own decisions."""
from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
import urllib.request
from collections import Counter, defaultdict

from shared.settings import env, service_url

log = logging.getLogger(__name__)

# The notifier's development token (services/notifier/config.py); production sets its own.
DEV_NOTIFIER_TOKEN = "dev-notifier-token-change-me"


def fetch(start: dt.datetime, end: dt.datetime, timeout: float = 10.0) -> dict | None:
    """The notifier's counts for [start, end), or None when it cannot be asked (the report
    then says that its notice figures are missing, rather than guessing them)."""
    query = urllib.parse.urlencode({"from": start.isoformat(), "to": end.isoformat()})
    request = urllib.request.Request(
        f"{service_url('notifier')}/v1/notices/stats?{query}",
        headers={"Authorization": "Bearer " + env("MODQ_NOTIFIER_REPORT_TOKEN", DEV_NOTIFIER_TOKEN)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("notice figures unavailable from the notifier: %s", exc)
        return None


def sections(stats: dict) -> dict:
    """The report's ``s25_notices`` and ``s27_notices`` from the notifier's counts."""
    sent: dict[str, dict] = defaultdict(lambda: {"total": 0, "by_legal_basis": Counter(), "by_measure": Counter(),
                                                  "by_item": Counter()})
    for row in stats.get("notices") or []:
        entry = sent[row["notice_type"]]
        entry["total"] += row["count"]
        entry["by_legal_basis"][row.get("legal_basis") or "unspecified"] += row["count"]
        if row.get("measure"):
            entry["by_measure"][row["measure"]] += row["count"]
        if row.get("delay_item"):
            entry["by_item"][row["delay_item"]] += row["count"]
    not_sent: dict[str, Counter] = defaultdict(Counter)
    for row in stats.get("exceptions") or []:
        group = "s27" if row["notice_type"] in ("N4", "INQ", "REV") else "s25"  # REVR: the requester's
        not_sent[group][row["reason_code"]] += row["count"]
    held = {row["notice_type"]: row["count"] for row in stats.get("held") or []}

    def notice(kind: str) -> dict:
        entry = sent.get(kind) or {"total": 0, "by_legal_basis": {}, "by_measure": {}, "by_item": {}}
        return {key: dict(sorted(value.items())) if isinstance(value, Counter) else value
                for key, value in entry.items() if key == "total" or value}

    def exceptions(group: str) -> dict:
        reasons = not_sent.get(group, Counter())
        return {"total": sum(reasons.values()), "by_reason": dict(sorted(reasons.items()))}

    return {
        "s25_notices": {"ACK": notice("ACK"), "N1": notice("N1"), "N2": notice("N2"), "N3": notice("N3"),
                        "not_sent": exceptions("s25"), "held": {k: held[k] for k in ("N1", "N2", "N3") if k in held}},
        "s27_notices": {"N4": notice("N4"), "not_sent": exceptions("s27"),
                        "inquiries_s3_2_ii": notice("INQ")["total"], "reversal_notices": notice("REV")["total"],
                        "reversal_notices_to_requesters": notice("REVR")["total"],
                        "held": {k: held[k] for k in ("N4", "INQ", "REV") if k in held}},
    }
