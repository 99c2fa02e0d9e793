"""Personal data: the public form tells nobody who filed what, DSA statements carry none of the
requester's words, and pseudonyms are keyed (not a hash anyone can recompute from an address)."""
from __future__ import annotations

import hashlib
import re

import pytest

from services.decision.audit import dsa
from services.intake.forms import requester_id
from tests.integration.test_intake_form import filled


def without_ids(html: str) -> str:
    html = re.sub(r"<code[^>]*>[^<]+</code>", "", html)
    return re.sub(r"<time[^>]*>[^<]*</time>", "", html)


def test_the_receipt_does_not_say_whether_this_address_filed_on_this_post_before(sqlite_form_client):
    client, _ = sqlite_form_client
    first = client.post("/request", data=filled(client)).get_data(as_text=True)
    second = client.post("/request", data=filled(client)).get_data(as_text=True)  # same post, same address
    assert "以前にも" not in second
    assert without_ids(first) == without_ids(second)


def test_dsa_statements_name_only_fixed_rights_never_the_requesters_words():
    record = {"route": "request", "exception_code": None,
              "clause": {"version": "2025.1", "id": "D-1", "title": "名誉毀損"},
              "requests": [{"right_infringed": "その他（山田花子 東京都港区1-2-3 090-0000-0000）"},
                           {"right_infringed": "名誉権"}]}
    ground = dsa._ground(record)
    assert "山田花子" not in str(ground) and "090" not in str(ground)
    assert "その他の権利" in ground["illegal_content_legal_ground"] and "名誉権" in ground["illegal_content_legal_ground"]


def test_requester_ids_are_keyed(monkeypatch):
    unsalted = "web-form:" + hashlib.sha256(b"hanako@example.jp").hexdigest()[:32]
    first = requester_id("Hanako@example.jp")
    assert first != unsalted
    monkeypatch.setenv("MODQ_PSEUDONYM_KEY", "another-installation-key-0123456789")
    assert requester_id("Hanako@example.jp") != first


def test_moderator_pseudonyms_are_keyed(decision):
    import sqlalchemy as sa

    from services.decision.users.models import User

    with decision.db.sessions() as s:
        moderator = s.scalar(sa.select(User).where(User.email == "moderator@example.jp"))
    assert moderator.pseudonym != "mod-" + hashlib.sha256(b"moderator@example.jp").hexdigest()[:10]


@pytest.fixture
def sqlite_form_client(tmp_path, monkeypatch):
    from tests.integration.test_intake_form import make_client

    return make_client(f"sqlite:///{tmp_path / 'intake.db'}", monkeypatch)
