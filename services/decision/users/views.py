"""Signing in and out of the web view."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session as http_session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from services.decision.pages import current_db
from services.decision.users import signin
from services.decision.users.auth import SessionUser, sign_in_form

bp = Blueprint("users", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = sign_in_form(request.form.get("email", ""), request.form.get("password", ""))
        except signin.Throttled as exc:
            message = _("サインインの失敗が続いたため、しばらく受け付けません。%(s)s 秒後にもう一度お試しください。",
                        s=exc.retry_after)
            response = current_app.make_response((render_template("login.html", error=message), 429))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            error = _("メールアドレスまたはパスワードが違います。")
        else:
            # A new session at each sign-in: nothing from the cookie before it carries over.
            http_session.clear()
            login_user(SessionUser(user, signin.open_web_session(current_db(), user)))
            return redirect(signin.safe_next(request.args.get("next")) or url_for("cases.queue_page"))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    signin.revoke_web_session(current_db(), current_user.session_token)  # ends it on the server too
    logout_user()
    http_session.clear()
    return redirect(url_for("users.login"))
