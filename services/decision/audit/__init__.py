"""Audit and transparency: the auditors' decision log export, the §28 yearly report, DSA
statements of reasons, and appeals against measures. Everything here reads the decision
service's own records (cases, case_reports, decisions, audit_events, appeals), so the three
outputs can never disagree with each other."""
