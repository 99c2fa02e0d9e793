"""The audit log is tamper-evident: entries are keyed with MODQ_AUDIT_KEY (not in the database),
so an edited entry cannot be given a valid hash, and the published head names a log that was
cut short or rewritten."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa

from shared.events import AUDIT_HEAD, parse_event
from shared.db import utcnow
from services.decision.audit import chain, domain
from services.decision.users import service as user_service
from services.decision.app import create_app
from services.decision.audit.models import AuditEvent
from services.decision.models import Outbox


@pytest.fixture
def bare(db_url):
    """A migrated decision service whose audit log is empty (provisioning the development users
    writes entries of its own: the specialist's appointment) and one auditor account."""
    from tests.support.databases import make_runtime

    runtime = make_runtime("decision", db_url)
    with runtime.db.unit_of_work() as uow:
        user_service.create_user(uow.session, "auditor@example.jp", "auditor", "auditor")
        uow.commit()
    return runtime


@pytest.fixture
def log(bare):
    """Five entries written by the service."""
    with bare.db.unit_of_work() as uow:
        for n in range(5):
            chain.append_audit(uow.session, case_id="case-1", event_type="test.entry", actor="mod-x",
                                 payload={"n": n})
        uow.commit()
    return bare


def verify(runtime, **kwargs) -> dict:
    with runtime.db.sessions() as s:
        return chain.verify_chain(s, **kwargs)


def head(runtime) -> tuple[int, str]:
    with runtime.db.sessions() as s:
        h = chain.current_head(s)
    return h["seq"], h["hash"]


def rewrite(runtime, seq: int, payload: dict, *, key: bytes | None, scheme: str | None = None) -> None:
    """What someone with write access to the table (but not the key) can do: edit an entry and
    recompute its hash and every later link."""
    with runtime.db.unit_of_work() as uow:
        entries = uow.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq >= seq - 1)
                                      .order_by(AuditEvent.seq)).all()
        prev = entries[0].hash
        for entry in entries[1:]:
            if entry.seq == seq:
                entry.payload = domain.canonical(payload)
            if scheme:
                entry.scheme = scheme
            entry.prev_hash = prev
            entry.hash = domain.chain_hash(prev, seq=entry.seq, case_id=entry.case_id, event_type=entry.event_type,
                                           actor=entry.actor, at=entry.at, payload=entry.payload, key=key)
            prev = entry.hash
        uow.commit()


def test_an_untouched_log_verifies_up_to_its_head(log):
    result = verify(log, published_head=head(log))
    assert result["intact"] and result["checked"] == 5 and result["head"]["seq"] == 5


@pytest.mark.parametrize("key, scheme", [(None, None), (b"a guessed key", None), (None, "sha256")],
                         ids=["plain sha256", "another key", "marked unkeyed"])
def test_an_edited_and_recomputed_entry_is_named(log, key, scheme):
    rewrite(log, 3, {"n": "forged"}, key=key, scheme=scheme)
    result = verify(log)
    assert not result["intact"] and result["first_broken_seq"] == 3, result


def test_a_deleted_tail_is_named_against_the_published_head(log):
    published = head(log)
    with log.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq >= 4"))
    assert verify(log)["intact"]  # nothing inside the database can tell…
    result = verify(log, published_head=published)  # …the head published outside it can
    assert not result["intact"] and result["first_broken_seq"] == 4 and "truncated" in result["problem"]


def test_a_log_rewritten_from_the_start_does_not_reach_the_published_head(log):
    published = head(log)
    rewrite(log, 2, {"n": "forged"}, key=None, scheme="sha256")
    with log.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET scheme = 'sha256'"))
    result = verify(log, published_head=published)
    assert not result["intact"]


def test_entries_written_before_keying_still_verify(bare):
    with bare.db.unit_of_work() as uow:  # as the migration leaves an older log
        prev = domain.GENESIS
        for seq in (1, 2):
            entry = AuditEvent(seq=seq, case_id=None, event_type="old", actor="a", at=utcnow(),
                               payload="{}", prev_hash=prev, scheme="sha256")
            entry.hash = domain.chain_hash(prev, seq=seq, case_id=None, event_type="old", actor="a", at=entry.at,
                                           payload="{}", key=None)
            uow.session.add(entry)
            prev = entry.hash
        uow.session.flush()
        chain.append_audit(uow.session, case_id=None, event_type="new", actor="a", payload={})
        uow.commit()
    assert verify(bare)["intact"]


def test_the_key_is_not_in_the_database(log):
    from shared.settings import audit_key

    with log.db.engine.connect() as conn:
        dump = json.dumps([list(map(str, row)) for row in conn.execute(sa.text("SELECT * FROM audit_events"))])
    assert audit_key() not in dump
    entry_hash = hmac.new(audit_key().encode(), b"x", hashlib.sha256).hexdigest()
    assert len(entry_hash) == 64


def test_the_head_is_published_once_per_head_on_its_topic(log):
    assert chain.publish_head(log.db)["seq"] == 5
    chain.publish_head(log.db)
    with log.db.sessions() as s:
        rows = s.scalars(sa.select(Outbox).where(Outbox.event_type == AUDIT_HEAD.name)).all()
    assert len(rows) == 1 and rows[0].topic == AUDIT_HEAD.topic
    event = parse_event(rows[0].payload)
    assert (event.data["seq"], event.data["hash"]) == head(log) and event.data["scheme"] == "hmac-sha256"


def test_the_api_checks_a_published_head_and_the_export_carries_the_head(log):
    client = create_app(log).test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"auditor@example.jp:auditor").decode()}
    seq, digest = head(log)
    export = client.get("/v1/audit/decisions?format=jsonl", headers=auth)
    assert export.headers["X-Modq-Audit-Head"] == f"{seq}:{digest}"
    with log.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = 5"))
    answer = client.get(f"/v1/audit/verify?head_seq={seq}&head_hash={digest}", headers=auth).get_json()
    assert answer["intact"] is False and answer["first_broken_seq"] == 5
    assert client.get(f"/v1/audit/verify?head_seq={seq}", headers=auth).status_code == 400


def test_the_chain_lock_is_taken_before_pending_row_updates_reach_the_database(bare):
    """A web request changes rows, then appends; a batch of events appends, then changes rows.
    Both must take the chain lock first, or the two wait on each other (a deadlock): the first
    append of a transaction takes the lock without flushing the rows it has changed."""
    if bare.db.is_sqlite:
        pytest.skip("SQLite locks the whole database; the chain lock is PostgreSQL's")
    from services.decision.casework.models import ViewerSetting
    from services.decision.users.models import User

    with bare.db.unit_of_work() as uow:
        user_id = uow.session.scalar(sa.select(User.id).where(User.email == "auditor@example.jp"))
        uow.session.add(ViewerSetting(user_id=user_id, reveal_media=False))
        uow.commit()
    with bare.db.unit_of_work() as web, bare.db.sessions() as other:
        web.session.get(ViewerSetting, user_id).reveal_media = True  # pending, not flushed
        chain.append_audit(web.session, case_id=None, event_type="test.entry", actor="mod-x", payload={})
        # The chain is locked by the web transaction, the changed row is not (yet).
        assert other.scalar(sa.text("SELECT pg_try_advisory_xact_lock(7123001)")) is False
        assert other.execute(sa.select(ViewerSetting).where(ViewerSetting.user_id == user_id)
                             .with_for_update(nowait=True)).first() is not None
        other.rollback()
        web.commit()
    with bare.db.sessions() as s:
        assert s.get(ViewerSetting, user_id).reveal_media is True
