"""Flask plumbing shared by the four services: JSON errors (never a stack trace), health
endpoints and Prometheus metrics."""
from __future__ import annotations

import functools
import inspect
import logging
import re
import time
import weakref

from flask import Flask, Response, current_app, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram("modq_http_request_seconds", "HTTP request latency",
                            ["service", "method", "endpoint", "status"])
REQUESTS_FAILED = Counter("modq_http_server_errors_total", "HTTP 5xx responses", ["service"])


class ServiceFlask(Flask):
    """Flask, with what a hot request path pays for on every request cut down:

    - ``ensure_sync`` remembers which hooks and views are plain functions (Flask asks
      ``inspect`` again for each of them on every request);
    - no cookie session under ``sessionless_prefixes`` (signed API requests have no use for
      one; opening it builds a signing serializer each time).
    """

    sessionless_prefixes: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Keyed weakly by the underlying function: a closure made for one request (e.g. by
        # ``after_this_request``) is forgotten with it instead of piling up.
        self._is_coroutine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.session_interface = _SessionlessUnder()

    def ensure_sync(self, func):
        underlying = _underlying_function(func)
        try:
            is_coroutine = self._is_coroutine[underlying]
        except (KeyError, TypeError):  # not seen yet, or cannot be referenced weakly
            is_coroutine = inspect.iscoroutinefunction(func)
            try:
                self._is_coroutine[underlying] = is_coroutine
            except TypeError:
                pass
        return self.async_to_sync(func) if is_coroutine else func


def _underlying_function(func):
    """The function a bound method or ``functools.partial`` runs (what makes it a coroutine
    function or not)."""
    while True:
        if isinstance(func, functools.partial):
            func = func.func
        elif inspect.ismethod(func):
            func = func.__func__
        else:
            return func


class _SessionlessUnder(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if app.sessionless_prefixes and request.path.startswith(app.sessionless_prefixes):
            return None  # Flask then uses a null session, and saves nothing
        return super().open_session(app, request)


def json_error(status: int, message: str, **extra) -> Response:
    body = {"error": message, "status": status, **extra}
    response = jsonify(body)
    response.status_code = status
    return response


def wants_json() -> bool:
    if request.path.startswith(("/v1/", "/healthz", "/readyz", "/openapi")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


MAX_JSON_DEPTH = 32  # no API body of modq nests deeper than a handful of levels
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays/objects deeper than ``limit``. Cheap for ordinary
    bodies (two counts in C); a deep one would otherwise make the parser recurse until it fails."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def _looks_like_json() -> bool:
    if request.is_json:
        return True
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    head = request.get_data(cache=True)[:64].lstrip()
    return head[:1] in (b"{", b"[")


def current_db():
    """The database of the service whose request this is (its Runtime in the app's config)."""
    return current_app.config["RUNTIME"].db


def install_common(app: Flask, service: str, health_checks: dict) -> None:
    """Error handlers, /healthz, /readyz and /metrics.

    ``health_checks`` maps a name ('database', 'broker', 'model') to a callable returning bool.
    """
    _install_error_handlers(app, service)
    _install_request_hooks(app, service)
    _install_health_and_metrics(app, service, health_checks)


def _install_error_handlers(app: Flask, service: str) -> None:
    """Errors as JSON with the field and the reason for API clients; never a stack trace."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not wants_json():
            return exc
        extra = {}
        message = exc.description or exc.name
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            if data.get("messages"):  # webargs: {location: {field: [reasons]}}
                extra["fields"] = data["messages"]
                message = "invalid input: see fields"
            if data.get("message"):   # flask_smorest.abort(message=...)
                message = data["message"]
            if data.get("errors"):
                extra["fields"] = data["errors"]
        response = json_error(exc.code or 500, message, **extra)
        if exc.code == 503:
            response.headers["Retry-After"] = "5"
        if exc.code == 429:  # the view that throttled says for how long (g.retry_after)
            response.headers["Retry-After"] = str(g.get("retry_after") or 60)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from sqlalchemy.exc import OperationalError, DBAPIError

        if isinstance(exc, RecursionError):  # a structure too deep for a parser: the input's fault
            return json_error(400, "input nested too deeply")
        if isinstance(exc, (OperationalError, DBAPIError)):
            log.warning("database unavailable: %s", exc.__class__.__name__)
            response = json_error(503, "database unavailable, try again later")
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled error")
        REQUESTS_FAILED.labels(service).inc()
        return json_error(500, "internal error")


def _install_request_hooks(app: Flask, service: str) -> None:
    """Latency per endpoint, deep JSON refused before any parser sees it, nosniff."""

    @app.before_request
    def _start_timer():
        g._started = time.perf_counter()

    @app.before_request
    def _refuse_deep_json():
        if request.method in ("POST", "PUT", "PATCH") and request.content_length != 0 and _looks_like_json():
            if json_depth_exceeds(request.get_data(cache=True)):
                return json_error(400, f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)",
                                  fields={"json": {"_schema": [f"nesting deeper than {MAX_JSON_DEPTH}"]}})
        return None

    latency_by_labels = {}  # labels() takes a lock and builds a key on every call

    @app.after_request
    def _observe(response):
        started = g.pop("_started", None)
        if started is not None:
            labels = (request.method, request.url_rule.rule if request.url_rule else "-", response.status_code)
            histogram = latency_by_labels.get(labels)
            if histogram is None:
                histogram = latency_by_labels[labels] = REQUEST_LATENCY.labels(
                    service, labels[0], labels[1], str(labels[2]))
            histogram.observe(time.perf_counter() - started)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def _install_health_and_metrics(app: Flask, service: str, health_checks: dict) -> None:
    def _run_checks() -> tuple[bool, dict]:
        results = {}
        for name, check in health_checks.items():
            try:
                results[name] = "ok" if check() else "down"
            except Exception:
                results[name] = "down"
        return all(v == "ok" for v in results.values()), results

    @app.get("/healthz")
    def healthz():
        ok, results = _run_checks()
        response = jsonify({"service": service, "status": "ok" if ok else "unavailable", "checks": results})
        response.status_code = 200 if ok else 503
        return response

    @app.get("/readyz")
    def readyz():
        return healthz()

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


from flask_smorest import Blueprint as _SmorestBlueprint  # noqa: E402
from webargs.flaskparser import FlaskParser  # noqa: E402


class _Parser(FlaskParser):
    """Validation errors are 400 (not webargs' 422) and list each field with its reason."""

    DEFAULT_VALIDATION_STATUS = 400


class ApiBlueprint(_SmorestBlueprint):
    """flask-smorest blueprint whose input errors are 400 with the fields and reasons."""

    ARGUMENTS_PARSER = _Parser()


from flask_smorest import Api as _SmorestApi  # noqa: E402
from marshmallow import Schema as _Schema, fields as _fields  # noqa: E402


class ErrorSchema(_Schema):
    """The body of every JSON error (``json_error``), as the OpenAPI documents show it."""

    error = _fields.String(required=True, metadata={"description": "What went wrong"})
    status = _fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    fields_ = _fields.Dict(data_key="fields", metadata={"description": "Invalid input: {location: {field: [reasons]}}"})


class Api(_SmorestApi):
    """flask-smorest Api whose documented error responses match what the services send
    (flask-smorest's own schema documents a different body)."""

    ERROR_SCHEMA = ErrorSchema
