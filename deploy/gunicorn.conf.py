"""gunicorn settings shared by the four services (overridable on the command line or with
GUNICORN_CMD_ARGS)."""
import gc
import os

# `python -m services.<name> web` passes each service's worker class (intake: gevent, the
# others: gthread; MODQ_WEB_WORKER_CLASS overrides it).
worker_class = os.environ.get("MODQ_WEB_WORKER_CLASS", "gthread")
workers = int(os.environ.get("MODQ_WEB_WORKERS", "2"))
threads = int(os.environ.get("MODQ_WEB_THREADS", "4"))  # gthread
worker_connections = int(os.environ.get("MODQ_WEB_WORKER_CONNECTIONS", "1000"))  # gevent
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("MODQ_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("MODQ_GUNICORN_LOG_LEVEL", "warning")
# Requests larger than this are refused before the app sees them (the apps set their own
# lower per-endpoint limits).
limit_request_field_size = 16380


def post_worker_init(worker):
    """The app is loaded: what exists now (modules, the app, its schemas and statements) lives
    as long as the worker. Frozen, it is no longer walked by the interpreter's full garbage
    collections, each of which stopped an intake worker for 80–110 ms (no request served)."""
    gc.freeze()
