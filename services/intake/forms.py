"""The public §22 deletion-request form (削除申出フォーム): fields, Japanese validation messages,
and the translation of a filled-in form into the same submission the API accepts."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from urllib.parse import urldefrag, urlparse

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Regexp, ValidationError

from shared import clock
from shared.pseudonyms import pseudonym
from shared.settings import env
from services.intake.schemas import MAX_REASON

FORM_CLIENT_ID = "web-form"
UNKNOWN_AUTHOR = "unknown"
MAX_POST_ID = 200

RIGHTS = [
    ("名誉権", "名誉権 — うそや悪口で、社会的な評価を下げられた"),
    ("プライバシー", "プライバシー — 住所・電話番号・病歴など、知られたくない情報をさらされた"),
    ("肖像権", "肖像権 — 自分の顔や姿の写真・動画を、無断で公開された"),
    ("著作権", "著作権 — 自分が作った文章・写真・イラストなどを、無断で使われた"),
    ("その他", "その他"),
]
ROLES = [
    ("self", "権利を侵害された本人です"),
    ("agent", "本人の代理人です（弁護士、未成年者の親、会社の担当者など）"),
    ("other", "どちらでもありません（見かけた投稿を知らせたい）"),
]
REQUEST_TYPES = [
    ("ordinary", "通常の申出（ほとんどの方はこちらです）"),
    ("election", "選挙の候補者・政党などについての選挙運動期間中の投稿で、候補者・政党など本人からの申出"),
    ("av_performer", "出演した性的な映像作品（いわゆるAV）についての、出演者本人からの申出"),
]


def _required(what: str) -> InputRequired:
    return InputRequired(message=f"{what}を入力してください。")


def _chosen(what: str, choices) -> list:
    return [InputRequired(message=f"{what}を選んでください。"),
            AnyOf([value for value, _ in choices], message=f"{what}を一覧から選んでください。")]


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=f"{limit}文字以内で入力してください。")


def _plain_text(form, field) -> None:
    """The same text rules as the API: no NUL characters (the browser never sends them, a
    script might)."""
    if field.data and "\x00" in field.data:
        raise ValidationError("使用できない文字が含まれています。")


def _http_url(form, field) -> None:
    value = (field.data or "").strip()
    try:
        parsed = urlparse(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
        raise ValidationError("http:// または https:// で始まる投稿のURLを入力してください。")


def post_hosts() -> tuple[str, ...]:
    """The operator's post hosts (MODQ_INTAKE_POST_HOSTS, comma-separated; ``.example.jp`` also
    allows its subdomains)."""
    raw = env("MODQ_INTAKE_POST_HOSTS", "sns.example.jp")
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def is_operator_host(url: str) -> bool:
    try:
        host = (urlparse(url.strip()).hostname or "").lower()
    except ValueError:
        return False
    return any(host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])) for h in post_hosts())


def _on_operator_host(form, field) -> None:
    if field.data and not field.errors and not is_operator_host(field.data):
        raise ValidationError(f"このサービスの投稿のURL（{', '.join(h.lstrip('.') for h in post_hosts())}）を入力してください。")


class DeletionRequestForm(FlaskForm):
    class Meta:
        locales = ["ja"]  # wtforms' own messages, where ours do not apply, in Japanese

    # The post is named by its URL only: its content, author and time come from the SNS (a
    # signed report or its look-up), never from what an anonymous requester types.
    post_url = StringField("投稿のURL", validators=[_required("投稿のURL"), _at_most(2000), _http_url,
                                                   _on_operator_host, _plain_text])
    right = RadioField("侵害された権利", choices=RIGHTS, validate_choice=False, validators=_chosen("侵害された権利", RIGHTS))
    # No Optional() on fields whose need depends on another answer: it would skip the
    # validate_<field> methods below.
    right_other = StringField("「その他」の場合、どんな権利か", validators=[_at_most(50), _plain_text])
    reason = TextAreaField("削除を求める理由", validators=[_required("削除を求める理由"), _at_most(MAX_REASON), _plain_text])
    role = RadioField("あなたと、この件との関係", choices=ROLES, validate_choice=False,
                      validators=_chosen("この件との関係", ROLES))
    agent_authority = TextAreaField("代理人の場合、代理の根拠", validators=[_at_most(1000), _plain_text])
    name = StringField("お名前", validators=[_required("お名前"), _at_most(100), _plain_text])
    contact = StringField("ご連絡先（メールアドレスなど）", validators=[_required("ご連絡先"), _at_most(500), _plain_text])
    request_type = RadioField("申出の種類", choices=REQUEST_TYPES, default="ordinary", validate_choice=False,
                              validators=_chosen("申出の種類", REQUEST_TYPES))
    # A fresh value per form shown: sending the same form twice (double click, reload) gives
    # the same receipt instead of a second request.
    submission_key = HiddenField(validators=[InputRequired(message="もう一度お試しください。"),
                                             Regexp(r"^[0-9a-f]{32}$", message="もう一度お試しください。")])

    def validate_right_other(self, field) -> None:
        if self.right.data == "その他" and not (field.data or "").strip():
            raise ValidationError("「その他」を選んだ場合は、どんな権利かを入力してください。")

    def validate_agent_authority(self, field) -> None:
        if self.role.data == "agent" and not (field.data or "").strip():
            raise ValidationError("代理人の場合は、代理の根拠（例：弁護士として委任を受けている、親権者である）を入力してください。")



def new_submission_key() -> str:
    return uuid.uuid4().hex


def post_reference(url: str) -> tuple[str, str]:
    """(post id, author id) for the case, from what the requester can know.

    Reports are grouped per post id, so a form request should land in the same case as the
    SNS's own reports on that post. The SNS's post URLs usually contain the id:
    ``MODQ_INTAKE_POST_URL_PATTERN`` is a regular expression with a ``post_id`` group (and an
    optional ``author`` group), e.g. ``^https://sns\\.example\\.jp/(?P<author>[^/]+)/posts/(?P<post_id>\\w+)``.
    Without a match the URL itself (fragment removed) is the id, and the author is
    ``unknown`` until a moderator looks at the post.
    """
    url = urldefrag(url.strip()).url
    pattern = env("MODQ_INTAKE_POST_URL_PATTERN")
    match = re.match(pattern, url) if pattern else None
    author = UNKNOWN_AUTHOR
    if match and match.groupdict().get("author"):
        author = match.group("author")[:MAX_POST_ID]
    if match and match.groupdict().get("post_id"):
        return match.group("post_id")[:MAX_POST_ID], author
    if len(url) <= MAX_POST_ID:
        return url, author
    # Ids are at most 200 characters; a longer URL is identified by its hash.
    return "url-sha256:" + hashlib.sha256(url.encode("utf-8")).hexdigest(), author


def requester_id(contact: str) -> str:
    """A stable id per contact address, so a second request by the same person on the same
    post is recognised as a repeat (§25(1) proviso). Keyed (MODQ_PSEUDONYM_KEY) so that the
    address neither becomes a key in indexes and logs nor can be found by hashing guesses."""
    normalised = contact.strip().lower()
    return "web-form:" + pseudonym("requester", normalised, 32)


def submission_from_form(form: DeletionRequestForm, received_at: dt.datetime) -> dict:
    """The API's submission body for a filled-in form (validated again by the API's schema)."""
    post_id, author_id = post_reference(form.post_url.data)
    right = form.right.data
    if right == "その他":
        right = f"その他（{form.right_other.data.strip()}）"
    role = form.role.data
    return {
        "kind": "deletion_request",
        "post": {
            "id": post_id,
            "url": form.post_url.data.strip(),
            "author_id": author_id,
            # No content from the requester: the case takes the SNS's copy of the post when its
            # signed report arrives (services/decision/cases/projection.py, on_report_received).
            "text": "",
            # The receipt time: the post existed then.
            "posted_at": received_at.astimezone(clock.legal_zone()).isoformat(timespec="seconds"),
            "media": [],
        },
        "reporter": {
            "id": requester_id(form.contact.data),
            "name": form.name.data.strip(),
            "contact": form.contact.data.strip(),
            "locale": "ja",
            "is_rights_holder": role == "self",
            "agent_authority": form.agent_authority.data.strip() if role == "agent" else None,
        },
        "reason": form.reason.data.strip(),
        "right_infringed": right,
        "request_type": form.request_type.data,
    }


# Where the API schema's field paths appear on the form, to show a schema error next to its field.
SCHEMA_FIELD_TO_FORM = {
    ("post", "url"): "post_url", ("post", "id"): "post_url", ("reason",): "reason", ("right_infringed",): "right_other",
    ("reporter", "name"): "name", ("reporter", "contact"): "contact",
    ("reporter", "agent_authority"): "agent_authority", ("request_type",): "request_type",
}
