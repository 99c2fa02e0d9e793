"""The reference consumer for SNS backends: prints notices readably (Japanese text and the
structured fields) and, with --ack, publishes `delivered` receipts the notifier understands."""
import io
import time

import pytest
import sqlalchemy as sa

from shared.events import NOTICE_RECEIPT, parse_event
from services.notifier import consume
from tools.notifier_harness import Publisher, TopicReader, create_topics
from services.notifier.models import Outbox
from services.notifier.service import handle_events
from tests.support.databases import make_runtime
from tests.integration.test_notifier_service import decision_event, feed, request_event

pytestmark = [pytest.mark.broker]


def test_consume_prints_notices_and_acknowledges_them(broker, topics, tmp_path):
    create_topics(broker.bootstrap, topics)
    runtime = make_runtime("notifier", f"sqlite:///{tmp_path / 'n.db'}")
    req = request_event()
    feed(runtime, req, decision_event([req]))
    with runtime.db.sessions() as s:
        notices = [parse_event(o.payload) for o in s.scalars(sa.select(Outbox).order_by(Outbox.seq))]
    publisher = Publisher(broker.bootstrap)
    for n in notices + notices[:1]:           # the first one twice: a re-publication
        publisher.send(topics["notices_requester"] if n.data["notice_type"] != "N4" else topics["notices_poster"], n)
    publisher.flush()
    out = io.StringIO()
    args = consume.parse_args(["--ack", "--max", "4", "--idle-seconds", "30", "--group", "sns-test"])
    assert consume.run(args, out=out) == 0
    text = out.getvalue()
    assert "削除申出を受け付けました" in text and "根拠となる削除基準" in text and "N1" in text
    assert "notice_id:" in text and '"request_id"' in text and "再送" in text
    reader = TopicReader(broker.bootstrap, [topics["notices_receipts"]])
    receipts, deadline = [], time.monotonic() + 20
    while len({r.id for r in receipts}) < 3 and time.monotonic() < deadline:
        receipts += [e for _t, e, _a in reader.poll(500)]
    reader.close()
    assert {r.type for r in receipts} == {NOTICE_RECEIPT.name}
    assert {r.data["notice_id"] for r in receipts} == {n.id for n in notices}
    assert len({r.id for r in receipts}) == 3      # the re-sent notice got the same receipt id
    handle_events(runtime.db, receipts)
    from services.notifier.models import Notice
    with runtime.db.sessions() as s:
        assert {n.status for n in s.scalars(sa.select(Notice))} == {"delivered"}


def test_unknown_topic_names_are_refused():
    with pytest.raises(SystemExit):
        consume.parse_args(["--topics", "requester,everyone"])
