"""Decision projection benchmark (not a test): ``python -m tools.bench.projection``.

Feeds ``report.received`` and ``report.scored`` events straight to the decision worker's batch
handler (``services.decision.handlers.handle_events``, no broker) on a fresh PostgreSQL
database, in batches the size the consumer polls (64), and prints the milliseconds per report
(each report with its score) for two shapes: every report on one hot post (a 炎上), and the
reports spread over 200 posts. Scores come in mixed order: most after their report, some a
batch ahead of it (held, then applied when the report arrives), as they do when the two topics
are consumed side by side.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import uuid

from shared import clock
from shared.events import REPORT_RECEIVED, REPORT_SCORED, Envelope, make_event, parse_event
from tools.bench.decision import drop_database, fresh_database, make_bench_runtime

BATCH = 64


def report_event(case_id: str, post_id: str, reporter: str, kind: str, at: dt.datetime) -> Envelope:
    report_id = str(uuid.uuid4())
    data = {"report_id": report_id, "case_id": case_id, "kind": kind, "treated_as": kind,
            "received_at": at.isoformat(),
            "deadline_at": clock.s25_deadline(at).isoformat() if kind == "deletion_request" else None,
            "post": {"id": post_id, "url": f"https://sns.example.jp/posts/{post_id}", "author_id": "u-poster",
                     "text": "お前なんか消えろ", "posted_at": at.isoformat()},
            "reporter": {"id": reporter, "is_rights_holder": kind == "deletion_request", "contact": "mail:r@example.jp"},
            "reason": "嫌がらせ", "right_infringed": "名誉権" if kind == "deletion_request" else None}
    return make_event(REPORT_RECEIVED, source="/bench", subject=case_id, data=data)


def score_event(report: Envelope, rng: random.Random) -> Envelope:
    score = round(rng.random(), 4)
    return make_event(REPORT_SCORED, source="/bench", subject=report.data["case_id"], data={
        "report_id": report.data["report_id"], "case_id": report.data["case_id"], "score": score,
        "categories": {"insult": score, "none": round(1 - score, 4)}, "model_version": "bench-1",
        "scored_at": report.data["received_at"]})


def stream(count: int, posts: int, seed: int = 11) -> list[Envelope]:
    """Reports and their scores interleaved as two topics consumed together would deliver them:
    a score mostly a little after its report, one in ten a little before."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    cases = [(f"bench-case-{i}", f"bench-post-{i}") for i in range(posts)]
    keyed = []
    for i in range(count):
        case_id, post_id = cases[i % posts]
        kind = "deletion_request" if i % 10 == 0 else "report"
        report = report_event(case_id, post_id, f"r-{rng.randrange(count // 2 + 1)}", kind,
                              now - dt.timedelta(seconds=count - i))
        keyed.append((i, report))
        keyed.append((i + rng.uniform(-BATCH / 2, BATCH * 1.5) if rng.random() < 0.9
                      else i - rng.uniform(1, BATCH), score_event(report, rng)))
    return [parse_event(env.to_json()) for _, env in sorted(keyed, key=lambda pair: pair[0])]


def run(runtime, events: list[Envelope]) -> float:
    from services.decision.cases.projection import resolve_pending_scores
    from services.decision.handlers import handle_events

    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        handle_events(runtime.db, events[i:i + BATCH])
    # Scores that came before their report in an earlier batch are applied by then; a last
    # sweep catches any left (the worker's pending-scores job does this every 10 s).
    resolve_pending_scores(runtime.db, dt.timedelta(hours=1))
    return time.perf_counter() - started


def check(runtime, count: int) -> dict:
    import sqlalchemy as sa

    from services.decision.cases.models import Case, CaseReport

    with runtime.db.sessions() as session:
        reports = session.scalar(sa.select(sa.func.sum(Case.report_count)))
        scored = session.scalar(sa.select(sa.func.count()).select_from(CaseReport).where(CaseReport.score.is_not(None)))
    return {"reports_on_cases": reports, "scored": scored, "expected": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.projection")
    parser.add_argument("--reports", type=int, default=640)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    for label, posts in (("one hot post", 1), ("200 posts", 200)):
        name = fresh_database(args.admin_url)
        url = args.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
        try:
            runtime = make_bench_runtime(url)
            events = stream(args.reports, posts)
            seconds = run(runtime, events)
            figures = check(runtime, args.reports)
            runtime.db.engine.dispose()
        finally:
            drop_database(args.admin_url, name)
        print(f"{label}: {args.reports} reports + scores in {seconds:.2f} s, "
              f"{1000 * seconds / args.reports:.1f} ms per report; {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
