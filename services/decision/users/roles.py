"""Who may do what: the roles and the rules on them, as plain data and functions (no Flask,
no database). The web view's and the API's guards (users/auth.py) and the service layer both
ask here, so a rule is written once."""
from __future__ import annotations

# "sns" is a service account for the SNS platform itself: it may only hand in posters'
# replies to inquiries (POST /v1/cases/<id>/poster-replies), never read the queue.
ROLES = ("moderator", "specialist", "supervisor", "auditor", "admin", "sns")

# Which roles may do what. Auditors read, never write.
CAN_DECIDE = frozenset({"moderator", "specialist", "supervisor", "admin"})
CAN_READ_QUEUE = frozenset({"moderator", "specialist", "supervisor", "admin", "auditor"})
CAN_SEE_CONTACTS = frozenset({"specialist", "supervisor", "admin"})
CAN_AUDIT = frozenset({"auditor", "supervisor", "admin"})
CAN_ADMIN = frozenset({"admin"})
# The SNS's service account hands in posters' replies to inquiries (§3(2)(ii)); nothing else.
CAN_HAND_IN_REPLIES = frozenset({"sns", "admin"})
# A supervisor (or admin) may decide a case without holding its claim; the override is audited.
CAN_OVERRIDE_CLAIM = frozenset({"supervisor", "admin"})
# The SNS back end's service account submits appeals for posters; admins may too.
CAN_SUBMIT_APPEALS = frozenset({"sns", "admin"})
CAN_READ_APPEALS = CAN_DECIDE | CAN_AUDIT
# Supervisors lead the team: they write the reason templates and give cases to moderators.
CAN_EDIT_TEMPLATES = frozenset({"supervisor", "admin"})
CAN_ASSIGN = frozenset({"supervisor", "admin"})


def may(role: str | None, rule: frozenset[str]) -> bool:
    """Whether ``role`` is one that ``rule`` allows."""
    return role in rule
