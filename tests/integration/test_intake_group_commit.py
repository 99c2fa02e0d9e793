"""Group commit: submissions written together give each the outcome it would get alone, on
SQLite (the portable path) and on PostgreSQL (the two-round-trip statement)."""
import datetime as dt
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from shared.db import utcnow
from services.intake.batching import BATCH_SIZE, GroupCommit, _Waiting
from services.intake.domain import Accepted, SignatureReplayed, Submission
from tests.support.databases import drop_pg_database, new_pg_database, make_runtime
from tests.support.helpers import in_parallel, report_body, signed
from tests.integration.test_intake_api import count, intake, post  # noqa: F401  (fixture)


def submission(body=None, key=None, signature="auto", client="demo"):
    body = body or report_body()
    from services.intake.schemas import ReportSubmissionSchema

    return Submission(ReportSubmissionSchema().load(body), client, key, "http", utcnow(),
                      uuid.uuid4().hex if signature == "auto" else signature)


def write_as_one_batch(runtime, submissions):
    """What the writer does with a batch, called directly so the batch is exactly this one."""
    committer = GroupCommit(runtime.db)
    waiting = [_Waiting(s) for s in submissions]
    committer._write(waiting)
    return [w.outcome for w in waiting]


@pytest.fixture
def runtime(db_url):
    return make_runtime("intake", db_url)


def test_a_batch_gives_each_submission_its_own_outcome(runtime):
    stored_first = write_as_one_batch(runtime, [submission(key="known", signature="sig-old")])[0]
    assert isinstance(stored_first, Accepted) and stored_first.created

    dr = lambda reporter: report_body("deletion_request", post_id="p-batch", reporter_id=reporter, rights_holder=True)
    outcomes = write_as_one_batch(runtime, [
        submission(key="known"),                           # 0 key stored before: its first result
        submission(key="fresh"),                           # 1 stored
        submission(key="fresh"),                           # 2 same key in the batch: 1's result
        submission(signature="sig-old"),                   # 3 signature used before: replay
        submission(signature="sig-twice"),                 # 4 stored
        submission(signature="sig-twice"),                 # 5 same signature in the batch: replay
        submission(dr("hanako")),                          # 6 first request by hanako on the post
        submission(dr("hanako")),                          # 7 a repeat (earlier in the batch)
        submission(report_body(post_id="p-batch")),        # 8 same post, same case
        submission(signature=None),                        # 9 unsigned (Kafka path): stored
    ])
    assert outcomes[0].result == stored_first.result and not outcomes[0].created
    assert outcomes[1].created and outcomes[2].result == outcomes[1].result and not outcomes[2].created
    assert isinstance(outcomes[3], SignatureReplayed)
    assert outcomes[4].created and isinstance(outcomes[5], SignatureReplayed)
    assert outcomes[6].result["is_repeat"] is False and outcomes[7].result["is_repeat"] is True
    assert outcomes[6].result["deadline_at"].endswith("23:59:59+09:00")
    assert outcomes[8].result["case_id"] == outcomes[6].result["case_id"]
    assert outcomes[9].created
    created = [o for o in outcomes if isinstance(o, Accepted) and o.created]
    assert count(runtime, "reports") == 1 + len(created) == 7
    assert count(runtime, "outbox") == count(runtime, "reports")
    with runtime.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases WHERE post_id = 'p-batch'")).scalar() == 1
        events = conn.execute(sa.text("SELECT payload FROM outbox")).scalars().all()
    repeats = {json.loads(p)["data"]["report_id"]: json.loads(p)["data"]["is_repeat"] for p in events}
    assert repeats[outcomes[7].result["report_id"]] is True and repeats[outcomes[6].result["report_id"]] is False


def test_a_later_request_repeats_one_stored_by_an_earlier_batch(runtime):
    dr = report_body("deletion_request", post_id="p-again", reporter_id="taro", rights_holder=True)
    first = write_as_one_batch(runtime, [submission(dr)])[0]
    second = write_as_one_batch(runtime, [submission(report_body(post_id="p-again")), submission(dr)])[1]
    assert first.result["is_repeat"] is False and second.result["is_repeat"] is True
    assert first.result["case_id"] == second.result["case_id"]


def test_the_receipt_time_is_when_the_request_arrived_not_when_it_was_written(runtime):
    arrived = utcnow() - dt.timedelta(seconds=7)
    s = submission()
    s = Submission(s.payload, s.client_id, s.idempotency_key, s.source, arrived, s.signature)
    outcome = write_as_one_batch(runtime, [s])[0]
    assert outcome.result["received_at"] == arrived.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat(
        timespec="seconds")


def test_concurrent_requests_are_written_in_batches_and_each_is_answered(intake):
    client, runtime = intake
    batches_before = BATCH_SIZE._sum.get(), sum(b.get() for b in BATCH_SIZE._buckets)
    answers, lock = [], threading.Lock()

    def send(n):
        for i in range(10):
            resp = post(client, report_body(post_id=f"p-{i % 3}"), key=f"t{n}-{i}")
            with lock:
                answers.append((resp.status_code, resp.get_json()["report_id"]))

    in_parallel(send, 12)
    assert [status for status, _ in answers] == [202] * 120
    assert len({report_id for _, report_id in answers}) == 120
    assert count(runtime, "reports") == count(runtime, "outbox") == 120
    assert count(runtime, "cases") == 3
    written = BATCH_SIZE._sum.get() - batches_before[0]
    transactions = sum(b.get() for b in BATCH_SIZE._buckets) - batches_before[1]
    assert written == 120 and transactions < 120  # some requests shared a transaction


