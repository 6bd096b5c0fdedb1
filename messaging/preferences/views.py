"""Unsubscribe from email without logging in: ``/u/<token>``, the link in
every outbox email's footer and List-Unsubscribe header.

GET only shows a button (mail scanners open links); POST opts out, including
the RFC 8058 one-click POST mail clients send on their own (no CSRF token
there: the signed token is the proof).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from extensions import csrf
from messaging.preferences.services import (
    address_for_token,
    is_address_opted_out,
    opt_out_address,
    opt_out_of_email,
    preference_for_token,
)

bp = Blueprint("unsubscribe", __name__)


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    pref = preference_for_token(token)
    if pref is None:
        message = _(
            "This unsubscribe link is not valid any more. Use the link in a more recent "
            "email, or change your choices on your account page."
        )
        return render_template("error.html", code=404, message=message), 404
    if request.method == "POST":
        opt_out_of_email(pref)
        return render_template("messaging/unsubscribed.html")
    return render_template(
        "messaging/unsubscribe.html",
        action=url_for("unsubscribe.unsubscribe", token=token),
        is_opted_out=pref.is_email_opted_out,
    )


@bp.route("/u/a/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe_address(token: str):
    """The same for an address with no account (a donor who asked for field news)."""
    hashed = address_for_token(token)
    if hashed is None:
        message = _("This unsubscribe link is not valid. Use the link in a more recent email.")
        return render_template("error.html", code=404, message=message), 404
    if request.method == "POST":
        opt_out_address(hashed)
        return render_template("messaging/unsubscribed.html")
    return render_template(
        "messaging/unsubscribe.html",
        action=url_for("unsubscribe.unsubscribe_address", token=token),
        is_opted_out=is_address_opted_out(hashed=hashed),
    )
