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


@pytest.mark.parametrize("timestamp", ["²", "١٢٣٤٥٦٧٨٩٠", "9" * 40, " 12", "-5"])
def test_timestamps_that_are_not_ascii_unix_seconds_are_refused_not_crashed(timestamp):
    headers = {**signed_headers("demo", "demo-secret", b"{}"), "X-Modq-Timestamp": timestamp}
    with pytest.raises(SignatureError, match="unix seconds"):
        verify(headers, b"{}", CLIENTS)


@pytest.mark.parametrize("signature", ["v1=" + "é" * 64, "v1=" + "g" * 64, "v1=", "v1=" + "0" * 63])
def test_malformed_signatures_are_refused_not_crashed(signature):
    headers = {**signed_headers("demo", "demo-secret", b"{}"), "X-Modq-Signature": signature}
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers, b"{}", CLIENTS)


def test_replay_guard_accepts_a_signature_once_until_it_would_be_stale_anyway():
    from shared.signing import ReplayGuard

    guard, now = ReplayGuard(), time.time()
    headers = signed_headers("demo", "demo-secret", b"{}", timestamp=int(now))
    verify(headers, b"{}", CLIENTS, now=now, replay=guard)
    with pytest.raises(SignatureError, match="replay"):
        verify(headers, b"{}", CLIENTS, now=now + 1, replay=guard)
    guard.accept("other", now=now + 601)  # forgets what has expired
    assert len(guard._seen) == 1
