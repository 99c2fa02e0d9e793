"""``python -m tools.storm``: a 炎上 storm against the whole running system.

Thousands of reports on a few posts within minutes: by default 50,000 signed
``POST /v1/reports`` on 200 posts within 5 minutes, Zipf-distributed so that a handful of
posts get most of them, on top of normal traffic (a trickle of reports on distinct posts and a
moderator deciding cases through the decision API). The system runs as in production shape
with ``LocalSystem`` (its own embedded broker, free ports, a temporary var dir, fresh SQLite
or PostgreSQL databases).

It prints intake's accepted/s against the target, latency percentiles and error counts, whether
the queue stayed ordered with one case per post, the largest memory (RSS) of every service
process, and how long the classifier took to score every accepted report after the storm.
This is a benchmark, not a test: it exits 0 unless the system failed to start.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tools.broker import free_port
from tools.devrun import SERVICES, LocalSystem
from shared.settings import REPO_ROOT
from shared.signing import signed_headers
from tools.stats import percentile

CLIENT, SECRET = "storm", "storm-secret"
MODERATOR = ("moderator@example.jp", "moderator")
HOT_POSTS_SHOWN = 5
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
ABUSIVE_TEXTS = ["お前なんか消えろ。二度と来るな。", "こいつの住所を晒してやる", "馬鹿は黙ってろ",
                 "死ねばいいのに", "この店は最悪、店員を許さない"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.storm", description=__doc__.split("\n\n")[0])
    p.add_argument("--reports", type=int, default=50_000, help="storm reports (default 50000)")
    p.add_argument("--posts", type=int, default=200, help="posts the storm reports are on (default 200)")
    p.add_argument("--seconds", type=float, default=300.0, help="storm duration (default 300)")
    p.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    p.add_argument("--zipf", type=float, default=1.2, help="Zipf exponent of reports per post (default 1.2)")
    p.add_argument("--request-share", type=float, default=0.02,
                   help="share of storm reports that are §22 deletion requests (default 0.02)")
    p.add_argument("--background-rate", type=float, default=1.0,
                   help="background reports/s on distinct posts (default 1)")
    p.add_argument("--decide-every", type=float, default=3.0, help="the moderator decides one case every N s")
    p.add_argument("--sample-every", type=float, default=5.0, help="sample GET /v1/cases every N s")
    p.add_argument("--drain-timeout", type=float, default=900.0, help="give up waiting for scores after N s")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--model", default=None,
                   help="classifier checkpoint dir (default: the shipped model); 'tiny' builds a tiny random one")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per service (default 2)")
    p.add_argument("--web-threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    p.add_argument("--worker-replicas", type=int, default=None,
                   help="worker processes per service, one consumer group (default 2 on PostgreSQL, 1 on SQLite)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the var dir (databases and logs)")
    return p.parse_args(argv)


# --- the storm's shape -------------------------------------------------------------------

def storm_post_ids(posts: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"storm-{run}-{rank:04d}" for rank in range(posts)]


def zipf_plan(post_ids: list[str], reports: int, exponent: float, seed: int) -> list[str]:
    """The post of every storm report, in sending order; rank 0 is the hottest."""
    weights = [1.0 / (rank + 1) ** exponent for rank in range(len(post_ids))]
    return random.Random(seed).choices(post_ids, weights=weights, k=reports)


def post_of(post_id: str, posted_at: str) -> dict:
    text = ABUSIVE_TEXTS[zlib.crc32(post_id.encode()) % len(ABUSIVE_TEXTS)]
    return {"id": post_id, "url": f"https://sns.example.jp/posts/{post_id}", "author_id": f"a-{post_id}",
            "text": text, "posted_at": posted_at}


def report_payload(post: dict, reporter_id: str, deletion_request: bool) -> dict:
    return {
        "kind": "deletion_request" if deletion_request else "report",
        "post": post,
        "reporter": {"id": reporter_id, "is_rights_holder": deletion_request, "contact": "mail:r@example.jp"},
        "reason": "私への誹謗中傷です" if deletion_request else "嫌がらせ",
        "right_infringed": "名誉権" if deletion_request else None,
    }


# --- HTTP ------------------------------------------------------------------------------

class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        reused = self.conn is not None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # gunicorn closes a keep-alive connection idle for its keepalive seconds (5): a
            # client that waits longer between requests meets a closed socket, not a failure
            return self.request(method, path, body, headers)
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def submit(self, payload: dict) -> tuple[int, bytes]:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {**signed_headers(CLIENT, SECRET, raw), "Idempotency-Key": uuid.uuid4().hex}
        return self.request("POST", "/v1/reports", raw, headers)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def basic_auth(user: str, password: str) -> dict:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- measurements ------------------------------------------------------------------------

@dataclass
class LoadStats:
    latencies: list[float] = field(default_factory=list)   # seconds, of every answered request
    statuses: Counter = field(default_factory=Counter)      # HTTP status, or the exception's name
    accepted_by_post: Counter = field(default_factory=Counter)
    max_lag: float = 0.0                                    # how late a request left against its schedule

    def merge(self, other: "LoadStats") -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.accepted_by_post.update(other.accepted_by_post)
        self.max_lag = max(self.max_lag, other.max_lag)

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


class Storm:
    """``concurrency`` threads send the planned reports at a fixed rate (open loop: a slow
    answer does not slow the schedule down, the next request leaves late instead)."""

    def __init__(self, port: int, plan: list[str], args, stop: threading.Event):
        self.port, self.plan, self.args, self.stop = port, plan, args, stop
        self.interval = args.seconds / max(1, len(plan))
        self.next_index = itertools.count()
        self.stats, self.lock = LoadStats(), threading.Lock()
        self.posted_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
        self.started = self.ended = 0.0

    def run(self) -> LoadStats:
        self.started = time.monotonic()
        threads = [threading.Thread(target=self.drive, args=(i,), daemon=True) for i in range(self.args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.ended = time.monotonic()
        return self.stats

    def drive(self, seed: int) -> None:
        rng, client, stats = random.Random(seed), Client(self.port), LoadStats()
        while not self.stop.is_set():
            index = next(self.next_index)
            if index >= len(self.plan):
                break
            stats.max_lag = max(stats.max_lag, self.wait_for_slot(index))
            if self.stop.is_set():
                break
            self.send_one(client, stats, index, rng)
        client.close()
        with self.lock:
            self.stats.merge(stats)

    def wait_for_slot(self, index: int) -> float:
        due = self.started + index * self.interval
        delay = due - time.monotonic()
        if delay > 0:
            self.stop.wait(delay)
        return max(0.0, -delay)

    def send_one(self, client: Client, stats: LoadStats, index: int, rng: random.Random) -> None:
        post_id = self.plan[index]
        payload = report_payload(post_of(post_id, self.posted_at), f"u-storm-{index}",
                                 rng.random() < self.args.request_share)
        began = time.monotonic()
        try:
            status, _ = client.submit(payload)
        except (OSError, http.client.HTTPException) as exc:
            stats.statuses[type(exc).__name__] += 1
            return
        stats.latencies.append(time.monotonic() - began)
        stats.statuses[status] += 1
        if status == 202:
            stats.accepted_by_post[post_id] += 1


class Background(threading.Thread):
    """Normal traffic during the storm: reports on distinct posts, and a moderator who
    decides one of those cases every few seconds (the storm's posts are left for the end)."""

    def __init__(self, system: LocalSystem, args, stop: threading.Event):
        super().__init__(daemon=True)
        self.system, self.args, self.stop = system, args, stop
        self.accepted, self.statuses, self.decided = 0, Counter(), set()
        self.queue_ms: list[float] = []
        self.decision_ms: list[float] = []

    def run(self) -> None:
        intake, decision = Client(self.system.ports["intake"]), Client(self.system.ports["decision"])
        posted_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
        next_report = next_decision = time.monotonic()
        for n in itertools.count():
            if self.stop.wait(max(0.0, min(next_report, next_decision) - time.monotonic())):
                break
            if time.monotonic() >= next_report and self.args.background_rate > 0:
                self.submit_one(intake, post_of(f"bg-{uuid.uuid4().hex[:10]}", posted_at), n)
                next_report += 1.0 / self.args.background_rate
            if time.monotonic() >= next_decision:
                self.decide_one(decision)
                next_decision += self.args.decide_every
        intake.close()
        decision.close()

    def submit_one(self, client: Client, post: dict, n: int) -> None:
        try:
            status, _ = client.submit(report_payload(post, f"u-bg-{n}", deletion_request=n % 5 == 0))
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        self.statuses[status] += 1
        self.accepted += status == 202

    def decide_one(self, client: Client) -> None:
        try:
            began = time.monotonic()
            status, body = client.request("GET", "/v1/cases?limit=100", headers=basic_auth(*MODERATOR))
            self.queue_ms.append((time.monotonic() - began) * 1000)
            if status != 200:
                return
            case = next((c for c in json.loads(body)["cases"] if c["post_id"].startswith("bg-")
                         and c["score"] is not None and c["id"] not in self.decided), None)
            if case is not None:
                self.post_decision(client, case["id"])
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass

    def post_decision(self, client: Client, case_id: str) -> None:
        decision = json.dumps({"measure": "hide", "clause_id": "I-1", "reason": "侮辱に当たるため",
                               "facts": "特定の利用者への人格攻撃"}, ensure_ascii=False).encode()
        began = time.monotonic()
        client.request("POST", f"/v1/cases/{case_id}/claim", b"", basic_auth(*MODERATOR))  # deciding needs a claim
        status, _ = client.request("POST", f"/v1/cases/{case_id}/decisions", decision,
                                   {**basic_auth(*MODERATOR), "Content-Type": "application/json"})
        self.decision_ms.append((time.monotonic() - began) * 1000)
        if status == 201:
            self.decided.add(case_id)


class QueueWatcher(threading.Thread):
    """Samples ``GET /v1/cases`` (the top 500): priorities must not increase down the list, and
    no post may have more than one open case."""

    def __init__(self, port: int, every: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.every, self.stop = port, every, stop
        self.samples = self.misordered = self.duplicate_posts = self.failed = 0
        self.failures: Counter = Counter()
        self.latency_ms: list[float] = []
        self.largest_case = 0

    def run(self) -> None:
        client = Client(self.port)
        while not self.stop.wait(self.every):
            self.sample(client)
        client.close()

    def sample(self, client: Client) -> None:
        try:
            began = time.monotonic()
            status, body = client.request("GET", "/v1/cases?limit=500", headers=basic_auth(*MODERATOR))
            self.latency_ms.append((time.monotonic() - began) * 1000)
            cases = json.loads(body)["cases"] if status == 200 else None
            why = None if cases is not None else f"HTTP {status}"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            cases, why = None, type(exc).__name__
        if cases is None:
            self.failed += 1
            self.failures[why] += 1
            return
        self.check(cases)

    def check(self, cases: list[dict]) -> None:
        self.samples += 1
        priorities = [c["priority"] for c in cases]
        self.misordered += any(a < b for a, b in zip(priorities, priorities[1:]))
        posts = Counter(c["post_id"] for c in cases)
        self.duplicate_posts += sum(1 for n in posts.values() if n > 1)
        self.largest_case = max([self.largest_case] + [c["report_count"] for c in cases])


class MemorySampler(threading.Thread):
    """Largest RSS of every service process and of its children (the gunicorn workers)."""

    def __init__(self, system: LocalSystem, stop: threading.Event, every: float = 1.0):
        super().__init__(daemon=True)
        self.system, self.stop, self.every = system, stop, every
        self.first: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}

    def run(self) -> None:
        while True:
            self.sample()
            if self.stop.wait(self.every):
                break

    def sample(self) -> None:
        children = children_by_parent()
        for (service, kind), proc in list(self.system.procs.items()):
            main = "web (gunicorn master)" if kind == "web" else kind
            self.record(f"{service} {main}", rss_kib(proc.pid))
            kids = [rss_kib(pid) for pid in children.get(proc.pid, [])]
            if kids:
                self.record(f"{service} {kind} workers (largest of {len(kids)})", max(kids))

    def record(self, label: str, kib: int) -> None:
        if kib <= 0:
            return
        self.first.setdefault(label, kib)
        self.peak[label] = max(self.peak.get(label, 0), kib)
        self.last[label] = kib


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_by_parent() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    return parents


# --- databases ---------------------------------------------------------------------------

def create_databases(kind: str, var_dir: Path) -> dict[str, str]:
    if kind == "sqlite":
        return {s: f"sqlite:///{var_dir / (s + '.db')}" for s in SERVICES}
    import psycopg

    run = uuid.uuid4().hex[:8]
    urls = {}
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        for service in SERVICES:
            name = f"modq_storm_{run}_{service}"
            conn.execute(f'CREATE DATABASE "{name}"')
            urls[service] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    return urls


def drop_databases(kind: str, urls: dict[str, str]) -> None:
    if kind != "postgresql" or not urls:
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')


def count_rows(engine: sa.Engine, query: str) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query)).scalar() or 0)
    except sa.exc.SQLAlchemyError:
        return -1


