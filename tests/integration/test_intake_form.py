"""The public §22 form at /request: Japanese, accessible, validated next to each field,
stored through the same service as the API, and never a 500."""
import json
import re

import pytest
import sqlalchemy as sa

from services.intake import receipts
from services.intake.forms import requester_id
from tests.support.databases import make_runtime
from tests.support.helpers import signed

HELP = ("違法・有害情報相談センター", "誹謗中傷ホットライン", "みんなの人権110番", "110番", "スクリーンショット")


def make_client(db_url, monkeypatch, rate_limit="100 per minute"):
    from services.intake.app import create_app

    monkeypatch.setenv("MODQ_INTAKE_FORM_RATE_LIMIT", rate_limit)
    runtime = make_runtime("intake", db_url)
    return create_app(runtime).test_client(), runtime


@pytest.fixture
def form_client(db_url, monkeypatch):
    return make_client(db_url, monkeypatch)


@pytest.fixture
def sqlite_form_client(tmp_path, monkeypatch):
    return make_client(f"sqlite:///{tmp_path / 'intake.db'}", monkeypatch)


def opened_form(client) -> dict:
    html = client.get("/request").get_data(as_text=True)
    return {name: re.search(rf'name="{name}"[^>]*value="([^"]+)"', html).group(1)
            for name in ("csrf_token", "submission_key")}


def filled(client, **over) -> dict:
    data = {**opened_form(client), "post_url": "https://sns.example.jp/posts/42", "post_text": "山田花子は前科者",
            "posted_at": "2026-06-02T15:00", "right": "名誉権", "reason": "虚偽の前科を書かれています",
            "role": "self", "name": "山田 花子", "contact": "Hanako@example.jp", "request_type": "ordinary"}
    data.update(over)
    return data


def errors(resp) -> list[str]:
    return re.findall(r'<ul class="errors" id="([a-z_]+)-errors"><li>([^<]+)', resp.get_data(as_text=True))


def stored(runtime):
    with runtime.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM reports ORDER BY received_at"))]


def test_the_form_is_japanese_accessible_and_tells_where_to_get_help(sqlite_form_client):
    client, _ = sqlite_form_client
    resp = client.get("/request")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="ja">' in html
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    for text in HELP + ("名誉権", "プライバシー", "肖像権", "著作権", "その他", "代理人", "受付日時"):
        assert text in html
    visible_ids = re.findall(r'<(?:input|textarea)[^>]*\bid="([^"]+)"', html)
    hidden = {"csrf_token", "submission_key"}
    for field_id in set(visible_ids) - hidden:
        assert f'<label for="{field_id}"' in html, field_id
    assert html.count("<fieldset") >= 5 and html.count("<legend") >= 5


