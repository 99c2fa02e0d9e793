"""gunicorn settings shared by the four services (overridable on the command line or with
GUNICORN_CMD_ARGS)."""
import os

worker_class = "gthread"
workers = int(os.environ.get("MODQ_WEB_WORKERS", "2"))
threads = int(os.environ.get("MODQ_WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("MODQ_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("MODQ_GUNICORN_LOG_LEVEL", "warning")
# Requests larger than this are refused before the app sees them (the apps set their own
# lower per-endpoint limits).
limit_request_field_size = 16380