def wait_until_counted(probes: dict[str, tuple[sa.Engine, str]], target: int, timeout: float,
                       stop: threading.Event) -> dict[str, tuple[float | None, int]]:
    """For each probe (an engine and a count query): seconds until its count reached ``target``
    (None: not within ``timeout``) and the last count."""
    began = time.monotonic()
    reached: dict[str, float] = {}
    counts = {name: 0 for name in probes}
    while not stop.is_set() and time.monotonic() - began < timeout:
        for name, (engine, query) in probes.items():
            if name not in reached:
                counts[name] = count_rows(engine, query)
                if counts[name] >= target:
                    reached[name] = time.monotonic() - began
        if len(reached) == len(probes):
            break
        stop.wait(0.5)
    return {name: (reached.get(name), counts[name]) for name in probes}


def hot_case_counts(engine: sa.Engine, post_ids: list[str]) -> dict[str, tuple[int, int]]:
    """post id -> (cases, reports counted on them) in the decision service's database."""
    query = sa.text("SELECT post_id, count(*), coalesce(sum(report_count), 0) FROM cases "
                    "WHERE post_id IN :ids GROUP BY post_id").bindparams(sa.bindparam("ids", expanding=True))
    try:
        with engine.connect() as conn:
            return {row[0]: (row[1], row[2]) for row in conn.execute(query, {"ids": post_ids})}
    except sa.exc.SQLAlchemyError:
        return {}


