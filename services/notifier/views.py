"""The notifier's HTTP API, thin: notice look-up, delivery state and §28 counts for operators
and SNS backends. Every /v1 endpoint shows personal data, so it needs a bearer token
(MODQ_NOTIFIER_API_TOKENS); /healthz, /readyz and /metrics stay open for probes."""
from __future__ import annotations

import hmac

from flask import request
from flask.views import MethodView

from shared.web import ApiBlueprint, current_db, json_error
from services.notifier import config, service
from services.notifier.schemas import NoticeListSchema, NoticeQuerySchema, PeriodSchema, StatsSchema

blp = ApiBlueprint("notices", __name__, url_prefix="/v1", description="Notices and their delivery")


@blp.before_request
def _require_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token and _known_token(token.strip()):
        return None
    response = json_error(401, "a valid bearer token is required (Authorization: Bearer …)")
    response.headers["WWW-Authenticate"] = 'Bearer realm="modq-notifier"'
    return response


def _known_token(token: str) -> bool:
    # compare_digest against every token so the time taken does not reveal a prefix match
    return any([hmac.compare_digest(token.encode(), known.encode()) for known in config.api_tokens()])


@blp.route("/notices")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticeListSchema)
    def get(self, args):
        """Notices (newest first) and the exceptions recorded instead of a notice."""
        return service.find_notices(current_db(), **args)


@blp.route("/notices/stats")
class NoticeStats(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    @blp.response(200, StatsSchema)
    def get(self, args):
        """Counts for the §28 report over [from, to): notices by type, basis, measure and §25(2)
        item; exceptions by type and reason; held notices."""
        return service.notice_statistics(current_db(), args["from_"], args["to"])
