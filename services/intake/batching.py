"""Group commit: intake's one write path. The submissions of concurrent requests in one
process (the API's, the form's; in the worker, a poll's Kafka events) are written together.

Why: on PostgreSQL every transaction waits for a WAL flush, and every statement costs a round
trip plus the driver's Python work, for one report or for fifty. One writer per process (a
thread under gunicorn's gthread workers, a greenlet under gevent, intake's default)
takes whatever requests are waiting, writes them (``postgres.store_submissions_postgresql``,
or ``service.store_submissions`` on SQLite) and wakes each request with its own outcome.

Batching costs no latency when the service is quiet: a lone request is a batch of one, written
at once. Under load (the previous batch held more than one) the writer waits ``gather_seconds``
(6 ms by default, MODQ_INTAKE_BATCH_GATHER_MS) before taking the queue, so that batches are
large enough to be cheap per report.

Nothing is answered before its batch is committed. A database error fails the requests of
that batch (each answers 503 with Retry-After); the next batch tries again.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time

from prometheus_client import Histogram
from sqlalchemy.exc import DBAPIError

from shared.db import Database
from shared.settings import env
from services.intake.domain import Accepted, SignatureReplayed, Submission
from services.intake.postgres import store_submissions_postgresql
from services.intake.service import KnownCases, store_submissions

log = logging.getLogger(__name__)

BATCH_SIZE = Histogram("modq_intake_batch_size", "Submissions written per transaction",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128))


class WriterUnavailable(Exception):
    """The batch could not be written (database down) or not in time; the client retries."""


class _Waiting:
    __slots__ = ("submission", "done", "outcome")

    def __init__(self, submission: Submission):
        self.submission = submission
        self.done = threading.Event()
        self.outcome: Accepted | Exception | None = None


class GroupCommit:
    def __init__(self, db: Database, max_batch: int = 64, gather_seconds: float = 0.006,
                 wait_seconds: float = 25.0, idle_recheck_seconds: float = 10.0, idle_exit_seconds: float = 60.0):
        self._db = db
        self._max_batch = max_batch
        self._gather_seconds = gather_seconds
        self._wait_seconds = wait_seconds  # below gunicorn's worker timeout (30 s)
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer_pid: int | None = None
        self._connection = None
        self._last_write = 0.0
        self._idle_recheck_seconds = idle_recheck_seconds
        self._idle_exit_seconds = idle_exit_seconds
        self._known_cases = KnownCases()

    def submit(self, submission: Submission) -> Accepted:
        """Store one submission with whichever others are waiting; raise SignatureReplayed,
        a database error, or WriterUnavailable."""
        (outcome,) = self.submit_all([submission])
        if isinstance(outcome, SignatureReplayed):
            raise outcome
        if isinstance(outcome, DBAPIError):
            raise WriterUnavailable() from outcome
        if isinstance(outcome, Exception):
            raise RuntimeError("the batch could not be written") from outcome
        return outcome

    def submit_all(self, submissions: list[Submission]) -> list[Accepted | Exception]:
        """Store submissions with whichever others are waiting; each outcome in its position:
        Accepted, SignatureReplayed, or the error its batch failed with. Raises
        WriterUnavailable when they are not written in time (they may still be: a retry with
        the same idempotency keys is safe)."""
        waiting = [_Waiting(s) for s in submissions]
        with self._lock:  # the writer cannot stop between this check and the put
            self._ensure_writer()
            for w in waiting:
                self._queue.put(w)
        deadline = time.monotonic() + self._wait_seconds
        for w in waiting:
            if not w.done.wait(max(0.0, deadline - time.monotonic())):
                raise WriterUnavailable()
        return [w.outcome for w in waiting]

    def _ensure_writer(self) -> None:
        """Start the writer if this process has none running (called under the lock).

        Started on first use in each process (gunicorn forks workers; threads do not follow)
        and again after it stopped for lack of work."""
        if self._writer_pid == os.getpid():
            return
        if self._writer_pid is not None:  # forked: the parent's queue and connection are not ours
            self._queue = queue.SimpleQueue()
            self._connection = None
        threading.Thread(target=self._write_until_idle, name="intake-group-commit", daemon=True).start()
        self._writer_pid = os.getpid()

    def _write_until_idle(self) -> None:
        """Write batches; after ``idle_exit_seconds`` without work, give the connection back
        and stop (the next request starts a writer again)."""
        busy = False
        while True:
            try:
                first = self._queue.get(timeout=self._idle_exit_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._drop_connection(invalidate=False)
                        self._writer_pid = None
                        return
                continue
            batch = [first]
            if busy and self._gather_seconds:
                time.sleep(self._gather_seconds)
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            busy = len(batch) > 1
            self._write(batch)

    def _store(self, submissions: list[Submission]) -> list[Accepted | SignatureReplayed]:
        if self._db.is_sqlite:
            # No round trips to save; and a connection held open would go on writing to a
            # database file deleted under it.
            return store_submissions(self._db.unit_of_work, submissions, self._known_cases)
        if self._connection is not None and time.monotonic() - self._last_write >= self._idle_recheck_seconds:
            # After a quiet spell the server may have gone away (a restart, an idle timeout):
            # take a connection from the pool again, which checks it before handing it over.
            self._drop_connection(invalidate=False)
        if self._connection is None:
            # Under load the writer keeps its connection: no check-out and ping per batch.
            self._connection = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._last_write = time.monotonic()
        return store_submissions_postgresql(self._connection, submissions, self._known_cases)

    def _drop_connection(self, invalidate: bool = True) -> None:
        if self._connection is not None:
            try:
                if invalidate:
                    self._connection.invalidate()
                self._connection.close()
            except Exception:  # already broken; the pool replaces it
                pass
            self._connection = None

    def _write(self, batch: list[_Waiting]) -> None:
        BATCH_SIZE.observe(len(batch))
        try:
            outcomes = self._store([w.submission for w in batch])
        except DBAPIError as exc:  # the database is down, most likely: each request answers 503
            log.warning("batch of %d not written: %s", len(batch), exc.__class__.__name__)
            self._drop_connection()
            outcomes = [exc] * len(batch)
        except Exception as exc:  # a defect: keep the writer alive, fail these requests loudly
            log.exception("batch of %d not written", len(batch))
            self._drop_connection()
            outcomes = [exc] * len(batch)
        for waiting, outcome in zip(batch, outcomes):
            waiting.outcome = outcome
            waiting.done.set()


def group_commit_for(db: Database) -> GroupCommit:
    """The process's writer, sized by MODQ_INTAKE_MAX_BATCH and MODQ_INTAKE_BATCH_GATHER_MS."""
    return GroupCommit(db, max_batch=int(env("MODQ_INTAKE_MAX_BATCH", "64")),
                       gather_seconds=float(env("MODQ_INTAKE_BATCH_GATHER_MS", "6")) / 1000)
