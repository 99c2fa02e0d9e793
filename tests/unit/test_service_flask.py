"""ServiceFlask: Flask with the per-request costs of a hot API path cut down, same behaviour."""
import functools
import gc

from flask import after_this_request

from shared.web import ServiceFlask


def test_plain_callables_are_returned_as_they_are_and_remembered_weakly():
    app = ServiceFlask(__name__)

    def hook(response):
        return response

    class Owner:
        def method(self):
            return "ok"

    owner = Owner()
    class Slotted:  # a callable that cannot be referenced weakly
        __slots__ = ()

        def __call__(self):
            return "ok"

    slotted = Slotted()
    for func in (hook, owner.method, functools.partial(hook), len, slotted):
        assert app.ensure_sync(func) is func
    assert hook in app._is_coroutine and Owner.method in app._is_coroutine


def test_coroutine_functions_are_still_recognised():
    app = ServiceFlask(__name__)
    calls = []
    app.async_to_sync = lambda func: calls.append(func) or "wrapped"  # asgiref is not installed

    async def view():
        return "x"

    assert app.ensure_sync(view) == "wrapped" and app.ensure_sync(functools.partial(view)) == "wrapped"
    assert calls[0] is view


def test_closures_made_per_request_do_not_pile_up_and_sessions_stay_off_the_api_only():
    app = ServiceFlask(__name__)
    app.secret_key = "test"
    app.sessionless_prefixes = ("/v1/",)

    @app.get("/v1/thing")
    def api():
        @after_this_request
        def stamp(response):
            response.headers["X-Stamp"] = "1"
            return response
        return {"ok": True}

    @app.get("/page")
    def page():
        from flask import session
        session["seen"] = True
        return "page"

    client = app.test_client()
    for _ in range(50):
        resp = client.get("/v1/thing")
        assert resp.headers["X-Stamp"] == "1" and "Set-Cookie" not in resp.headers
    gc.collect()
    assert len(app._is_coroutine) < 10
    assert "session=" in client.get("/page").headers["Set-Cookie"]
