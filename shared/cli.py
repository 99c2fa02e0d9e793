"""``python -m services.<name> <command>``: the commands every service has.

  migrate                      bring the database to the latest schema
  web [--workers N]            serve the HTTP API with gunicorn (a service's default worker
                               class, or MODQ_WEB_WORKER_CLASS: gthread or gevent)
  worker                       run consumers, the outbox relay and periodic jobs
  outbox replay --since ISO    publish again every event created since ISO (same ids)
  outbox backlog               print the number of unsent events
  parked list|show|replay|discard   the events its consumers parked (shared/parked_cli.py)
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from shared.clock import parse_instant
from shared.runtime import configure_logging
from shared.settings import REPO_ROOT, InsecureSetting


WORKER_CLASSES = ("gthread", "gevent")


def worker_class_arguments(worker_class: str, threads: int) -> list[str]:
    """gunicorn's arguments for a worker class: gthread serves ``threads`` requests at once
    per worker; gevent serves each request in a greenlet (up to --worker-connections)."""
    if worker_class == "gevent":
        return ["--worker-class", "gevent"]
    return ["--worker-class", "gthread", "--threads", str(threads)]


def main(service: str, *, runtime_factory: Callable, app_spec: str, build_worker: Callable,
         extra_commands: dict[str, Callable[[list[str]], int]] | None = None,
         web_worker_class: str = "gthread", argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra_commands = extra_commands or {}
    if argv and argv[0] in extra_commands:
        try:
            return extra_commands[argv[0]](argv[1:]) or 0
        except InsecureSetting as exc:
            print(f"{service}: refusing to start: {exc}", file=sys.stderr)
            return 2
    if argv and argv[0] == "parked":
        from shared import parked_cli

        return parked_cli.main(service, runtime_factory, argv[1:])

    parser = argparse.ArgumentParser(prog=f"python -m services.{service}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate")
    web = sub.add_parser("web")
    web.add_argument("--workers", type=int, default=int(os.environ.get("MODQ_WEB_WORKERS", "2")))
    web.add_argument("--threads", type=int, default=int(os.environ.get("MODQ_WEB_THREADS", "4")),
                     help="threads per worker (gthread only)")
    web.add_argument("--worker-class", choices=WORKER_CLASSES,
                     default=os.environ.get("MODQ_WEB_WORKER_CLASS") or web_worker_class)
    sub.add_parser("worker")
    outbox = sub.add_parser("outbox")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    rp = outbox_sub.add_parser("replay")
    rp.add_argument("--since", required=True, help="ISO 8601 instant with offset, e.g. 2026-01-01T00:00:00+09:00")
    outbox_sub.add_parser("backlog")
    sub.add_parser("parked", add_help=False, help="list, show, replay or discard parked events")
    for name in extra_commands:
        sub.add_parser(name, add_help=False)
    args = parser.parse_args(argv)

    configure_logging(service)
    try:
        return _run(service, args, runtime_factory, app_spec, build_worker)
    except InsecureSetting as exc:
        print(f"{service}: refusing to start: {exc}", file=sys.stderr)
        return 2


def _run(service: str, args, runtime_factory: Callable, app_spec: str, build_worker: Callable) -> int:
    if args.command == "web":
        runtime = runtime_factory()
        port = runtime.settings.port
        bind = os.environ.get("MODQ_BIND_HOST", "127.0.0.1")
        os.execvp(sys.executable, [
            sys.executable, "-m", "gunicorn", "--config", str(REPO_ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind", f"{bind}:{port}", "--workers", str(args.workers),
            *worker_class_arguments(args.worker_class, args.threads),
            "--name", f"modq-{service}", "--no-control-socket", app_spec,
        ])
    runtime = runtime_factory()
    if args.command == "migrate":
        runtime.migrate()
        print(f"{service}: database at head")
        return 0
    if args.command == "worker":
        build_worker(runtime).run()
        return 0
    if args.command == "outbox":
        if args.outbox_command == "replay":
            count = runtime.replay_outbox(parse_instant(args.since))
            print(f"{service}: {count} events marked for re-publication")
        else:
            print(runtime.outbox_backlog())
        return 0
    return 2
