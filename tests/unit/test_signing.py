import time

import pytest

from shared.signing import SignatureError, sign, signed_headers, verify

CLIENTS = {"demo": ["demo-secret"], "rotating": ["old-secret", "new-secret"]}


def test_valid_signature_is_accepted():
    body = b'{"a":1}'
    client, sig = verify(signed_headers("demo", "demo-secret", body), body, CLIENTS)
    assert client == "demo" and len(sig) == 64


@pytest.mark.parametrize("mutate,reason", [
    (lambda h: h.pop("X-Modq-Signature"), "missing"),
    (lambda h: h.update({"X-Modq-Client": "nobody"}), "unknown client"),
    (lambda h: h.update({"X-Modq-Signature": "v1=" + "0" * 64}), "does not match"),
    (lambda h: h.update({"X-Modq-Signature": "v2=abc"}), "scheme"),
    (lambda h: h.update({"X-Modq-Timestamp": "abc"}), "unix seconds"),
])
def test_bad_headers_are_refused_with_a_reason(mutate, reason):
    body = b"{}"
    headers = signed_headers("demo", "demo-secret", body)
    mutate(headers)
    with pytest.raises(SignatureError, match=reason):
        verify(headers, body, CLIENTS)


def test_tampered_body_is_refused():
    headers = signed_headers("demo", "demo-secret", b'{"a":1}')
    with pytest.raises(SignatureError):
        verify(headers, b'{"a":2}', CLIENTS)


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamps_are_refused(skew):
    now = time.time()
    headers = signed_headers("demo", "demo-secret", b"{}", timestamp=int(now) + skew)
    with pytest.raises(SignatureError, match="stale"):
        verify(headers, b"{}", CLIENTS, now=now)


def test_both_secrets_work_during_rotation():
    for secret in ("old-secret", "new-secret"):
        verify(signed_headers("rotating", secret, b"{}"), b"{}", CLIENTS)
