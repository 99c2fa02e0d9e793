"""``python -m services.intake bench``: accepted reports per second and latency of
``POST /v1/reports`` under gunicorn, next to a bare gunicorn+Flask endpoint that parses the
same JSON and answers 202 without storing anything, in the same run, with the same gunicorn
worker class and count (intake's deployed gevent × 3 unless told otherwise).

The targets run in rounds (bare, SQLite, PostgreSQL, then again), and the summary gives each
figure's median over the rounds: on a small shared machine one 30 s run can differ from the
next by a third, and a ratio taken from two runs minutes apart says more about the machine
than about intake.

Each intake run gets a fresh database (SQLite in a temporary folder; PostgreSQL at
MODQ_BENCH_POSTGRES, default 127.0.0.1:5432 as user postgres, when it answers). The load
generator keeps one HTTP/1.1 keep-alive connection per thread over a raw socket, because
a heavier client would measure itself on a small machine; its CPU time is printed too. Each
connection is renewed after REQUESTS_PER_CONNECTION requests, as a load balancer's pool would
be: with 32 connections opened once, one gunicorn worker sometimes accepts all of them and
the run measures a single core (seen here: 1,600/s instead of 4,300/s for the bare endpoint).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from shared.cli import WORKER_CLASSES, worker_class_arguments
from shared.settings import REPO_ROOT, env
from tools.stats import percentile

BENCH_CLIENT, BENCH_SECRET = "bench", "bench-secret"
REQUESTS_PER_CONNECTION = 100
POSTS = 2000  # reports spread over this many posts: most join an existing case, some open one


def create_bare_app():
    """The yardstick: the same JSON parsed, nothing validated or stored."""
    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/v1/reports")
    def bare_reports():
        json.loads(request.get_data())
        return {"status": "accepted"}, 202

    @app.get("/healthz")
    def bare_health():
        return {"status": "ok"}

    return app


# --- load generator --------------------------------------------------------------------

def _request_bytes(port: int, now: float, rng: random.Random) -> bytes:
    kind = "deletion_request" if rng.random() < 0.2 else "report"
    body = {
        "kind": kind,
        "post": {"id": f"bench-{rng.randrange(POSTS)}", "url": "https://sns.example.jp/posts/1",
                 "author_id": "u-poster", "text": "お前なんか消えろ。二度と来るな。" * 4,
                 "posted_at": "2026-06-02T15:00:00+09:00"},
        "reporter": {"id": f"u-{rng.randrange(100_000)}", "is_rights_holder": kind == "deletion_request",
                     "contact": "mail:r@example.jp"},
        "reason": "私への誹謗中傷です" if kind == "deletion_request" else "嫌がらせ",
        "right_infringed": "名誉権" if kind == "deletion_request" else None,
    }
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    ts = str(int(now))
    digest = hmac.new(BENCH_SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    head = (f"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nX-Modq-Client: {BENCH_CLIENT}\r\nX-Modq-Timestamp: {ts}\r\n"
            f"X-Modq-Signature: v1={digest}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n\r\n")
    return head.encode("ascii") + raw


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)   # of 202 responses, seconds
    statuses: dict[int, int] = field(default_factory=dict)
    client_cpu: float = 0.0  # the load generator's CPU seconds in the measured window
    server_cpu: dict[str, float] = field(default_factory=dict)  # the same for "server", "database"

    def cpu_ms_per_accepted(self, name: str) -> float:
        return self.server_cpu.get(name, float("nan")) * 1000 / self.accepted if self.accepted else float("nan")

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def _read_response(stream) -> tuple[int, bool]:
    status = int(stream.readline().split(b" ", 2)[1])
    length, close = 0, False
    while True:
        line = stream.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    stream.read(length)
    return status, close


def _drive(port: int, start: float, stop: float, result: LoadResult, lock: threading.Lock, seed: int) -> None:
    rng = random.Random(seed)
    latencies, statuses = [], {}
    sock = stream = None
    while time.monotonic() < stop:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = sock.makefile("rb")
            sent_here = 0
        request = _request_bytes(port, time.time(), rng)
        began = time.monotonic()
        try:
            sock.sendall(request)
            status, close = _read_response(stream)
        except (OSError, ValueError, IndexError):
            status, close = -1, True
        ended = time.monotonic()
        if began >= start:  # requests sent during the warm-up are not counted
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                latencies.append(ended - began)
        sent_here += 1
        if close or sent_here >= REQUESTS_PER_CONNECTION:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    with lock:
        result.latencies.extend(latencies)
        for status, n in statuses.items():
            result.statuses[status] = result.statuses.get(status, 0) + n


def run_load(port: int, seconds: float, concurrency: int, warmup: float = 2.0,
             cpu_of: dict[str, Callable[[], float]] | None = None) -> LoadResult:
    """Drive the load; ``cpu_of`` names CPU-second counters (the server's processes, the
    database's) read when the measured window opens and when it closes."""
    result, lock = LoadResult(seconds=seconds), threading.Lock()
    cpu_of = {"client": time.process_time, **(cpu_of or {})}
    start = time.monotonic() + warmup
    stop = start + seconds
    at_start: dict[str, float] = {}
    opening = threading.Timer(warmup, lambda: at_start.update({name: read() for name, read in cpu_of.items()}))
    opening.start()
    threads = [threading.Thread(target=_drive, args=(port, start, stop, result, lock, i)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opening.join()
    result.server_cpu = {name: read() - at_start.get(name, 0.0) for name, read in cpu_of.items()}
    result.client_cpu = result.server_cpu.pop("client")
    return result


def cpu_seconds(pids) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc; 0 for one gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A gunicorn master and its workers."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


# --- servers and databases ---------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _serve(app_spec: str, port: int, args, extra_env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "--config", str(REPO_ROOT / "deploy" / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
               *worker_class_arguments(args.worker_class, args.threads),
               "--keep-alive", "30", "--no-control-socket", app_spec]
    proc = subprocess.Popen(command, env={**os.environ, **extra_env}, cwd=REPO_ROOT)
    _wait_until_serving(port, proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _postgres_dsn() -> str:
    return env("MODQ_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def _new_postgres_database() -> str | None:
    try:
        import psycopg

        name = f"modq_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(_postgres_dsn(), autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            info = conn.info
            return f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{name}"
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipping it", file=sys.stderr)
        return None


def _drop_postgres_database(url: str) -> None:
    import psycopg

    with psycopg.connect(_postgres_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')


def _measure(label: str, app_spec: str, args, extra_env: dict, db_url: str | None = None) -> LoadResult:
    port = _free_port()
    proc = _serve(app_spec, port, args, extra_env)
    cpu_of = {"server": lambda: cpu_seconds(process_tree(proc.pid))}
    if db_url and db_url.startswith("postgresql"):
        cpu_of["database"] = lambda: cpu_seconds(_postgres_backends(db_url))
    try:
        print(f"… {label}: {args.seconds:g} s at concurrency {args.concurrency}", file=sys.stderr, flush=True)
        return run_load(port, args.seconds, args.concurrency, cpu_of=cpu_of)
    finally:
        _stop(proc)


def _postgres_backends(url: str) -> list[int]:
    """The server processes connected to the benchmark's database (PostgreSQL on this machine)."""
    import psycopg

    with psycopg.connect(_postgres_dsn(), autocommit=True) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (url.rsplit("/", 1)[-1],))]


def _intake_run(label: str, db_url: str, args) -> LoadResult:
    from shared.db import migrate
    from services.intake.app import MIGRATIONS

    migrate(db_url, MIGRATIONS)
    extra = {"MODQ_INTAKE_DATABASE_URL": db_url, "MODQ_SNS_CLIENTS": f"{BENCH_CLIENT}:{BENCH_SECRET}",
             "MODQ_LOG_LEVEL": "WARNING", "MODQ_DEV_MODE": "1"}  # a bench runs on development secrets
    return _measure(label, "services.intake.app:create_app()", args, extra, db_url)


@dataclass
class Figures:
    """One target's row: what a run measured, or the median of several runs' rows."""

    rate: float
    p50: float
    p99: float
    vs_bare: float | None
    client_cpu: float      # share of one core
    server_ms: float       # CPU ms per accepted report in gunicorn
    db_ms: float           # ... in the PostgreSQL backends (nan without PostgreSQL)
    other_statuses: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, r: LoadResult, bare: LoadResult | None) -> "Figures":
        rate = r.accepted / r.seconds
        bare_rate = bare.accepted / bare.seconds if bare else 0
        return cls(rate, r.percentile(50), r.percentile(99), rate / bare_rate if bare_rate else None,
                   r.client_cpu / r.seconds, r.cpu_ms_per_accepted("server"), r.cpu_ms_per_accepted("database"),
                   {s: n for s, n in r.statuses.items() if s != 202})

    @classmethod
    def median(cls, rows: list["Figures"]) -> "Figures":
        def mid(name):
            values = [getattr(row, name) for row in rows if getattr(row, name) is not None]
            return statistics.median(values) if values else None

        others: dict[int, int] = {}
        for row in rows:
            for status, n in row.other_statuses.items():
                others[status] = others.get(status, 0) + n
        return cls(mid("rate"), mid("p50"), mid("p99"), mid("vs_bare"), mid("client_cpu"), mid("server_ms"),
                   mid("db_ms"), others)

    def line(self, label: str) -> str:
        ratio = f"{self.vs_bare:6.0%}" if self.vs_bare is not None else "     -"
        db = "" if self.db_ms != self.db_ms else f"{self.db_ms:.2f}"
        return (f"{label:<22}{self.rate:>10.0f}{self.p50:>10.1f}{self.p99:>10.1f}{ratio:>9}"
                f"{self.client_cpu:>11.0%}{self.server_ms:>10.2f}{db:>8}   {self.other_statuses or ''}")


HEADER = (f"{'target':<22}{'accepted/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>9}{'client CPU':>11}"
          f"{'server':>10}{'db':>8}   other statuses")


def _round(args) -> dict[str, Figures]:
    """One run of each target, one after the other; the intake rows are compared with this
    round's bare run."""
    bare = _measure("bare gunicorn+Flask", "tools.bench.intake:create_bare_app()", args, {})
    rows = {BARE: Figures.of(bare, None)}
    with tempfile.TemporaryDirectory(prefix="modq-bench-") as tmp:
        rows["intake, SQLite"] = Figures.of(_intake_run("intake, SQLite", f"sqlite:///{tmp}/intake.db", args), bare)
    pg_url = None if args.no_postgres else _new_postgres_database()
    if pg_url:
        try:
            rows["intake, PostgreSQL"] = Figures.of(_intake_run("intake, PostgreSQL", pg_url, args), bare)
        finally:
            _drop_postgres_database(pg_url)
    return rows


BARE = "bare (parse, 202)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per target (default 30)")
    parser.add_argument("--concurrency", type=int, default=32)
    # Intake's deployed layout (deploy/), for every target: the yardstick runs the same
    # worker class and count as intake.
    parser.add_argument("--worker-class", choices=WORKER_CLASSES, default="gevent",
                        help="gunicorn worker class for every target (default gevent, intake's)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers for every target (default 3)")
    parser.add_argument("--threads", type=int, default=12, help="threads per worker, gthread only (default 12)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (bare, SQLite, PostgreSQL) in turn; the summary is each figure's median "
                             "(default 3: this machine's speed drifts between runs)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    rounds = [_round(args) for _ in range(args.rounds)]
    layout = (f"gthread {args.workers} workers × {args.threads} threads" if args.worker_class == "gthread"
              else f"{args.worker_class} {args.workers} workers")
    print(f"\nPOST /v1/reports, {args.seconds:g} s each, concurrency {args.concurrency}, gunicorn {layout}, "
          f"{os.cpu_count()} CPUs; server and db: CPU ms per accepted report")
    if args.rounds > 1:
        print(f"each round, in the order run:\n  {HEADER}")
        for number, rows in enumerate(rounds, 1):
            for label, figures in rows.items():
                print(f"{number:<2}{figures.line(label)}")
        print(f"median of {args.rounds} rounds:")
    print(HEADER)
    for label in rounds[0]:
        print(Figures.median([rows[label] for rows in rounds if label in rows]).line(label))
    return 0

