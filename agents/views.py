"""The agent's own account: profile, tokens, language, leaving."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_security import auth_required, current_user

bp = Blueprint("agents", __name__)


@bp.get("/lang/<code>")
def set_locale(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    target = request.args.get("next", "")
    # Only local paths: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("campaigns.home")
    return redirect(target)


@bp.get("/me")
@auth_required()
def account():
    from agents.services import list_tokens
    from campaigns.services import editable_pages

    return render_template(
        "agents/account.html", pages=editable_pages(current_user), tokens=list_tokens(current_user)
    )
