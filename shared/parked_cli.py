"""``python -m services.<name> parked …``: what a person does with the events a consumer parked.

  parked list [--state parked|pending|applied|replayed|discarded|all] [--limit N]
  parked show ID               the row with the whole event
  parked replay ID [ID …]      publish the event again on its topic (same id) and mark it replayed
  parked replay --all          every parked event
  parked discard ID --reason TEXT [--actor NAME]
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Callable

from shared import parking
from shared.parking import STATES


def _parser(service: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m services.{service} parked")
    sub = parser.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("--state", choices=(*STATES, "all"), default="parked")
    ls.add_argument("--limit", type=int, default=100)
    show = sub.add_parser("show")
    show.add_argument("id", type=int)
    rp = sub.add_parser("replay")
    rp.add_argument("ids", type=int, nargs="*")
    rp.add_argument("--all", action="store_true", help="every parked event")
    rp.add_argument("--actor", default=None)
    dc = sub.add_parser("discard")
    dc.add_argument("id", type=int)
    dc.add_argument("--reason", required=True)
    dc.add_argument("--actor", default=None)
    return parser


def _print(body) -> None:
    sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")


def main(service: str, runtime_factory: Callable, argv: list[str], producer_factory: Callable | None = None) -> int:
    args = _parser(service).parse_args(argv)
    runtime = runtime_factory()
    model = runtime.parked_model
    if model is None:
        print(f"{service} has no parked-events table", file=sys.stderr)
        return 2
    db = runtime.db
    actor = getattr(args, "actor", None) or f"cli:{getpass.getuser()}"
    try:
        if args.action == "list":
            for row in parking.listing(db, model, None if args.state == "all" else args.state, args.limit):
                _print(parking.describe(row))
        elif args.action == "show":
            row = parking.get(db, model, args.id)
            if row is None:
                raise parking.NotParked(f"no event with id {args.id}")
            _print(parking.describe(row, with_event=True))
        elif args.action == "replay":
            ids = [r.id for r in parking.listing(db, model, "parked", 100_000)] if args.all else args.ids
            if not ids:
                print("nothing to replay (give ids or --all)", file=sys.stderr)
                return 2
            producer = (producer_factory or _producer)(runtime)
            try:
                for row_id in ids:
                    _print(parking.describe(parking.replay(db, model, row_id, producer, actor)))
            finally:
                producer.close(timeout=5)
        elif args.action == "discard":
            _print(parking.describe(parking.discard(db, model, args.id, actor, args.reason)))
    except parking.NotParked as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _producer(runtime):
    from shared.kafka import make_producer

    return make_producer(runtime.settings.kafka, f"{runtime.settings.service}-parked-cli", wait_seconds=10)
