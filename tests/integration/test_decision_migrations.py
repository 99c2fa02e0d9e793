"""Decision migrations that change a table with rows in it (SQLite copies the table in batch
mode, under its foreign keys; PostgreSQL alters it in place)."""
import sqlalchemy as sa

from shared.db import Database, migrate
from services.decision.app import MIGRATIONS


def test_dropping_deadline_alert_keeps_cases_and_their_reports(db_url):
    migrate(db_url, MIGRATIONS, "d4f8a2c6e1b9")
    db = Database(db_url)
    now = "2026-12-01 00:00:00+00:00"
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cases (id, post_id, author_id, post, status, priority, reporter_count, report_count,"
            " request_count, reason_categories, notice_blocked, deadline_alert, version, created_at, updated_at,"
            " post_evidence) VALUES ('c-1', 'p-1', 'u-1', '{}', 'open', 12.5, 1, 1, 0, '[]', false, true, 1,"
            " :now, :now, 'sns')"), {"now": now})
        conn.execute(sa.text(
            "INSERT INTO case_reports (report_id, case_id, kind, treated_as, reporter_id, reporter, request_type,"
            " is_repeat, received_at, status) VALUES ('r-1', 'c-1', 'report', 'report', 'u-2', '{}', 'ordinary',"
            " false, :now, 'open')"), {"now": now})
    migrate(db_url, MIGRATIONS)
    with db.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("cases")}
        assert "deadline_alert" not in columns and "priority" in columns
        assert conn.execute(sa.text("SELECT id, priority FROM cases")).all() == [("c-1", 12.5)]
        assert conn.execute(sa.text("SELECT case_id FROM case_reports")).scalars().all() == ["c-1"]
    db.engine.dispose()
