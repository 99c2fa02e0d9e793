"""Alerts about new urgent cases sent to an operator's webhook (off unless configured)."""
