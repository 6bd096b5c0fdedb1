"""The site operator's page (``/operator/stripe``): what no organisation owns.

Stripe events nobody could record and no organisation holds — an event of a
connected account no organisation has connected, a payment naming nothing
known — and where each organisation's Stripe account stands. For agents with
the site-wide operator role only (``relais agents operator EMAIL``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_security import auth_required, current_user
from sqlalchemy import select

from agents.services import is_operator
from campaigns.dashboard import attention
from campaigns.giving import connect
from campaigns.organisations.models import Organisation
from extensions import db

bp = Blueprint("operator", __name__, url_prefix="/operator")


@bp.get("/stripe")
@auth_required()
def stripe_events():
    if not is_operator(current_user):
        abort(403)
    organisations = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "staff/operator.html",
        anomalies=attention.anomalies(None, limit=100),
        organisations=[(org, connect.state_of(org)) for org in organisations],
    )
