"""Property test against the real broker: a random stream of deletion requests, reports and
decisions (random receipt times, around month and year ends, repeats, interim steps, own-post
measures) goes through the notifier worker running as its own process; the notices read back
from the topics must satisfy the law, also when the worker is killed with SIGKILL mid-stream.

- every deletion request: exactly one ACK; exactly one final N1/N2, or (repeat requests) a
  recorded §25(1) proviso exception and no final notice;
- whenever the final decision came after the §25 deadline, an N3 decided before the deadline;
- every measure: one N4 or a recorded §27 exception, never both;
- a notice id never comes with different content; reports (通報) get no notice.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from shared import clock
from shared.db import Database
from shared.events import DECISION_RECORDED, REPORT_RECEIVED, make_event
from tools.notifier_harness import NotifierProcess, Publisher, TopicReader, create_topics, fresh_topics
from services.notifier.models import Inbox, Notice, NoticeException, Outbox

pytestmark = [pytest.mark.broker]

UTC = dt.timezone.utc
JST = ZoneInfo("Asia/Tokyo")
DAY = dt.timedelta(days=1)
MEASURES = ("remove", "hide", "suspend_account", "no_action")
STEPS = {"poster_inquiry": "i", "refer_specialist": "ii", "delay_other": "iii"}
CLAUSES = [{"id": f"D-{i}", "version": "2025.1", "title": f"基準{i}", "text": f"基準{i}の本文",
            "published_at": "2025-01-01T00:00:00+09:00"} for i in range(1, 4)]
# Bases just before month and year ends, so deadlines cross them.
BASES = [dt.datetime(2025, 12, 27, tzinfo=JST), dt.datetime(2026, 1, 27, tzinfo=JST),
         dt.datetime(2028, 2, 24, tzinfo=JST), dt.datetime(2025, 4, 28, tzinfo=JST)]


@dataclass
class Request:
    report_id: str
    case_id: str
    requester_id: str
    received_at: dt.datetime
    is_repeat: bool
    kind: str = "deletion_request"

    @property
    def deadline(self) -> dt.datetime:
        return clock.s25_deadline(self.received_at)


@dataclass
class Stream:
    events: list = field(default_factory=list)          # (time, topic key, envelope)
    requests: list[Request] = field(default_factory=list)
    finals: dict = field(default_factory=dict)            # case_id -> final decision data
    steps: dict = field(default_factory=dict)             # case_id -> step decision data


def receipt_time(rnd: random.Random, start: dt.datetime) -> dt.datetime:
    """Random instants, with the edges (00:00:00 and 23:59:59 JST) over-represented."""
    day = (start + dt.timedelta(days=rnd.randrange(0, 3))).astimezone(JST).date()
    edge = rnd.random()
    if edge < 0.2:
        return dt.datetime.combine(day, dt.time(0, 0, 0), tzinfo=JST)
    if edge < 0.4:
        return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=JST)
    return dt.datetime.combine(day, dt.time(0), tzinfo=JST) + dt.timedelta(seconds=rnd.randrange(86400))


def build_stream(seed: int, cases: int, base: dt.datetime, repeat_rate: float, step_rate: float) -> Stream:
    rnd = random.Random(seed)
    stream = Stream()
    posters = [f"poster-{i}" for i in range(max(1, cases // 3))]   # shared posters: §27(ii) happens
    for c in range(cases):
        start = base + dt.timedelta(hours=rnd.randrange(0, 24 * 10))
        case_id = f"case-{seed}-{c}"
        post = {"id": f"post-{seed}-{c}", "url": f"https://sns.example.jp/posts/{c}", "author_id": rnd.choice(posters),
                "text": "投稿本文", "posted_at": (start - DAY).isoformat()}
        requests = make_requests(rnd, case_id, start, repeat_rate)
        for r in requests:
            stream.events.append((r.received_at, "reports", report_event(r, post)))
        deletion = [r for r in requests if r.kind == "deletion_request"]
        stream.requests += deletion
        last_receipt = max(r.received_at for r in requests)
        final_at = plan_decisions(rnd, stream, case_id, post, deletion, last_receipt, step_rate)
        assert final_at >= last_receipt
    stream.events.sort(key=lambda e: e[0])
    return stream


def make_requests(rnd, case_id, start, repeat_rate) -> list[Request]:
    requests = []
    for j in range(rnd.randint(1, 3)):
        requests.append(Request(str(uuid.UUID(int=rnd.getrandbits(128))), case_id, f"req-{case_id}-{j}",
                                receipt_time(rnd, start), False))
    if rnd.random() < repeat_rate:   # the same requester files the same request again, later
        first = min(requests, key=lambda r: r.received_at)
        requests.append(Request(str(uuid.UUID(int=rnd.getrandbits(128))), case_id, first.requester_id,
                                first.received_at + dt.timedelta(minutes=rnd.randint(1, 600)), True))
    if rnd.random() < 0.2:           # a user report (通報): no §25 duty, no notice
        requests.append(Request(str(uuid.UUID(int=rnd.getrandbits(128))), case_id, f"rep-{case_id}",
                                receipt_time(rnd, start), False, kind="report"))
    return requests


def plan_decisions(rnd, stream, case_id, post, deletion, last_receipt, step_rate) -> dt.datetime:
    """A lawful timeline: with an interim step, the step comes after every receipt and before
    every deadline, and the final may come much later; without one, the final comes before
    every deadline."""
    earliest_deadline = min((r.deadline for r in deletion), default=last_receipt + 7 * DAY)
    room = earliest_deadline - last_receipt
    if rnd.random() < step_rate:
        step_at = last_receipt + room * rnd.uniform(0.01, 0.99)
        action = rnd.choice(list(STEPS))
        stream.steps[case_id] = decision(rnd, case_id, post, deletion, action, step_at)
        stream.events.append((step_at, "decisions", event_of(stream.steps[case_id])))
        final_at = step_at + dt.timedelta(seconds=rnd.randrange(1, 12 * 86400))
    else:
        final_at = last_receipt + room * rnd.uniform(0.01, 0.99)
    measure = rnd.choice(MEASURES)
    stream.finals[case_id] = decision(rnd, case_id, post, deletion, measure, final_at)
    stream.events.append((final_at, "decisions", event_of(stream.finals[case_id])))
    return final_at


def decision(rnd, case_id, post, deletion, action, at) -> dict:
    final = action in MEASURES
    own_post = final and action != "no_action" and rnd.random() < 0.05
    return {
        "decision_id": str(uuid.UUID(int=rnd.getrandbits(128))), "case_id": case_id, "action": action, "final": final,
        "measure": action if final else None, "clause": None if own_post or action == "no_action" else rnd.choice(CLAUSES),
        "exception_code": "own_post" if own_post else None, "reason": "判断の理由", "requester_reason": "申出者に伝える理由", "facts": "認定した事実",
        "delay_item": STEPS.get(action), "decided_at": at.astimezone(UTC).isoformat(), "decided_by": "mod-1",
        "post": post, "poster": {"id": post["author_id"]},
        "requests": [{"report_id": r.report_id, "kind": "deletion_request", "requester": {"id": r.requester_id},
                      "received_at": r.received_at.isoformat(), "is_repeat": r.is_repeat,
                      "right_infringed": "名誉権", "reason": "虚偽の事実"} for r in deletion if r.received_at <= at]}


def event_of(data: dict):
    return make_event(DECISION_RECORDED, source="/test/decision", subject=data["case_id"], data=data,
                      id=data["decision_id"], time=clock.parse_instant(data["decided_at"]))


def report_event(r: Request, post: dict):
    return make_event(REPORT_RECEIVED, source="/test/intake", subject=r.case_id, id=r.report_id, data={
        "report_id": r.report_id, "case_id": r.case_id, "kind": r.kind, "treated_as": r.kind,
        "received_at": r.received_at.isoformat(), "post": post, "reporter": {"id": r.requester_id},
        "reason": "虚偽の事実", "right_infringed": "名誉権", "is_repeat": r.is_repeat})


# --- running it -----------------------------------------------------------------------------

class Run:
    def __init__(self, broker, workdir: Path):
        self.topics = fresh_topics()
        create_topics(broker.bootstrap, self.topics)
        self.db_url = f"sqlite:///{workdir / 'notifier.db'}"
        self.worker = NotifierProcess(broker.bootstrap, self.db_url, self.topics, workdir / "worker.log",
                                      extra_env={"MODQ_CLOCK_CHECK_SECONDS": "3600"})
        self.worker.migrate()
        self.db = Database(self.db_url)
        self.publisher = Publisher(broker.bootstrap)
        self.bootstrap = broker.bootstrap

    def publish(self, events) -> None:
        topic_of = {"reports": self.topics["reports_received"], "decisions": self.topics["decisions_recorded"]}
        for _at, key, envelope in events:
            self.publisher.send(topic_of[key], envelope)
        self.publisher.flush()

    def processed(self) -> int:
        with self.db.sessions() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(Inbox)) or 0

    def wait_processed(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.sessions() as s:
                done = s.scalar(sa.select(sa.func.count()).select_from(Inbox)) or 0
                backlog = s.scalar(sa.select(sa.func.count()).select_from(Outbox).where(Outbox.published_at.is_(None)))
            if done >= count and backlog == 0:
                return
            time.sleep(0.3)
        raise AssertionError(f"notifier processed {done}/{count} events, outbox backlog {backlog}; "
                             f"see {self.worker.log_path}")

    def read_notices(self, timeout: float = 60.0) -> list:
        with self.db.sessions() as s:
            expected = set(s.scalars(sa.select(Notice.notice_id).where(Notice.status != "held")))
        reader = TopicReader(self.bootstrap, [self.topics["notices_requester"], self.topics["notices_poster"]])
        messages, deadline = [], time.monotonic() + timeout
        try:
            while {e.id for _t, e, _a in messages} < expected and time.monotonic() < deadline:
                messages += reader.poll(500)
        finally:
            reader.close()
        assert {e.id for _t, e, _a in messages} == expected
        return [e for _t, e, _a in messages]

    def exceptions(self) -> list[NoticeException]:
        with self.db.sessions() as s:
            return list(s.scalars(sa.select(NoticeException)))

    def close(self) -> None:
        self.worker.stop()
        self.publisher.close()


def check_the_law(stream: Stream, messages: list, exceptions: list[NoticeException]) -> None:
    by_id = defaultdict(set)
    for e in messages:
        by_id[e.id].add(json.dumps(e.data, sort_keys=True, ensure_ascii=False))
    assert all(len(bodies) == 1 for bodies in by_id.values()), "a notice id came with different content"
    notices = {e.id: e.data for e in messages}
    per_request = defaultdict(lambda: defaultdict(list))
    for n in notices.values():
        if n["request_id"]:
            per_request[n["request_id"]][n["notice_type"]].append(n)
    repeat_exceptions = {x.request_id for x in exceptions if x.reason_code == "repeat_request"}
    deletion_ids = {r.report_id for r in stream.requests}
    assert set(per_request) <= deletion_ids, "a report (通報) got a notice"
    for r in stream.requests:
        got = per_request[r.report_id]
        assert len(got["ACK"]) == 1, (r, dict(got))
        finals = got["N1"] + got["N2"]
        final_decision = stream.finals[r.case_id]
        if r.is_repeat:
            assert not finals and r.report_id in repeat_exceptions, r
            continue
        assert len(finals) == 1 and r.report_id not in repeat_exceptions, (r, dict(got))
        assert finals[0]["notice_type"] == ("N2" if final_decision["measure"] == "no_action" else "N1")
        assert len(got["N3"]) <= 1
        if clock.parse_instant(final_decision["decided_at"]) > r.deadline:
            (n3,) = got["N3"]
            assert clock.parse_instant(n3["details"]["decided_at"]) <= r.deadline, (r, n3)
            assert n3["details"]["delay_item"] in ("i", "ii", "iii")
    n4_by_decision = defaultdict(int)
    for n in notices.values():
        if n["notice_type"] == "N4":
            n4_by_decision[n["decision_id"]] += 1
    n4_exceptions = defaultdict(int)
    for x in exceptions:
        if x.notice_type == "N4":
            n4_exceptions[x.decision_id] += 1
    for d in stream.finals.values():
        if d["measure"] != "no_action":
            assert n4_by_decision[d["decision_id"]] + n4_exceptions[d["decision_id"]] == 1, d
    inquiries = [n for n in notices.values() if n["notice_type"] == "INQ"]
    assert len(inquiries) == sum(s["action"] == "poster_inquiry" for s in stream.steps.values())


scenarios = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31), "cases": st.integers(80, 160), "base": st.sampled_from(BASES),
    "repeat_rate": st.floats(0.0, 0.3), "step_rate": st.floats(0.2, 0.8)})
SETTINGS = settings(max_examples=2, deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(scenario=scenarios)
def test_every_request_and_measure_gets_its_notices_exactly_once(broker, scenario):
    stream = build_stream(**scenario)
    with tempfile.TemporaryDirectory() as workdir:
        run = Run(broker, Path(workdir))
        try:
            run.worker.start()
            run.publish(stream.events)
            run.wait_processed(len(stream.events))
            check_the_law(stream, run.read_notices(), run.exceptions())
        finally:
            run.close()


@settings(SETTINGS, max_examples=2)
@given(scenario=scenarios, kill_after=st.floats(0.1, 0.9))
def test_the_same_holds_when_the_worker_is_killed_mid_stream(broker, scenario, kill_after):
    stream = build_stream(**scenario)
    split = int(len(stream.events) * kill_after)
    with tempfile.TemporaryDirectory() as workdir:
        run = Run(broker, Path(workdir))
        try:
            run.worker.start()
            run.publish(stream.events[:split])
            wait_until_busy(run, split)
            run.worker.kill_9()
            run.publish(stream.events[split:])
            run.worker.start()
            run.wait_processed(len(stream.events))
            check_the_law(stream, run.read_notices(), run.exceptions())
        finally:
            run.close()


def wait_until_busy(run: Run, published: int, timeout: float = 60.0) -> None:
    """Kill while the worker is in the middle of the published part, not before or after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.processed() < max(1, published // 3):
        time.sleep(0.02)