# --- the run -----------------------------------------------------------------------------

class StormSystem(LocalSystem):
    """LocalSystem whose set-up commands (migrate, seed) log to a file, not the terminal."""

    def run_cmd(self, service: str, *args: str) -> None:
        with open(self.log_dir / "setup.log", "ab") as log:
            subprocess.run([sys.executable, "-m", f"services.{service}", *args], env=self.env(), check=True,
                           cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


def build_system(args, var_dir: Path, urls: dict[str, str]) -> StormSystem:
    extra = {f"MODQ_{s.upper()}_DATABASE_URL": url for s, url in urls.items()}
    extra.update({"MODQ_SNS_CLIENTS": f"{CLIENT}:{SECRET}", "MODQ_WEB_THREADS": str(args.web_threads)})
    if args.model:
        extra["MODQ_CLASSIFIER_MODEL"] = str(resolve_model(args.model, var_dir))
    return StormSystem(var_dir=var_dir, ports={s: free_port() for s in SERVICES}, broker_port=free_port(),
                       extra_env=extra, web_workers=args.web_workers, quiet=True,
                       worker_replicas=args.worker_replicas or (2 if args.database == "postgresql" else 1))


def resolve_model(model: str, var_dir: Path) -> Path:
    if model != "tiny":
        return Path(model).resolve()
    from transformers.utils import logging as transformers_logging

    from tools.tiny_model import build_tiny_random_model

    transformers_logging.disable_progress_bar()
    return Path(build_tiny_random_model(var_dir / "tiny-model"))


def start_system(system: LocalSystem, stop: threading.Event) -> None:
    system.start_broker()
    system.prepare()
    system.start_services()
    system.wait_healthy(should_stop=stop.is_set)


def sql_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://")


@dataclass
class Outcome:
    load: LoadStats
    storm_seconds: float
    background: Background
    watcher: QueueWatcher
    memory: MemorySampler
    accepted_total: int = 0
    scored_at_storm_end: int = 0
    drain_seconds: float | None = None
    scored: int = 0
    queued_at_storm_end: int = 0
    queue_catch_up_seconds: float | None = None
    queued: int = 0
    interrupted: bool = False
    hot_post_ids: list[str] = field(default_factory=list)
    hot: dict = field(default_factory=dict)


def run_storm(system: LocalSystem, args, urls: dict[str, str], stop: threading.Event) -> Outcome:
    post_ids = storm_post_ids(args.posts)
    plan = zipf_plan(post_ids, args.reports, args.zipf, args.seed)
    observers_stop, traffic_stop = threading.Event(), threading.Event()
    memory = MemorySampler(system, observers_stop)
    watcher = QueueWatcher(system.ports["decision"], args.sample_every, observers_stop)
    background = Background(system, args, traffic_stop)
    for thread in (memory, watcher, background):
        thread.start()
    print(f"storm: {args.reports} reports on {args.posts} posts in {args.seconds:.0f} s "
          f"(target {args.reports / args.seconds:.0f}/s, hottest post {plan.count(post_ids[0])} reports)", flush=True)
    storm = Storm(system.ports["intake"], plan, args, stop)
    load = storm.run()
    traffic_stop.set()
    background.join(30)
    outcome = Outcome(load, storm.ended - storm.started, background, watcher, memory,
                      hot_post_ids=post_ids[:HOT_POSTS_SHOWN])
    measure_drain(outcome, urls, args, stop)
    outcome.interrupted = stop.is_set()
    observers_stop.set()
    for thread in (memory, watcher):
        thread.join(30)
    return outcome


SCORED = "SELECT count(*) FROM scores"
QUEUED = "SELECT count(*) FROM case_reports"


def measure_drain(outcome: Outcome, urls: dict[str, str], args, stop: threading.Event) -> None:
    """From the end of the storm until the classifier has scored, and the decision service has
    put on a case, every accepted report."""
    engines = {name: sa.create_engine(sql_url(urls[name])) for name in ("classifier", "decision")}
    try:
        outcome.accepted_total = outcome.load.accepted + outcome.background.accepted
        outcome.scored_at_storm_end = count_rows(engines["classifier"], SCORED)
        outcome.queued_at_storm_end = count_rows(engines["decision"], QUEUED)
        print(f"storm over after {outcome.storm_seconds:.1f} s: {outcome.accepted_total} accepted, "
              f"{outcome.scored_at_storm_end} scored, {outcome.queued_at_storm_end} on cases; waiting…", flush=True)
        probes = {"scored": (engines["classifier"], SCORED), "queued": (engines["decision"], QUEUED)}
        result = wait_until_counted(probes, outcome.accepted_total, args.drain_timeout, stop)
        outcome.drain_seconds, outcome.scored = result["scored"]
        outcome.queue_catch_up_seconds, outcome.queued = result["queued"]
        outcome.hot = hot_case_counts(engines["decision"], outcome.hot_post_ids)
    finally:
        for engine in engines.values():
            engine.dispose()


# --- the summary -------------------------------------------------------------------------

def print_table(title: str, header: tuple, rows: list[tuple], numeric: bool = True) -> None:
    """A plain-text table; ``numeric`` right-aligns every column but the first."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if i and numeric else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def ms(values: list[float], q: float) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]:.0f}"


def print_summary(outcome: Outcome, args) -> None:
    load, bg, watcher = outcome.load, outcome.background, outcome.watcher
    target = args.reports / args.seconds
    achieved = load.accepted / outcome.storm_seconds if outcome.storm_seconds else 0.0
    errors = sum(n for s, n in load.statuses.items() if s != 202)
    print_table("Intake under the storm", ("measure", "value"), numeric=False, rows=[
        ("reports sent / accepted (202)", f"{sum(load.statuses.values())} / {load.accepted}"),
        ("target / achieved accepted/s", f"{target:.1f} / {achieved:.1f}"),
        ("storm lasted s (planned)", f"{outcome.storm_seconds:.1f} ({args.seconds:.0f})"),
        ("latency p50 / p95 / p99 ms", " / ".join(f"{load.percentile_ms(q):.0f}" for q in (50, 95, 99))),
        ("503 / other errors", f"{load.statuses.get(503, 0)} / {errors - load.statuses.get(503, 0)}"),
        ("statuses", ", ".join(f"{s}: {n}" for s, n in sorted(load.statuses.items(), key=str))),
        ("latest request left late by s", f"{load.max_lag:.1f}"),
        ("background reports accepted", f"{bg.accepted} ({dict(bg.statuses)})"),
        ("moderator decisions", f"{len(bg.decided)} (queue p50/p95 {ms(bg.queue_ms, 50)}/{ms(bg.queue_ms, 95)} ms, "
                                f"decision p50 {ms(bg.decision_ms, 50)} ms)"),
    ])
    print_table("Queue (GET /v1/cases?limit=500 sampled)", ("measure", "value"), numeric=False, rows=[
        ("samples (failed)", f"{watcher.samples} ({watcher.failed}"
                             + (f": {dict(watcher.failures)})" if watcher.failures else ")")),
        ("samples out of priority order", watcher.misordered),
        ("posts with more than one open case", watcher.duplicate_posts),
        ("largest case seen, reports", watcher.largest_case),
        ("GET p50 / p95 ms", f"{ms(watcher.latency_ms, 50)} / {ms(watcher.latency_ms, 95)}"),
    ])
    print_hot_posts(outcome)
    print_drain(outcome)
    print_memory(outcome.memory)


def print_hot_posts(outcome: Outcome) -> None:
    rows = []
    for post_id in outcome.hot_post_ids:
        cases, counted = outcome.hot.get(post_id, (0, 0))
        rows.append((post_id, outcome.load.accepted_by_post[post_id], cases, counted))
    print_table("Hottest posts (decision service's cases)", ("post", "accepted", "cases", "reports on case"), rows)


def seconds_or_why(seconds: float | None, interrupted: bool) -> str:
    if seconds is not None:
        return f"{seconds:.1f}"
    return "interrupted" if interrupted else "not within --drain-timeout"


def print_drain(outcome: Outcome) -> None:
    drained = outcome.drain_seconds
    drain_rate = (outcome.scored - outcome.scored_at_storm_end) / drained if drained else None
    overall = outcome.scored / (outcome.storm_seconds + drained) if drained is not None else None
    print_table("Backlog after the storm", ("measure", "value"), numeric=False, rows=[
        ("accepted / scored / on cases", f"{outcome.accepted_total} / {outcome.scored} / {outcome.queued}"),
        ("not yet scored at the end of the storm", outcome.accepted_total - outcome.scored_at_storm_end),
        ("classifier: time to drain s", seconds_or_why(drained, outcome.interrupted)),
        ("classifier: scored/s while draining", f"{drain_rate:.1f}" if drain_rate else "–"),
        ("classifier: scored/s, storm start to drained", f"{overall:.1f}" if overall else "–"),
        ("not yet on a case at the end of the storm", outcome.accepted_total - outcome.queued_at_storm_end),
        ("decision: time until every report is on its case s",
         seconds_or_why(outcome.queue_catch_up_seconds, outcome.interrupted)),
    ])


def print_memory(memory: MemorySampler) -> None:
    rows = [(label, f"{memory.first[label] / 1024:.0f}", f"{memory.peak[label] / 1024:.0f}",
             f"{memory.last[label] / 1024:.0f}") for label in sorted(memory.peak)]
    print_table("Memory (RSS MiB)", ("process", "at start", "max", "at end"), rows)


# --- entry point -------------------------------------------------------------------------

def stop_on_signals(stop: threading.Event) -> None:
    def handle(signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping… (again to stop at once)", file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def main(argv=None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    stop_on_signals(stop)
    var_dir = Path(tempfile.mkdtemp(prefix="modq-storm-"))
    urls: dict[str, str] = {}
    system = None
    failed = False
    try:
        try:
            urls = create_databases(args.database, var_dir)
            system = build_system(args, var_dir, urls)
            print(f"starting modq ({args.database}, {args.web_workers}×{args.web_threads} web workers×threads, "
                  f"model {args.model or 'shipped'}; logs in {system.log_dir})…", flush=True)
            start_system(system, stop)
        except Exception as exc:
            failed = True
            print(f"error: the system did not start: {exc}", file=sys.stderr, flush=True)
            return 1
        if stop.is_set():
            return 0
        outcome = run_storm(system, args, urls, stop)
        print_summary(outcome, args)
        return 0
    finally:
        shutdown(system, args, urls, var_dir, keep=args.keep or failed)


def shutdown(system: LocalSystem | None, args, urls: dict[str, str], var_dir: Path, keep: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if system is not None:
        system.stop()
    drop_databases(args.database, urls)
    if keep:
        print(f"kept {var_dir}", flush=True)
    else:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