def test_a_request_gets_a_receipt_with_the_jst_time_and_deadline(form_client):
    client, runtime = form_client
    resp = client.post("/request", data=filled(client, reason="<script>alert(1)</script>"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, errors(resp)
    assert "削除の申出を受け付けました" in html and "（日本時間）" in html and "までに" in html
    assert all(text in html for text in HELP)
    [record] = stored(runtime)
    # The 受付番号 is short (ten characters, the last a check character), not the 36-character id.
    number = re.search(r'id="receipt-number">([^<]+)</code>', html).group(1)
    assert number == f"{record['receipt_number'][:5]}-{record['receipt_number'][5:]}" and record["id"] not in html
    assert receipts.parse(number) == record["receipt_number"] and receipts.parse(number.lower()) == number.replace("-", "")
    assert (record["source"], record["client_id"], record["treated_as"]) == ("form", "web-form", "deletion_request")
    assert record["deadline_at"] is not None and record["right_infringed"] == "名誉権"
    assert "<script>alert(1)</script>" not in html  # never echoed raw


def test_the_same_request_by_api_and_form_gives_the_same_record(form_client):
    client, runtime = form_client
    client.post("/request", data=filled(client))
    body = {"kind": "deletion_request",
            "post": {"id": "https://sns.example.jp/posts/42", "url": "https://sns.example.jp/posts/42",
                     "author_id": "unknown", "text": "山田花子は前科者", "posted_at": "2026-06-02T15:00:00+09:00",
                     "media": []},
            "reporter": {"id": requester_id("hanako@example.jp"), "name": "山田 花子",
                         "contact": "Hanako@example.jp", "locale": "ja", "is_rights_holder": True,
                         "agent_authority": None},
            "reason": "虚偽の前科を書かれています", "right_infringed": "名誉権", "request_type": "ordinary"}
    raw, headers = signed(body)
    assert client.post("/v1/reports", data=raw, headers=headers).status_code == 202
    by_form, by_api = stored(runtime)
    same = ("case_id", "kind", "treated_as", "treatment_note", "request_type", "reporter_id", "reporter",
            "reason", "right_infringed")
    assert {k: by_form[k] for k in same} == {k: by_api[k] for k in same}
    assert by_api["is_repeat"]  # the same person, the same post: a repeat (§25(1) proviso)
    form_post = json.loads(by_form["post"]) if isinstance(by_form["post"], str) else by_form["post"]
    # The form names the post by URL; what the requester typed about it is not kept as the post.
    assert form_post["url"] == body["post"]["url"] and form_post["text"] == ""


def test_the_post_id_and_author_come_from_the_sns_url_pattern(sqlite_form_client, monkeypatch):
    client, runtime = sqlite_form_client
    monkeypatch.setenv("MODQ_INTAKE_POST_URL_PATTERN",
                       r"^https://sns\.example\.jp/(?P<author>[^/]+)/posts/(?P<post_id>\w+)")
    client.post("/request", data=filled(client, post_url="https://sns.example.jp/u-poster/posts/p777#reply"))
    [record] = stored(runtime)
    post = json.loads(record["post"]) if isinstance(record["post"], str) else record["post"]
    assert (post["id"], post["author_id"]) == ("p777", "u-poster")


def test_sending_the_same_form_twice_gives_one_request(sqlite_form_client):
    client, runtime = sqlite_form_client
    data = filled(client)
    first = client.post("/request", data=data).get_data(as_text=True)
    second = client.post("/request", data=data).get_data(as_text=True)
    assert len(stored(runtime)) == 1
    number = re.compile(r'id="receipt-number">([^<]+)</code>')
    assert number.search(first).group(1) == number.search(second).group(1)


def test_missing_and_invalid_answers_are_explained_next_to_each_field(sqlite_form_client):
    client, runtime = sqlite_form_client
    blank = {**opened_form(client)}
    resp = client.post("/request", data=blank)
    assert resp.status_code == 400
    fields = dict(errors(resp))
    assert set(fields) >= {"post_url", "right", "reason", "role", "name", "contact"}
    assert fields["post_url"] == "投稿のURLを入力してください。"
    resp = client.post("/request", data=filled(
        client, post_url="javascript:alert(1)", right="その他", role="agent", reason="あ" * 5001))
    fields = dict(errors(resp))
    assert "http:// または https://" in fields["post_url"]
    assert "どんな権利か" in fields["right_other"] and "代理の根拠" in fields["agent_authority"]
    assert "5000文字以内" in fields["reason"]
    assert resp.status_code == 400 and stored(runtime) == []
    assert "javascript:alert(1)" in resp.get_data(as_text=True)  # what was typed stays, as text


def test_someone_not_concerned_is_told_it_is_handled_as_a_report(sqlite_form_client):
    client, runtime = sqlite_form_client
    html = client.post("/request", data=filled(client, role="other")).get_data(as_text=True)
    assert "通報として受け付けました" in html and "権利者本人" in html
    assert stored(runtime)[0]["deadline_at"] is None


def test_an_expired_or_missing_csrf_token_keeps_what_was_written(sqlite_form_client):
    client, runtime = sqlite_form_client
    resp = client.post("/request", data=filled(client, csrf_token="forged", reason="消えてほしくない長い文章"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "もう一度「送信する」" in html and "消えてほしくない長い文章" in html
    assert stored(runtime) == []


def test_too_many_requests_from_one_address_get_a_japanese_429(tmp_path, monkeypatch):
    client, _ = make_client(f"sqlite:///{tmp_path / 'intake.db'}", monkeypatch, rate_limit="2 per minute")
    statuses = [client.post("/request", data=filled(client)).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    resp = client.post("/request", data=filled(client))
    assert "一時的に受付を止めています" in resp.get_data(as_text=True) and resp.headers["Retry-After"]
    assert client.get("/request").status_code == 200  # reading the form is never limited


def test_a_body_over_the_limit_gets_a_japanese_413(sqlite_form_client):
    client, _ = sqlite_form_client
    resp = client.post("/request", data=filled(client, post_text="あ" * 200_000))
    assert resp.status_code == 413 and "大きすぎます" in resp.get_data(as_text=True)


def test_a_database_that_is_down_gives_503_and_keeps_the_input(form_client):
    client, runtime = form_client

    def down(*_):
        raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))

    data = filled(client, reason="保存されるべき理由")
    sa.event.listen(runtime.db.engine, "before_cursor_execute", down)
    try:
        resp = client.post("/request", data=data)
    finally:
        sa.event.remove(runtime.db.engine, "before_cursor_execute", down)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert "まだ受け付けていません" in html and "保存されるべき理由" in html
    assert stored(runtime) == []
    assert client.post("/request", data={**data, "csrf_token": opened_form(client)["csrf_token"]}).status_code == 200


@pytest.mark.parametrize("url", ["https://evil.example/posts/42", "https://sns.example.jp.evil.example/posts/1",
                                 "https://evil.example/?u=https://sns.example.jp/posts/42"])
def test_a_url_off_the_operators_hosts_is_refused(sqlite_form_client, url):
    client, runtime = sqlite_form_client
    resp = client.post("/request", data=filled(client, post_url=url))
    assert resp.status_code == 400 and "sns.example.jp" in dict(errors(resp))["post_url"]
    assert stored(runtime) == []


def test_the_operators_hosts_are_configurable(sqlite_form_client, monkeypatch):
    client, runtime = sqlite_form_client
    monkeypatch.setenv("MODQ_INTAKE_POST_HOSTS", ".other-sns.jp")
    assert client.post("/request", data=filled(client, post_url="https://m.other-sns.jp/p/1")).status_code == 200
    assert client.post("/request", data=filled(client)).status_code == 400


def test_what_the_requester_types_about_the_post_never_becomes_the_post(sqlite_form_client):
    client, runtime = sqlite_form_client
    client.post("/request", data=filled(client, post_text="FORGED 山田花子は前科者", post_id="p-victim",
                                        posted_at="2020-01-01T00:00"))
    [record] = stored(runtime)
    post = json.loads(record["post"]) if isinstance(record["post"], str) else record["post"]
    assert post["text"] == "" and post["id"] == "https://sns.example.jp/posts/42"
    assert "FORGED" not in json.dumps(post, ensure_ascii=False)
    with runtime.db.engine.connect() as conn:
        event = json.loads(conn.execute(sa.text("SELECT payload FROM outbox")).scalar())
    assert event["data"]["evidence"] == "requester"


def test_receipt_numbers_are_short_unique_and_checked():
    numbers = {receipts.new_receipt_number() for _ in range(5000)}
    assert len(numbers) == 5000
    for number in list(numbers)[:200]:
        assert len(number) == 10 and set(number) <= set(receipts.ALPHABET)
        assert receipts.parse(receipts.display(number)) == number
    number = "7K3QX9M2P" + receipts.check_symbol("7K3QX9M2P")
    for i in range(10):  # every wrong character is caught
        for char in receipts.ALPHABET.replace(number[i], ""):
            assert receipts.parse(number[:i] + char + number[i + 1:]) is None
    for a in receipts.ALPHABET:  # every swap of two neighbours, but 0 and Z (Luhn mod 32)
        for b in receipts.ALPHABET.replace(a, ""):
            body = a + b + "3QX9M2P"
            swapped = b + a + "3QX9M2P" + receipts.check_symbol(body)
            assert {a, b} == {"0", "Z"} or receipts.parse(swapped) is None, (a, b)
    check = receipts.check_symbol("000001111")
    assert receipts.parse(f"ooooo-iiil{check.lower()}") == "000001111" + check  # read as typed from paper
    assert receipts.parse("") is None and receipts.parse("ABCDE-FGHJ") is None and receipts.parse("ABCDE-FGHJU") is None


def test_the_form_states_how_personal_data_is_kept_and_links_the_criteria(sqlite_form_client, monkeypatch):
    client, _ = sqlite_form_client
    monkeypatch.setenv("MODQ_RETENTION_INTAKE_DAYS", "60")
    monkeypatch.setenv("MODQ_DECISION_PUBLIC_URL", "https://moderation.example.jp/")
    html = client.get("/request").get_data(as_text=True)
    for text in ("個人情報の取扱い", "保存する情報", "利用の目的", "保存する期間", "受付から60日後", "判断から1095日後"):
        assert text in html, text
    assert 'href="https://moderation.example.jp/criteria" id="link-criteria"' in html
    assert 'href="https://moderation.example.jp/transparency"' in html


def test_with_the_development_settings_a_form_request_joins_the_sns_case_on_the_same_post(
        sqlite_form_client, monkeypatch, tmp_path):
    """``make run`` (shared/devrun.py): the SNS's report on a post and a form request naming the
    post's URL are one case, not two."""
    from tools.devrun import LocalSystem
    from services.intake.views import EXAMPLE_REQUEST

    client, runtime = sqlite_form_client
    dev_env = LocalSystem(var_dir=tmp_path, bootstrap="127.0.0.1:1").env()
    monkeypatch.setenv("MODQ_INTAKE_POST_URL_PATTERN", dev_env["MODQ_INTAKE_POST_URL_PATTERN"])
    raw, headers = signed(EXAMPLE_REQUEST)
    by_sns = client.post("/v1/reports", data=raw, headers=headers).get_json()
    for url in (EXAMPLE_REQUEST["post"]["url"], EXAMPLE_REQUEST["post"]["url"] + "?ref=share#top"):
        resp = client.post("/request", data=filled(client, post_url=url, contact=f"{len(url)}@example.jp"))
        assert resp.status_code == 200, errors(resp)
    cases = {r["case_id"] for r in stored(runtime)}
    assert cases == {by_sns["case_id"]} and len(stored(runtime)) == 3
    other = client.post("/request", data=filled(client, post_url="https://sns.example.jp/posts/p-124"))
    assert other.status_code == 200 and len({r["case_id"] for r in stored(runtime)}) == 2
