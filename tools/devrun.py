"""Run the whole system locally: embedded broker, SQLite databases under var/, the four
services (a gunicorn web process and a worker each). ``make run`` calls this; the end-to-end
and fault tests use ``LocalSystem`` to run the same processes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tools.broker import EmbeddedBroker, die_with_parent, port_open
from shared.settings import DEFAULT_PORTS, DEV_MODE_VARIABLE, REPO_ROOT, env

SERVICES = ("intake", "classifier", "decision", "notifier")
DEV_POST_URL_PATTERN = r"^https?://sns\.example\.jp/posts/(?P<post_id>[A-Za-z0-9_-]+)/?(?:[?#].*)?$"


@dataclass
class LocalSystem:
    var_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    bootstrap: str | None = None          # an existing broker; None starts the embedded one
    broker_port: int = 9092
    extra_env: dict[str, str] = field(default_factory=dict)
    web_workers: int = 1
    worker_replicas: int = 1     # worker processes per service: "worker", "worker-2", …
    quiet: bool = False
    worker_metrics: bool = False  # workers serve /metrics on their web port + 1000

    def __post_init__(self):
        self.var_dir = Path(self.var_dir)
        self.log_dir = self.var_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker: EmbeddedBroker | None = None
        self.procs: dict[tuple[str, str], subprocess.Popen] = {}

    # -- environment ---------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        base = {**os.environ, "MODQ_VAR_DIR": str(self.var_dir), "PYTHONUNBUFFERED": "1",
                # A local system runs on the development secrets (shared.settings.secret).
                DEV_MODE_VARIABLE: os.environ.get(DEV_MODE_VARIABLE) or "1",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap or self.broker.bootstrap}
        if self.broker is not None:
            # Tansu joins a new consumer group in ~session_timeout/2: keep it short locally.
            base.setdefault("MODQ_KAFKA_SESSION_TIMEOUT_MS", "2000")
            base.setdefault("MODQ_KAFKA_HEARTBEAT_INTERVAL_MS", "500")
        # The development SNS's post URLs end in the post's id (https://sns.example.jp/posts/<id>): a
        # form request about a post then joins the case of the SNS's own reports on that post.
        if not base.get("MODQ_INTAKE_POST_URL_PATTERN"):
            base["MODQ_INTAKE_POST_URL_PATTERN"] = DEV_POST_URL_PATTERN
        for name, port in self.ports.items():
            base[f"MODQ_{name.upper()}_PORT"] = str(port)
            if self.worker_metrics:
                base[f"MODQ_{name.upper()}_WORKER_METRICS_PORT"] = str(port + 1000)
        base.update(self.extra_env)
        return base

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # -- lifecycle -----------------------------------------------------------------------
    def start_broker(self) -> None:
        if self.bootstrap:
            return
        self.broker = EmbeddedBroker(port=self.broker_port, log_path=self.log_dir / "broker.log").start()

    def restart_broker(self) -> None:
        """Stop the embedded broker and start a new one on the same port (it has lost everything)."""
        assert self.broker is not None
        self.broker.stop()
        self.broker = EmbeddedBroker(port=self.broker.port, log_path=self.log_dir / "broker.log").start()

    def run_cmd(self, service: str, *args: str) -> None:
        subprocess.run([sys.executable, "-m", f"services.{service}", *args], env=self.env(), check=True,
                       cwd=REPO_ROOT, stdout=subprocess.DEVNULL if self.quiet else None)

    def prepare(self) -> None:
        from shared.kafka import ensure_topics
        from shared.settings import DEFAULT_TOPICS, KafkaSettings

        names = [self.env().get(f"MODQ_TOPIC_{k.upper()}", v) for k, v in DEFAULT_TOPICS.items()]
        kafka = KafkaSettings.from_env()
        ensure_topics(type(kafka)(**{**kafka.__dict__, "bootstrap_servers": self.env()["KAFKA_BOOTSTRAP_SERVERS"]}),
                      names)
        for service in SERVICES:
            self.run_cmd(service, "migrate")
        self.run_cmd("decision", "seed", "--dev-users", "--backdate-criteria")

    def worker_kinds(self) -> list[str]:
        return ["worker"] + [f"worker-{i}" for i in range(2, self.worker_replicas + 1)]

    def start_process(self, service: str, kind: str) -> subprocess.Popen:
        """Start ``kind`` (``web``, ``worker`` or a further replica ``worker-2``…) of a service."""
        args = [sys.executable, "-m", f"services.{service}", kind.split("-")[0]]
        if kind == "web":
            args += ["--workers", str(self.web_workers)]
        log = open(self.log_dir / f"{service}-{kind}.log", "ab")
        # Own session: Ctrl-C reaches only the runner, which stops the children in order.
        proc = subprocess.Popen(args, env=self.env(), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent, start_new_session=True)
        self.procs[(service, kind)] = proc
        return proc

    def start_services(self) -> None:
        for service in SERVICES:
            if port_open("127.0.0.1", self.ports[service]):
                raise RuntimeError(f"port {self.ports[service]} for {service} is in use; "
                                   f"set MODQ_{service.upper()}_PORT to another port")
        for service in SERVICES:
            self.start_process(service, "web")
            for kind in self.worker_kinds():
                self.start_process(service, kind)

    def wait_healthy(self, timeout: float = 300.0, should_stop=lambda: False) -> None:
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline and not should_stop():
            for service in list(pending):
                for kind in ("web", *self.worker_kinds()):
                    proc = self.procs.get((service, kind))
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"{service} {kind} exited with {proc.returncode}; "
                                           f"see {self.log_dir / f'{service}-{kind}.log'}")
                if self.healthy(service):
                    pending.discard(service)
            time.sleep(0.3)
        if pending and not should_stop():
            raise RuntimeError(f"not healthy after {timeout:.0f}s: {sorted(pending)} (logs in {self.log_dir})")

    def healthy(self, service: str) -> bool:
        try:
            with urllib.request.urlopen(self.url(service) + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except Exception:
            return False

    def kill(self, service: str, kind: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[(service, kind)]
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(30)

    def start(self) -> "LocalSystem":
        self.start_broker()
        self.prepare()
        self.start_services()
        self.wait_healthy()
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.broker:
            self.broker.stop()


def main() -> int:
    bootstrap = env("KAFKA_BOOTSTRAP_SERVERS")
    system = LocalSystem(var_dir=Path(env("MODQ_VAR_DIR", str(REPO_ROOT / "var"))), bootstrap=bootstrap,
                         ports={s: int(env(f"MODQ_{s.upper()}_PORT", str(p))) for s, p in DEFAULT_PORTS.items()},
                         web_workers=int(env("MODQ_WEB_WORKERS", "2")), worker_metrics=True)
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        system.start_broker()
        print(f"broker: {bootstrap or system.broker.bootstrap}{'' if bootstrap else ' (embedded, in memory)'}", flush=True)
        system.prepare()
        system.start_services()
        print("starting services (the classifier loads its model)…", flush=True)
        system.wait_healthy(should_stop=lambda: stopping)
        if stopping:
            return 0
        print(f"""
modq is running (logs in {system.log_dir}):
  intake      {system.url('intake')}      POST /v1/reports, /openapi.json
  classifier  {system.url('classifier')}  POST /v1/score
  decision    {system.url('decision')}    web view: {system.url('decision')}/queue
  notifier    {system.url('notifier')}    GET /v1/notices
Metrics: each web port's /metrics; workers on the web port + 1000 (e.g. :9001/metrics)
Development credentials (never use in production):
  SNS client demo / secret demo-secret
  web users moderator@example.jp / moderator, specialist@example.jp / specialist,
            supervisor@example.jp / supervisor, auditor@example.jp / auditor, admin@example.jp / admin
Ctrl-C stops everything.""", flush=True)
        while not stopping:
            for (service, kind), proc in system.procs.items():
                if proc.poll() is not None:
                    print(f"{service} {kind} exited ({proc.returncode}); restarting", flush=True)
                    system.start_process(service, kind)
            time.sleep(1.0)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping…", flush=True)
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