@pytest.fixture
def pg_url():
    """The writer keeps a connection on PostgreSQL only."""
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def test_the_writer_comes_back_after_the_database_dropped_its_connection(pg_url):
    runtime = make_runtime("intake", pg_url)
    committer = GroupCommit(runtime.db, idle_recheck_seconds=0.5)
    assert committer.submit(submission()).created
    with runtime.db.engine.connect() as conn:  # what a server restart does to the writer
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    time.sleep(0.6)  # quiet for longer than idle_recheck_seconds: the pool checks the connection
    assert committer.submit(submission()).created
    assert count(runtime, "reports") == 2


def test_a_broken_batch_is_503_and_the_next_one_is_written(pg_url):
    from services.intake.batching import WriterUnavailable

    runtime = make_runtime("intake", pg_url)
    committer = GroupCommit(runtime.db)
    assert committer.submit(submission()).created
    with runtime.db.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    with pytest.raises(WriterUnavailable):
        committer.submit(submission())  # in the middle of load: no re-check, the batch fails
    assert committer.submit(submission()).created  # a fresh connection for the next batch


def test_the_look_up_keeps_using_the_indexes_as_the_reports_table_grows(pg_url):
    """A statement run often is prepared; a generic plan made while the table was small went
    on scanning all of it (database CPU per batch grew with the table). The look-up must
    stay on the indexes however often it runs."""
    from services.intake.postgres import store_submissions_postgresql
    from services.intake.service import KnownCases

    runtime = make_runtime("intake", pg_url)
    known = KnownCases()
    from services.intake.schemas import ReportSubmissionSchema

    schema = ReportSubmissionSchema()
    # As an SNS sends them: reports and deletion requests on a few hundred posts.
    bodies = [schema.load(report_body(post_id=f"p-{i % 200}")) for i in range(8)]
    bodies += [schema.load(report_body("deletion_request", post_id=f"p-{i}", reporter_id=f"u-{i}",
                                       rights_holder=True)) for i in range(2)]
    with runtime.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")

        def write_batches(n):
            for _ in range(n):
                batch = [Submission(body, "demo", uuid.uuid4().hex, "http", utcnow(), uuid.uuid4().hex)
                         for body in bodies]
                store_submissions_postgresql(conn, batch, known)

        def sequential_scans_of_reports():
            conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            return conn.execute(sa.text(
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'reports'")).scalar_one()

        write_batches(300)  # 3,000 reports, the same statements run hundreds of times
        before = sequential_scans_of_reports()
        write_batches(20)
        assert sequential_scans_of_reports() == before
    assert count(runtime, "reports") == 3200


def test_an_idle_writer_gives_its_connection_back_and_a_new_request_starts_it_again(db_url):
    runtime = make_runtime("intake", db_url)
    committer = GroupCommit(runtime.db, idle_exit_seconds=0.2)
    assert committer.submit(submission()).created
    deadline = time.monotonic() + 5
    while committer._writer_pid is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert committer._writer_pid is None and committer._connection is None
    assert committer.submit(submission()).created
    assert count(runtime, "reports") == 2


def test_a_polls_submission_events_are_stored_together_and_a_refused_one_is_set_apart(db_url):
    """The Kafka path stores a poll's valid events in one transaction; when the database
    refuses one event's values, the others are still stored and that one is dead-lettered."""
    import datetime as dt

    from shared.events import Envelope
    from services.intake.worker import Rejected, accept_submitted_events

    runtime = make_runtime("intake", db_url)
    event = lambda event_id, data: Envelope(id=event_id, type="jp.modq.report.submitted.v1", source="/sns/demo",
                                            subject="p", time=dt.datetime.now(dt.timezone.utc), data=data)
    poison = report_body(post_id="p-poison")

    def refuse_poison(conn, cursor, statement, parameters, *_):
        rows = parameters if isinstance(parameters, (list, tuple)) else [parameters]
        if "INSERT INTO reports" in statement and any("p-poison" in str(row) for row in rows):
            raise sa.exc.DataError(statement, parameters, Exception("value refused"))

    sa.event.listen(runtime.db.engine, "before_cursor_execute", refuse_poison)
    try:
        outcomes = accept_submitted_events(GroupCommit(runtime.db), [
            event("e1", report_body()), event("e2", {"kind": "report"}), event("e3", poison),
            event("e4", report_body()), event("e1", report_body())])
    finally:
        sa.event.remove(runtime.db.engine, "before_cursor_execute", refuse_poison)
    assert outcomes[0].created and outcomes[3].created
    assert isinstance(outcomes[1], Rejected) and set(outcomes[1].fields) == {"post", "reporter"}
    assert isinstance(outcomes[2], Rejected) and "refused by the database" in outcomes[2].reason
    assert outcomes[4].result == outcomes[0].result and not outcomes[4].created  # redelivered
    assert count(runtime, "reports") == count(runtime, "outbox") == 2
