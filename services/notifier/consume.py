"""Reference consumer for SNS backend teams: read notices, show them, acknowledge delivery.

    python -m services.notifier consume [--topics requester,poster] [--ack] [--group ID]
                                        [--max N] [--idle-seconds S]

Each notice is printed as its Japanese text followed by its structured fields. With --ack
a ``delivered`` receipt (``jp.modq.notice.receipt.v1``) goes to ``modq.notices.receipts``
after the notice was shown, which is what an SNS does once the notice reached its user.
A notice may arrive more than once (re-publication keeps its id): de-duplicate on notice_id.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from shared import clock
from shared.db import utcnow
from shared.events import (NOTICE_RECEIPT, POSTER_NOTICE, REQUESTER_NOTICE, Envelope, InvalidEvent, make_event,
                           parse_event, stable_id)
from shared.kafka import make_consumer, make_producer
from shared.settings import KafkaSettings

TOPICS = {"requester": REQUESTER_NOTICE, "poster": POSTER_NOTICE}
TITLES = {"ACK": "削除申出の受付", "N1": "削除申出への回答（措置を講じました）",
          "N2": "削除申出への回答（措置を講じませんでした）", "N3": "判断に時間を要する旨のお知らせ",
          "N4": "投稿への措置のお知らせ", "INQ": "投稿についてのご意見の照会"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.notifier consume",
                                     description="Print notices and optionally acknowledge their delivery")
    parser.add_argument("--topics", default="requester,poster", help="requester, poster or both (comma-separated)")
    parser.add_argument("--ack", action="store_true", help="publish a 'delivered' receipt for each notice")
    parser.add_argument("--group", default="sns-reference-consumer", help="consumer group id")
    parser.add_argument("--max", type=int, default=0, help="stop after this many notices (0: run until Ctrl-C)")
    parser.add_argument("--idle-seconds", type=float, default=0.0, help="stop after this long without a notice")
    args = parser.parse_args(argv)
    unknown = set(args.topics.split(",")) - set(TOPICS)
    if unknown:
        parser.error(f"unknown topics {sorted(unknown)}; use requester and/or poster")
    return args


def format_notice(env: Envelope, repeated: bool = False) -> str:
    d = env.data
    recipient = d.get("recipient") or {}
    lines = [f"━━ {d['notice_type']} {TITLES.get(d['notice_type'], '')}（{d['legal_basis']}）"
             + (" ［再送：既に受信済み］" if repeated else ""),
             f"notice_id: {d['notice_id']}",
             f"宛先: {recipient.get('id')}  言語: {recipient.get('locale') or 'ja'}",
             f"case: {d['case_id']}  request: {d.get('request_id') or '-'}  decision: {d.get('decision_id') or '-'}",
             f"発行: {clock.jst_text(clock.parse_instant(d['issued_at']))}", "", d["text_ja"]]
    if d.get("text_en"):
        lines += ["", "[en]", d["text_en"]]
    lines += ["", "details: " + json.dumps(d.get("details") or {}, ensure_ascii=False, sort_keys=True), ""]
    return "\n".join(lines)


def delivered_receipt(env: Envelope) -> Envelope:
    """Same notice, same receipt id: acknowledging a re-sent notice again has no second effect."""
    notice_id = env.data["notice_id"]
    return make_event(NOTICE_RECEIPT, source="/sns/reference-consumer", subject=env.subject,
                      id=stable_id("receipt", notice_id, "delivered"),
                      data={"notice_id": notice_id, "status": "delivered", "at": utcnow().isoformat()})


def run(args: argparse.Namespace, out=sys.stdout) -> int:
    kafka = KafkaSettings.from_env()
    names = [TOPICS[t].topic for t in args.topics.split(",")]
    consumer = make_consumer(kafka, args.group, names, "sns-reference-consumer")
    producer = make_producer(kafka, "sns-reference-consumer") if args.ack else None
    seen: set[str] = set()
    shown = 0
    last_seen = time.monotonic()
    try:
        while not (args.max and shown >= args.max):
            if args.idle_seconds and time.monotonic() - last_seen > args.idle_seconds:
                break
            records = [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
            for record in records:
                shown += show(record, seen, producer, out)
                last_seen = time.monotonic()
            if records:
                if producer is not None:
                    producer.flush(timeout=30)
                consumer.commit()  # after showing and acknowledging: a crash shows a notice again, never loses it
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=5)
    return 0


def show(record, seen: set[str], producer, out) -> int:
    try:
        env = parse_event(record.value, (REQUESTER_NOTICE.name, POSTER_NOTICE.name))
    except InvalidEvent as exc:
        print(f"skipped {record.topic}@{record.partition}/{record.offset}: {exc}", file=sys.stderr)
        return 0
    repeated = env.data["notice_id"] in seen
    seen.add(env.data["notice_id"])
    print(format_notice(env, repeated), file=out, flush=True)
    if producer is not None:
        receipt = delivered_receipt(env)
        producer.send(NOTICE_RECEIPT.topic, key=env.subject, value=receipt.to_json())
    return 1


def main(argv: list[str]) -> int:
    return run(parse_args(argv))
