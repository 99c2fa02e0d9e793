"""The one error the decision service's use cases raise for input they refuse."""
from __future__ import annotations


class DecisionRefused(ValueError):
    """A decision that must not be recorded; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def get_or_refuse(session, model, key, message: str, field: str | None = None):
    """The row of ``model`` with primary key ``key``; a 404 refusal with ``message`` if there is none."""
    row = session.get(model, key)
    if row is None:
        raise DecisionRefused(message, field, status=404)
    return row
