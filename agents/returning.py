"""Back to what the agent was doing: "Start a page" asks a newcomer to sign
up, and after the confirmation email (or a later login) they land on the page
form they wanted, not on their account page.

The wanted path (``next``, a local path only) is kept in the session at
sign-up and signed into the confirmation link, so that a link opened in
another browser (a phone's mail app) still goes there. Sign-up itself lands
on "check your email": following ``next`` at once would only meet the login
wall of a page that needs an account confirmed first.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_security import current_user
from flask_security.signals import user_confirmed
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_KEY = "after_sign_up"
SALT = "relais-after-sign-up"


def is_local_path(target: str) -> bool:
    """A path on this site only: never an open redirect. Browsers read a
    backslash as a slash and drop tabs and newlines, so those are refused too."""
    if not target.startswith("/") or "\\" in target or not target.isprintable():
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not target.startswith("//")


def wanted_path(target: str | None) -> str | None:
    """``target`` when it is a local path worth coming back to: never an
    account screen (logging out, signing up again)."""
    target = (target or "").strip()
    if not target or len(target) > 500 or not is_local_path(target):
        return None
    prefix = current_app.config.get("SECURITY_URL_PREFIX") or "/account"
    if target == prefix or target.startswith(prefix.rstrip("/") + "/"):
        return None
    return target


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _signed_arg() -> str | None:
    """The path signed into the confirmation link, if it is ours and not expired."""
    raw = request.args.get("next", "")
    if not raw:
        return None
    max_age = current_app.config["SECURITY_CONFIRM_EMAIL_WITHIN"].total_seconds()
    try:
        return wanted_path(_serializer().loads(raw, max_age=int(max_age)))
    except (BadSignature, TypeError):
        return None


def _add_to_confirmation_link(endpoint: str, values: dict) -> None:
    # Flask asks every url_for: only the confirmation link built in this
    # request (by Flask-Security's mail) carries the path.
    if endpoint.rpartition(".")[2] != "confirm_email":
        return
    path = g.get("relais_wanted_path")
    if path and "next" not in values:
        values["next"] = _serializer().dumps(path)


def _just_confirmed(_app, **_extra) -> None:
    g.relais_just_confirmed = True


def _is_redirect(response) -> bool:
    return getattr(response, "status_code", 200) in (301, 302, 303) and not request.is_json


def after_register(register):
    @functools.wraps(register)
    def view(*args, **kwargs):
        path = wanted_path(request.form.get("next") or request.args.get("next"))
        g.relais_wanted_path = path
        response = register(*args, **kwargs)
        if request.method == "POST" and _is_redirect(response):
            # Signed up (or, said alike, the address has an account): the next
            # step is the email, not the page that needs a confirmed account.
            if path:
                session[SESSION_KEY] = path
            response = redirect(url_for("agents.check_email"))
        return response

    return view


def after_confirm(confirm):
    @functools.wraps(confirm)
    def view(*args, **kwargs):
        path = _signed_arg() or wanted_path(session.get(SESSION_KEY))
        g.relais_just_confirmed = False
        response = confirm(*args, **kwargs)
        if g.relais_just_confirmed and current_user.is_authenticated:
            session.pop(SESSION_KEY, None)
            if path and _is_redirect(response):
                response = redirect(path)
        return response

    return view


def after_login(login):
    @functools.wraps(login)
    def view(*args, **kwargs):
        remembered = wanted_path(session.get(SESSION_KEY))
        asked = request.form.get("next") or request.args.get("next")
        response = login(*args, **kwargs)
        if request.method == "POST" and current_user.is_authenticated and _is_redirect(response):
            session.pop(SESSION_KEY, None)
            if remembered and not asked:
                response = redirect(remembered)
        return response

    return view


def after_send_confirmation(send):
    @functools.wraps(send)
    def view(*args, **kwargs):
        # A new link sent from the same browser goes where the first one went.
        g.relais_wanted_path = wanted_path(session.get(SESSION_KEY))
        return send(*args, **kwargs)

    return view


def init_app(app: Flask) -> None:
    name = app.config.get("SECURITY_BLUEPRINT_NAME", "security")
    for endpoint, wrap in (
        ("register", after_register),
        ("confirm_email", after_confirm),
        ("login", after_login),
        ("send_confirmation", after_send_confirmation),
    ):
        key = f"{name}.{endpoint}"
        app.view_functions[key] = wrap(app.view_functions[key])
    app.url_default_functions.setdefault(None, []).append(_add_to_confirmation_link)
    # blinker keeps one receiver per function and process: connecting again is a no-op.
    user_confirmed.connect(_just_confirmed)
