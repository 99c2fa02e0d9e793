"""Queue performance benchmark (not a test): ``python -m services.decision bench``.

Creates a fresh PostgreSQL database, bulk-loads open cases with COPY, then times the queue API
(``GET /v1/cases?limit=50``) and the queue page (``GET /queue``) through the Flask test client,
first with ``ix_cases_queue`` and then without it, and prints the query plans. The goal is a
p95 under 100 ms with 100,000 open cases.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import time
import uuid

import sqlalchemy as sa

from shared import clock
from shared.db import Database, utcnow
from shared.settings import ServiceSettings
from shared.runtime import Runtime
from tools.stats import percentile
from services.decision.cases import domain, service
from services.decision.users.service import issue_token, provision_dev_users
from services.decision.models import Outbox

CATEGORIES = ["insult", "defamation", "privacy", "threat", "discrimination", "sexual", "none"]
CASE_COLUMNS = ("id", "post_id", "author_id", "post", "status", "priority", "score", "top_category", "categories",
                "model_version", "reporter_count", "report_count", "request_count", "next_deadline_at",
                "reason_categories", "notice_blocked", "version", "created_at", "updated_at")


def fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"modq_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_bench_runtime(url: str) -> Runtime:
    from services.decision.app import MIGRATIONS

    settings = dataclasses.replace(ServiceSettings.for_service("decision"), database_url=url)
    runtime = Runtime(settings=settings, db=Database(url), outbox_model=Outbox, migrations_dir=MIGRATIONS)
    runtime.migrate()
    return runtime


def case_rows(count: int, now: dt.datetime, seed: int = 7):
    """Plausible open cases: a fifth with a running §25 clock, a few near their deadline."""
    rng = random.Random(seed)
    for n in range(count):
        score = rng.random()
        category = rng.choice(CATEGORIES)
        categories = {category: score, "none": round(1 - score, 3)}
        has_request = rng.random() < 0.2
        deadline = now + dt.timedelta(hours=rng.uniform(-2, 7 * 24)) if has_request else None
        reporters = rng.randint(1, 12)
        created = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        priority = domain.compute_priority(score=score, categories=categories, reporter_count=reporters,
                                           has_request=has_request, next_deadline_at=deadline, now=now,
                                           warning=clock.warning_window())
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        post = {"id": f"p-{n}", "url": f"https://sns.example.jp/posts/{n}", "author_id": f"u-{n % 20000}",
                "text": f"ベンチマーク用の投稿 {n}：" + "あいうえお" * rng.randint(2, 20),
                "posted_at": created.isoformat(), "media": []}
        yield (case_id, f"p-{n}", f"u-{n % 20000}", json.dumps(post, ensure_ascii=False), "open", priority, score,
               domain.top_category(categories), json.dumps(categories), "bench-1", reporters, reporters,
               int(has_request), deadline, json.dumps([category]), rng.random() < 0.01, 1, created, now)


def load_cases(url: str, count: int) -> float:
    """COPY the rows in: one round trip per batch, no ORM."""
    import psycopg

    started = time.perf_counter()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
            for row in case_rows(count, utcnow()):
                copy.write_row(row)
        conn.commit()
    with psycopg.connect(plain, autocommit=True) as conn:
        # What autovacuum does soon after a bulk load: statistics, and the visibility map that
        # lets the counters use index-only scans.
        conn.execute("VACUUM ANALYZE cases")
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> dict:
    return {"p50_ms": round(percentile(samples, 50) * 1000, 1), "p95_ms": round(percentile(samples, 95) * 1000, 1),
            "max_ms": round(max(samples) * 1000, 1)}


def time_requests(client, path: str, headers: dict, repeat: int) -> dict:
    for _ in range(5):  # warm caches and the connection pool
        assert client.get(path, headers=headers).status_code == 200
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return percentiles(samples)


def explain(db: Database) -> dict:
    """The queue query's plan, and the time of the counters' single query."""
    queue_sql = "SELECT * FROM cases WHERE status = 'open' ORDER BY priority DESC, created_at ASC LIMIT 50"
    with db.engine.connect() as conn:
        plan = [row[0] for row in conn.execute(sa.text("EXPLAIN ANALYZE " + queue_sql))]
    with db.sessions() as session:
        started = time.perf_counter()
        service.queue_counts(session, utcnow())
        counts_ms = round((time.perf_counter() - started) * 1000, 1)
        counts_sql = str(service.queue_counts_query(utcnow()).compile(
            db.engine, compile_kwargs={"literal_binds": True}))
        counts_plan = [row[0] for row in session.execute(sa.text("EXPLAIN ANALYZE " + counts_sql))]
    return {"queue_plan": plan, "counts_ms": counts_ms, "counts_plan": counts_plan}


def measure(runtime: Runtime, repeat: int) -> dict:
    from services.decision.app import create_app

    app = create_app(runtime)
    app.config["WTF_CSRF_ENABLED"] = False  # the bench signs in through the form once
    moderator = _moderator(runtime.db)
    token = issue_token(runtime.db, moderator.id, "bench")
    client = app.test_client()
    page_client = app.test_client()
    page_client.post("/login", data={"email": "moderator@example.jp", "password": "moderator"})
    bearer = {"Authorization": f"Bearer {token}"}
    return {"api": time_requests(client, "/v1/cases?limit=50", bearer, repeat),
            "page": time_requests(page_client, "/queue", {}, repeat), **explain(runtime.db)}


def _moderator(db: Database):
    from services.decision.users.models import User

    with db.sessions() as session:
        return session.scalar(sa.select(User).where(User.email == "moderator@example.jp"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.decision bench")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL connection allowed to CREATE DATABASE")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    name = fresh_database(args.admin_url)
    url = args.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        runtime = make_bench_runtime(url)
        provision_dev_users(runtime.db)
        from services.decision.criteria.seed import seed_starter_criteria

        seed_starter_criteria(runtime.db, backdate=True)
        load_s = load_cases(url, args.cases)
        print(f"database {name}: {args.cases} open cases loaded with COPY in {load_s:.1f} s")
        with_index = measure(runtime, args.repeat)
        _report("with ix_cases_queue", with_index)
        with runtime.db.engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_cases_queue"))
            conn.execute(sa.text("ANALYZE cases"))
        without_index = measure(runtime, args.repeat)
        _report("without ix_cases_queue", without_index)
        runtime.db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(args.admin_url, name)
    ok = with_index["api"]["p95_ms"] < 100 and with_index["page"]["p95_ms"] < 100
    print("goal p95 < 100 ms: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


def _report(label: str, result: dict) -> None:
    print(f"\n== {label}")
    print(f"GET /v1/cases?limit=50  p50 {result['api']['p50_ms']} ms  p95 {result['api']['p95_ms']} ms  "
          f"max {result['api']['max_ms']} ms")
    print(f"GET /queue              p50 {result['page']['p50_ms']} ms  p95 {result['page']['p95_ms']} ms  "
          f"max {result['page']['max_ms']} ms")
    print(f"queue_counts (one query) {result['counts_ms']} ms; its plan:")
    for line in result["counts_plan"]:
        if "Scan" in line or "Execution" in line:
            print("   " + line.strip())
    print("EXPLAIN ANALYZE queue query:")
    for line in result["queue_plan"]:
        print("   " + line)
