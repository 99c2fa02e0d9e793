"""Pure rules of cases and the queue (no Flask, no Kafka, no database).

Priority
--------
A case's priority is a number from 0 to 100 (higher first), the sum of:

* up to 40 for the classifier's abuse score (the highest on any report of the case);
* up to 15 for the severity of the most likely category (threat and privacy weigh most);
* up to 10 for the number of distinct reporters (logarithmic: 1 → 2, 32+ → 10);
* 10 when a §22 deletion request is waiting;
* up to 25 for the §25 clock: 25 when the earliest deadline still owed a notice is within
  the warning window (shared.clock.warning_window, 24 h by default, the notifier's too) or past, falling linearly to 0 at 7 days left;
* 20 for a credible threat of violence (the classifier gives "threat" at least 0.8);
  the sum is capped at 100.

A case whose deadline is within the warning window (or past) and that has neither a decision
nor an interim notice is *at risk*: 100 is added, so it sits above every case that is not,
whatever their scores. Priority therefore runs from 0 to 200; the queue marks at-risk cases.
"""
from __future__ import annotations

import datetime as dt
import math

SEVERITY = {
    "threat": 1.0,
    "privacy": 0.9,
    "sexual": 0.9,
    "defamation": 0.8,
    "discrimination": 0.8,
    "insult": 0.6,
    "none": 0.0,
}

# A report.received event without a reporter is the operator's own detection (§28 route).
OWN_DETECTION_REPORTER = {"id": "system:own_detection"}


def top_category(categories: dict | None) -> str | None:
    if not categories:
        return None
    candidates = {k: v for k, v in categories.items() if k != "none"}
    if not candidates:
        return None
    return max(candidates, key=candidates.get)


def deadline_urgency(next_deadline_at: dt.datetime | None, now: dt.datetime, warning: dt.timedelta) -> float:
    if next_deadline_at is None:
        return 0.0
    left = next_deadline_at - now
    if left <= warning:
        return 1.0
    span = dt.timedelta(days=7) - warning
    return max(0.0, 1.0 - (left - warning) / span)


# A credible threat of violence (the classifier is confident it is a threat) is lifted by this
# much, so a single report of one outranks a much-reported insult: someone may be in danger.
CREDIBLE_THREAT = 0.8
THREAT_LIFT = 20.0


def priority_parts(*, score: float | None, categories: dict | None, reporter_count: int,
                   has_request: bool, next_deadline_at: dt.datetime | None, now: dt.datetime,
                   warning: dt.timedelta) -> dict[str, float]:
    """Each term of a case's priority (see the module's docstring), so the queue can say why."""
    category = top_category(categories)
    severity = SEVERITY.get(category, 0.5) * (categories or {}).get(category, 0.0) if category else 0.0
    reporters = min(1.0, math.log2(1 + max(0, reporter_count)) / math.log2(33))
    credible_threat = category == "threat" and (categories or {}).get("threat", 0.0) >= CREDIBLE_THREAT
    return {
        "score": round(40 * (score or 0.0), 3),
        "severity": round(15 * min(1.0, severity / 0.9 if severity else 0.0), 3),
        "reporters": round(10 * reporters, 3),
        "request": 10.0 if has_request else 0.0,
        "deadline": round(25 * deadline_urgency(next_deadline_at, now, warning), 3),
        "threat": THREAT_LIFT if credible_threat else 0.0,
        "at_risk": 100.0 if is_near_deadline(next_deadline_at, now, warning) else 0.0,
    }


def compute_priority(*, score: float | None, categories: dict | None, reporter_count: int,
                     has_request: bool, next_deadline_at: dt.datetime | None, now: dt.datetime,
                     warning: dt.timedelta) -> float:
    parts = priority_parts(score=score, categories=categories, reporter_count=reporter_count,
                           has_request=has_request, next_deadline_at=next_deadline_at, now=now, warning=warning)
    value = sum(v for k, v in parts.items() if k != "at_risk")
    return round(min(100.0, value) + parts["at_risk"], 3)


def is_near_deadline(next_deadline_at: dt.datetime | None, now: dt.datetime, warning: dt.timedelta) -> bool:
    return next_deadline_at is not None and next_deadline_at - now <= warning


def report_route(treated_as: str, reporter_id: str | None) -> str:
    """The §28 route a report came by: a §22 request, a user report, or own detection."""
    if treated_as == "deletion_request":
        return "request"
    return "own_detection" if reporter_id == OWN_DETECTION_REPORTER["id"] else "report"
